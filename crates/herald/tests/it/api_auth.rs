//! Keys and scopes: 401 vs 403 vs 404, hashing, revocation, bootstrap.

use serde_json::json;

use crate::support::*;
use axum::http::Method;

async fn key(h: &Herald, scope: &str, app_id: Option<&str>) -> (String, String) {
    let mut body = json!({"name": "k", "scope": scope});
    if let Some(a) = app_id {
        body["app_id"] = json!(a);
    }
    let (s, k) = h.post("/v1/keys", body).await;
    assert_eq!(s, 201, "{k}");
    (
        k["id"].as_str().unwrap().into(),
        k["key"].as_str().unwrap().into(),
    )
}

on_backends!(both: missing_unknown_and_malformed_keys_are_401);
async fn missing_unknown_and_malformed_keys_are_401() {
    let h = Herald::start(&[]).await;
    let (s, b) = h.call(Method::GET, "/v1/apps", None, None).await;
    assert_error(s, &b, 401, "authentication");
    let (s, b) = h
        .call(
            Method::GET,
            "/v1/apps",
            Some("hrd_doesnotexist0000000000000000000000000000"),
            None,
        )
        .await;
    assert_error(s, &b, 401, "authentication");
    let r = h
        .http
        .get(format!("{}/v1/apps", h.url))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

on_backends!(both: scopes_403_and_app_scoped_404);
async fn scopes_403_and_app_scoped_404() {
    let h = Herald::start(&[]).await;
    let a = h.app().await;
    let b = h.app().await;
    let (_, producer) = key(&h, "producer", None).await;
    // Producers send and read events but manage nothing.
    let (s, v) = h
        .call(
            Method::POST,
            &format!("/v1/apps/{a}/events"),
            Some(&producer),
            Some(json!({"type":"x.y","payload":{}})),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let (s, _) = h
        .call(
            Method::GET,
            &format!("/v1/apps/{a}/events"),
            Some(&producer),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = h
        .call(
            Method::POST,
            "/v1/apps",
            Some(&producer),
            Some(json!({"name":"n"})),
        )
        .await;
    assert_error(s, &v, 403, "permission");
    let (s, v) = h
        .call(
            Method::POST,
            "/v1/keys",
            Some(&producer),
            Some(json!({"name":"n","scope":"admin"})),
        )
        .await;
    assert_error(s, &v, 403, "permission");
    let (s, v) = h
        .call(
            Method::POST,
            &format!("/v1/apps/{a}/endpoints"),
            Some(&producer),
            Some(json!({"url":"http://127.0.0.1:9/x"})),
        )
        .await;
    assert_error(s, &v, 403, "permission");

    // An app-scoped key sees only its application: others are 404, not 403.
    let ev_b = h.send(&b, "x.y", json!({})).await;
    let (_, scoped) = key(&h, "admin", Some(&a)).await;
    let (s, _) = h
        .call(Method::GET, &format!("/v1/apps/{a}"), Some(&scoped), None)
        .await;
    assert_eq!(s, 200);
    let (s, v) = h
        .call(Method::GET, &format!("/v1/apps/{b}"), Some(&scoped), None)
        .await;
    assert_error(s, &v, 404, "not_found");
    let (s, v) = h
        .call(
            Method::GET,
            &format!("/v1/apps/{b}/events/{}", ev_b["id"].as_str().unwrap()),
            Some(&scoped),
            None,
        )
        .await;
    assert_error(s, &v, 404, "not_found");
    let (s, v) = h
        .call(
            Method::GET,
            &format!("/v1/apps/{a}/events/{}", ev_b["id"].as_str().unwrap()),
            Some(&scoped),
            None,
        )
        .await;
    assert_error(s, &v, 404, "not_found");
    let (s, v) = h.call(Method::GET, "/v1/apps", Some(&scoped), None).await;
    assert_eq!(s, 200);
    let ids: Vec<_> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, vec![a.clone()]);
    let (s, v) = h
        .call(
            Method::POST,
            "/v1/keys",
            Some(&scoped),
            Some(json!({"name":"n","scope":"admin"})),
        )
        .await;
    assert_error(s, &v, 403, "permission");
}

on_backends!(both: keys_are_stored_hashed_shown_once_and_revoked_at_once);
async fn keys_are_stored_hashed_shown_once_and_revoked_at_once() {
    let h = Herald::start(&[]).await;
    let app = h.app().await;
    let (id, secret) = key(&h, "producer", None).await;
    assert!(secret.starts_with("hrd_") && secret.len() >= 47, "{secret}");
    let (_, list) = h.get("/v1/keys").await;
    assert!(list["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["id"] == id.as_str()));
    assert!(
        !list.to_string().contains(&secret),
        "listing must not reveal secrets"
    );
    // Neither the key nor the admin key is stored.
    let hay = match &h.db {
        Some(db) => db.sql("SELECT string_agg(api_keys::text, ' ') FROM api_keys"),
        None => {
            let mut db = std::fs::read(h.db_path()).unwrap();
            if let Ok(wal) = std::fs::read(h.db_path().with_extension("db-wal")) {
                db.extend(wal);
            }
            String::from_utf8_lossy(&db).into_owned()
        }
    };
    assert!(hay.contains("key_"), "the check reads the keys table");
    assert!(
        !hay.contains(&secret) && !hay.contains(ADMIN_KEY),
        "a key secret is stored in clear"
    );

    let (s, _) = h
        .call(
            Method::GET,
            &format!("/v1/apps/{app}/events"),
            Some(&secret),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = h.delete(&format!("/v1/keys/{id}")).await;
    assert_eq!(s, 204);
    let (s, v) = h
        .call(
            Method::GET,
            &format!("/v1/apps/{app}/events"),
            Some(&secret),
            None,
        )
        .await;
    assert_error(s, &v, 401, "authentication");
    let (s, v) = h.delete(&format!("/v1/keys/{id}")).await;
    assert_error(s, &v, 404, "not_found");
    let (s, v) = h.post("/v1/keys", json!({"name":"k","scope":"root"})).await;
    assert_error(s, &v, 400, "invalid_request");
    assert_eq!(v["error"]["param"], "scope");
}

on_backends!(both: bootstrap_key_is_printed_once_when_not_given);
async fn bootstrap_key_is_printed_once_when_not_given() {
    let mut h = Herald::start_process(&[("HERALD_ADMIN_KEY", "")]).await;
    let out = std::fs::read_to_string(&h.stdout_path).unwrap();
    let printed = out
        .split_whitespace()
        .find(|w| w.starts_with("hrd_"))
        .unwrap_or_else(|| panic!("no key printed: {out}"))
        .to_string();
    let (s, _) = h.call(Method::GET, "/v1/apps", Some(&printed), None).await;
    assert_eq!(s, 200);
    h.kill();
    h.spawn().await;
    let out = std::fs::read_to_string(&h.stdout_path).unwrap();
    assert!(!out.contains("hrd_"), "printed again on restart: {out}");
    let (s, _) = h.call(Method::GET, "/v1/apps", Some(&printed), None).await;
    assert_eq!(s, 200, "the bootstrap key survives a restart");
}

on_backends!(both: the_last_admin_key_stays_and_a_revoked_bootstrap_key_stays_revoked);
async fn the_last_admin_key_stays_and_a_revoked_bootstrap_key_stays_revoked() {
    let mut h = Herald::start_process(&[]).await;
    let (_, keys) = h.get("/v1/keys").await;
    let bootstrap = keys["data"][0]["id"].as_str().unwrap().to_string();
    // The only admin key: revoking it would lock the operator out.
    let (s, v) = h.delete(&format!("/v1/keys/{bootstrap}")).await;
    assert_error(s, &v, 409, "conflict");
    assert_eq!(v["error"]["code"], "last_admin_key");
    // An app-scoped admin key does not count as a way back in.
    let app = h.app().await;
    key(&h, "admin", Some(&app)).await;
    let (s, _) = h.delete(&format!("/v1/keys/{bootstrap}")).await;
    assert_eq!(s, 409);
    let (second, second_secret) = key(&h, "admin", None).await;
    let (s, _) = h.delete(&format!("/v1/keys/{bootstrap}")).await;
    assert_eq!(s, 204);
    let (s, _) = h.call(Method::GET, "/v1/apps", Some(ADMIN_KEY), None).await;
    assert_eq!(s, 401, "revoked at once");
    // Restarted with the same HERALD_ADMIN_KEY: the store has keys, so it is ignored.
    h.kill();
    h.spawn().await;
    let (s, _) = h.call(Method::GET, "/v1/apps", Some(ADMIN_KEY), None).await;
    assert_eq!(
        s, 401,
        "a revoked bootstrap key must stay revoked across restarts"
    );
    let (s, _) = h
        .call(Method::GET, "/v1/apps", Some(&second_secret), None)
        .await;
    assert_eq!(s, 200);
    assert!(h.stderr().contains("is ignored"), "{}", h.stderr());
    let (s, v) = h
        .call(
            Method::DELETE,
            &format!("/v1/keys/{second}"),
            Some(&second_secret),
            None,
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("last_admin_key"))
    );
}

on_backends!(both: endpoint_credentials_are_shown_to_admin_keys_only);
/// `security.md`, what each credential may read: header values to admin keys only, no
/// signing secret for read-only portal sessions, no endpoints at all for producer keys.
async fn endpoint_credentials_are_shown_to_admin_keys_only() {
    let h = Herald::start(&[]).await;
    let app = h.app().await;
    let ep = h
        .endpoint(
            &app,
            "http://127.0.0.1:9/x",
            json!({"headers": {"Authorization": "Bearer s3cr3t-value", "X-Team": "blue"}}),
        )
        .await;
    let ep = ep["id"].as_str().unwrap().to_string();
    let path = format!("/v1/apps/{app}/endpoints/{ep}");
    let (_, seen) = h.get(&path).await;
    assert_eq!(seen["headers"]["Authorization"], "Bearer s3cr3t-value");
    let session = |read_only: bool| {
        let h = &h;
        let app = app.clone();
        async move {
            let (s, p) = h
                .post(
                    &format!("/v1/apps/{app}/portal-sessions"),
                    json!({"read_only": read_only}),
                )
                .await;
            assert_eq!(s, 201, "{p}");
            p["token"].as_str().unwrap().to_string()
        }
    };
    for read_only in [true, false] {
        let token = session(read_only).await;
        let (s, v) = h.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["headers"]["Authorization"], "***", "{v}");
        assert_eq!(v["headers"]["X-Team"], "***");
        let list = format!("/v1/apps/{app}/endpoints");
        let (_, v) = h.call(Method::GET, &list, Some(&token), None).await;
        assert!(!v.to_string().contains("s3cr3t"), "{v}");
        let (s, v) = h
            .call(Method::GET, &format!("{path}/secret"), Some(&token), None)
            .await;
        if read_only {
            assert_error(s, &v, 403, "permission");
            assert_eq!(v["error"]["code"], "read_only");
        } else {
            assert_eq!(s, 200, "{v}");
        }
    }
    let (_, producer) = key(&h, "producer", None).await;
    for p in [
        path.clone(),
        format!("/v1/apps/{app}/endpoints"),
        format!("{path}/stats"),
    ] {
        let (s, v) = h.call(Method::GET, &p, Some(&producer), None).await;
        assert_error(s, &v, 403, "permission");
    }
}

on_backends!(both: masked_header_values_sent_back_keep_their_value);
/// A writable portal session sees header values as `***`; sending the headers back as it
/// saw them (with a change beside) keeps the stored credentials instead of storing `***`.
async fn masked_header_values_sent_back_keep_their_value() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let ep = h
        .endpoint(
            &app,
            &rx.url("/masked"),
            json!({"headers": {"Authorization": "Bearer s3cr3t-value"}}),
        )
        .await;
    let path = format!("/v1/apps/{app}/endpoints/{}", ep["id"].as_str().unwrap());
    let (s, p) = h
        .post(&format!("/v1/apps/{app}/portal-sessions"), json!({}))
        .await;
    assert_eq!(s, 201, "{p}");
    let token = p["token"].as_str().unwrap();
    let (_, seen) = h.call(Method::GET, &path, Some(token), None).await;
    let mut headers = seen["headers"].clone();
    assert_eq!(headers["Authorization"], "***");
    headers["X-Team"] = json!("blue");
    let (s, v) = h
        .call(
            Method::PATCH,
            &path,
            Some(token),
            Some(json!({"headers": headers})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, stored) = h.get(&path).await;
    assert_eq!(stored["headers"]["Authorization"], "Bearer s3cr3t-value");
    assert_eq!(stored["headers"]["X-Team"], "blue");
    h.send(&app, "a.b", json!({})).await;
    let got = rx
        .wait("/masked", 1, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(got[0].header("authorization"), "Bearer s3cr3t-value");
    // `***` for a header the endpoint does not have is refused, and changes nothing.
    let (s, v) = h
        .call(
            Method::PATCH,
            &path,
            Some(token),
            Some(json!({"headers": {"X-New": "***"}})),
        )
        .await;
    assert_error(s, &v, 400, "invalid_request");
    let (_, stored) = h.get(&path).await;
    assert_eq!(stored["headers"]["X-Team"], "blue");
}

/// `herald recovery-key` with `args`: the key it printed.
fn recovery_key(args: &[String]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("recovery-key")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("hrd_"), "{key}");
    key
}

on_backends!(both: a_recovery_key_opens_a_running_server);
async fn a_recovery_key_opens_a_running_server() {
    let h = Herald::start(&[]).await;
    let key = recovery_key(&h.store_args());
    // The server reads keys it does not know from the store: accepted at once (the contract
    // allows 5 s).
    let (s, keys) = h.call(Method::GET, "/v1/keys", Some(&key), None).await;
    assert_eq!(s, 200, "{keys}");
    let names: Vec<&str> = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"recovery admin"), "{names:?}");
    // An admin key: it may create keys, and revoke the bootstrap key it is no longer the
    // last of.
    let (s, created) = h
        .call(
            Method::POST,
            "/v1/keys",
            Some(&key),
            Some(json!({"name": "again", "scope": "admin"})),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let bootstrap = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "bootstrap admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, b) = h
        .call(
            Method::DELETE,
            &format!("/v1/keys/{bootstrap}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(s, 204, "{b}");
    let (s, _) = h.call(Method::GET, "/v1/apps", Some(ADMIN_KEY), None).await;
    assert_eq!(s, 401, "the revoked bootstrap key is refused");
}

/// With no server running: on its store, and on a data directory that holds no store yet
/// (created with the key; a server started on it then takes no bootstrap key).
#[tokio::test]
async fn a_recovery_key_works_with_no_server_running() {
    let mut h = Herald::start_process(&[]).await;
    h.terminate().await;
    let key = recovery_key(&h.store_args());
    h.spawn().await;
    let (s, _) = h.call(Method::GET, "/v1/apps", Some(&key), None).await;
    assert_eq!(s, 200);
    h.terminate().await;

    std::fs::remove_dir_all(h.dir.join("data")).unwrap();
    let key = recovery_key(&h.store_args());
    h.spawn().await;
    let (s, _) = h.call(Method::GET, "/v1/apps", Some(&key), None).await;
    assert_eq!(s, 200);
    let (s, _) = h.call(Method::GET, "/v1/apps", Some(ADMIN_KEY), None).await;
    assert_eq!(s, 401, "HERALD_ADMIN_KEY is ignored: the store held a key");
}
