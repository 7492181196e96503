//! Applications, event types and endpoints: every field, validation and error rule.

use axum::http::Method;
use serde_json::{json, Value};

use crate::support::*;

on_backends!(both: apps_by_uid_patch_delete_and_errors);
async fn apps_by_uid_patch_delete_and_errors() {
    let h = Herald::start(&[]).await;
    let (s, a) = h
        .post(
            "/v1/apps",
            json!({"name":"Acme","uid":"acme.x_Y-1","metadata":{"k":"v"}}),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap();
    assert!(id.starts_with("app_"));
    for ts in [&a["created_at"], &a["updated_at"]] {
        let t = ts.as_str().unwrap();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[19] == b'.', "{t}");
    }
    let (s, by_uid) = h.get("/v1/apps/acme.x_Y-1").await;
    assert_eq!((s, by_uid["id"].as_str()), (200, Some(id)));
    assert_eq!(by_uid["metadata"], json!({"k":"v"}));
    let (s, p) = h
        .patch(
            "/v1/apps/acme.x_Y-1",
            json!({"name":"Renamed","uid":"acme2"}),
        )
        .await;
    assert_eq!((s, p["name"].as_str()), (200, Some("Renamed")));
    let (s, _) = h.get("/v1/apps/acme2").await;
    assert_eq!(s, 200);
    // The old uid is gone at once (the SQLite store keeps looked-up apps in memory).
    let (s, v) = h.get("/v1/apps/acme.x_Y-1").await;
    assert_error(s, &v, 404, "not_found");
    let (s, v) = h
        .post("/v1/apps", json!({"name":"dup","uid":"acme2"}))
        .await;
    assert_error(s, &v, 409, "conflict");
    for bad in ["has space", "slash/no", &"x".repeat(65), ""] {
        let (s, v) = h.post("/v1/apps", json!({"name":"x","uid":bad})).await;
        assert_error(s, &v, 400, "invalid_request");
        assert_eq!(v["error"]["param"], "uid");
    }
    let (s, v) = h
        .post("/v1/apps", json!({"name":"x","colour":"blue"}))
        .await;
    assert_error(s, &v, 400, "invalid_request");
    assert_eq!(v["error"]["param"], "colour");
    let (s, v) = h.post("/v1/apps", json!({"uid":"nameless"})).await;
    assert_error(s, &v, 400, "invalid_request");
    assert_eq!(v["error"]["param"], "name");
    let (s, v) = h.post("/v1/apps", json!({"name": 5})).await;
    assert_error(s, &v, 400, "invalid_request");
    assert_eq!(v["error"]["param"], "name");
    let (s, _) = h.get(&format!("/v1/apps/{id}")).await;
    assert_eq!(s, 200);
    let (s, _) = h.delete("/v1/apps/acme2").await;
    assert_eq!(s, 204);
    let (s, v) = h.get(&format!("/v1/apps/{id}")).await;
    assert_error(s, &v, 404, "not_found");
    let (s, v) = h.get("/v1/apps/acme2").await;
    assert_error(s, &v, 404, "not_found");
}

on_backends!(both: pagination_is_newest_first_stable_and_bounded);
async fn pagination_is_newest_first_stable_and_bounded() {
    let h = Herald::start(&[]).await;
    let mut created = Vec::new();
    for _ in 0..7 {
        created.push(h.app().await);
    }
    let mut sorted = created.clone();
    sorted.sort();
    assert_eq!(created, sorted, "ids sort by creation");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("/v1/apps?limit=3&cursor={c}"),
            None => "/v1/apps?limit=3".to_string(),
        };
        let (s, page) = h.get(&q).await;
        assert_eq!(s, 200, "{page}");
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 3);
        seen.extend(data.iter().map(|a| a["id"].as_str().unwrap().to_string()));
        pages += 1;
        if pages == 1 {
            h.app().await; // a concurrent insert must not shift the next pages
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    created.reverse();
    assert_eq!(seen, created);
    for bad in ["limit=0", "limit=251", "limit=x", "cursor=garbage"] {
        let (s, v) = h.get(&format!("/v1/apps?{bad}")).await;
        assert_error(s, &v, 400, "invalid_request");
    }
    let (s, v) = h.get("/v1/apps?limit=250").await;
    assert_eq!(s, 200, "{v}");
}

on_backends!(both: event_types_schema_archive_names);
async fn event_types_schema_archive_names() {
    let h = Herald::start(&[]).await;
    let app = h.app().await;
    let schema = json!({"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
        "required":["amount"],"properties":{"amount":{"type":"number"},"lines":{"type":"array","items":{"type":"integer"}}}});
    // Unregistered, any payload goes (and the server may remember that there is no such
    // type); registering it must take effect at once.
    let (s, v) = h
        .post(
            &format!("/v1/apps/{app}/events"),
            json!({"type":"payment.made","payload":{"amount":"ten"}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let (s, t) = h
        .post(
            "/v1/event-types",
            json!({"name":"payment.made","description":"d","schema":schema}),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let (_, got) = h.get("/v1/event-types/payment.made").await;
    assert_eq!(got["schema"], schema);
    let (s, v) = h
        .post(
            &format!("/v1/apps/{app}/events"),
            json!({"type":"payment.made","payload":{"amount":"ten"}}),
        )
        .await;
    assert_error(s, &v, 400, "invalid_request");
    assert_eq!(
        (v["error"]["code"].as_str(), v["error"]["param"].as_str()),
        (Some("schema_violation"), Some("payload.amount"))
    );
    let (_, v) = h
        .post(
            &format!("/v1/apps/{app}/events"),
            json!({"type":"payment.made","payload":{}}),
        )
        .await;
    assert_eq!(v["error"]["param"], "payload.amount");
    let (_, v) = h
        .post(
            &format!("/v1/apps/{app}/events"),
            json!({"type":"payment.made","payload":{"amount":1,"lines":[1,"x"]}}),
        )
        .await;
    assert_eq!(v["error"]["param"], "payload.lines.1");
    h.send(&app, "payment.made", json!({"amount": 12.5})).await;

    // Changing the schema takes effect at once.
    let (s, _) = h
        .patch(
            "/v1/event-types/payment.made",
            json!({"schema":{"type":"object","required":["currency"]}}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = h
        .post(
            &format!("/v1/apps/{app}/events"),
            json!({"type":"payment.made","payload":{"amount":1}}),
        )
        .await;
    assert_error(s, &v, 400, "invalid_request");

    let (s, v) = h
        .patch("/v1/event-types/payment.made", json!({"archived": true}))
        .await;
    assert_eq!((s, &v["archived"]), (200, &json!(true)));
    let (s, v) = h
        .post(
            &format!("/v1/apps/{app}/events"),
            json!({"type":"payment.made","payload":{"currency":"EUR"}}),
        )
        .await;
    assert_error(s, &v, 400, "invalid_request");
    assert_eq!(v["error"]["code"], "event_type_archived");

    let (s, v) = h
        .post("/v1/event-types", json!({"name":"payment.made"}))
        .await;
    assert_error(s, &v, 409, "conflict");
    for bad in [
        "has space",
        "trailing.",
        ".leading",
        "a..b",
        &"x".repeat(257),
    ] {
        let (s, v) = h.post("/v1/event-types", json!({"name": bad})).await;
        assert_error(s, &v, 400, "invalid_request");
        assert_eq!(v["error"]["param"], "name");
    }
    let (s, v) = h
        .post(
            "/v1/event-types",
            json!({"name":"bad.schema","schema":{"type": 12}}),
        )
        .await;
    assert_error(s, &v, 400, "invalid_request");
    assert_eq!(v["error"]["param"], "schema");
    let (s, list) = h.get("/v1/event-types").await;
    assert_eq!(s, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let (s, _) = h.delete("/v1/event-types/payment.made").await;
    assert_eq!(s, 204);
    let (s, v) = h.get("/v1/event-types/payment.made").await;
    assert_error(s, &v, 404, "not_found");
}

on_backends!(both: strict_event_types_rejects_unregistered);
async fn strict_event_types_rejects_unregistered() {
    let h = Herald::start(&[("HERALD_STRICT_EVENT_TYPES", "true")]).await;
    let app = h.app().await;
    let (s, v) = h
        .post(
            &format!("/v1/apps/{app}/events"),
            json!({"type":"not.registered","payload":{}}),
        )
        .await;
    assert_error(s, &v, 400, "invalid_request");
    assert_eq!(v["error"]["code"], "unknown_event_type");
    h.post("/v1/event-types", json!({"name":"now.registered"}))
        .await;
    h.send(&app, "now.registered", json!({})).await;
}

on_backends!(both: endpoint_fields_validation_and_secrets);
async fn endpoint_fields_validation_and_secrets() {
    let h = Herald::start(&[]).await;
    let app = h.app().await;
    let ep = h
        .endpoint(&app, "http://127.0.0.1:9/hook", json!({
            "description":"d","event_types":["order.*","user.created"],"rate_limit":5,"max_in_flight":2,
            "headers":{"X-Custom":"1"},"format":"cloudevents","ordered":true,"metadata":{"team":"a"}}))
        .await;
    for (k, v) in [
        ("description", json!("d")),
        ("event_types", json!(["order.*", "user.created"])),
        ("rate_limit", json!(5)),
        ("max_in_flight", json!(2)),
        ("headers", json!({"X-Custom":"1"})),
        ("format", json!("cloudevents")),
        ("ordered", json!(true)),
        ("metadata", json!({"team":"a"})),
        ("status", json!("active")),
        ("signature_scheme", json!("v1")),
    ] {
        assert_eq!(ep[k], v, "{k}: {ep}");
    }
    let id = ep["id"].as_str().unwrap();
    assert!(id.starts_with("ep_"));
    let secret = h.secret(&app, id).await;
    assert!(secret.starts_with("whsec_"));
    let (_, listing) = h.get(&format!("/v1/apps/{app}/endpoints")).await;
    assert!(!listing.to_string().contains(&secret[6..]) && !ep.to_string().contains(&secret[6..]));

    // PATCH: null clears, absent keeps.
    let (s, p) = h
        .patch(
            &format!("/v1/apps/{app}/endpoints/{id}"),
            json!({"event_types": null, "rate_limit": null, "disabled": true}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        (
            p["event_types"].clone(),
            p["rate_limit"].clone(),
            p["status"].clone(),
            p["max_in_flight"].clone()
        ),
        (json!(null), json!(null), json!("disabled"), json!(2))
    );

    // Rotation: new secret, old one still signs for the grace period (see delivery tests).
    let (s, r) = h
        .post(
            &format!("/v1/apps/{app}/endpoints/{id}/secret/rotate"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_ne!(r["secret"].as_str().unwrap(), secret);
    assert_eq!(h.secret(&app, id).await, r["secret"].as_str().unwrap());

    let bad_cases = [
        (json!({"url":"ftp://127.0.0.1/x"}), "url"),
        (json!({"url":"/relative"}), "url"),
        (json!({"url":"not a url"}), "url"),
        (
            json!({"url":"http://127.0.0.1/x","secret":"whsec_c2hvcnQ="}),
            "secret",
        ),
        (
            json!({"url":"http://127.0.0.1/x","secret":"nope"}),
            "secret",
        ),
        (
            json!({"url":"http://127.0.0.1/x","event_types":["bad name"]}),
            "event_types",
        ),
        (json!({"url":"http://127.0.0.1/x","format":"xml"}), "format"),
        (
            json!({"url":"http://127.0.0.1/x","max_in_flight":0}),
            "max_in_flight",
        ),
        (
            json!({"url":"http://127.0.0.1/x","rate_limit":0}),
            "rate_limit",
        ),
        (json!({"url":"http://127.0.0.1/x","colour":"red"}), "colour"),
        (
            json!({"url":"http://127.0.0.1/x","headers":{"webhook-signature":"v1,forged"}}),
            "headers.webhook-signature",
        ),
        (
            json!({"url":"http://127.0.0.1/x","headers":{"Content-Type":"text/plain"}}),
            "headers.Content-Type",
        ),
    ];
    for (body, param) in bad_cases {
        let (s, v) = h
            .post(&format!("/v1/apps/{app}/endpoints"), body.clone())
            .await;
        assert_error(s, &v, 400, "invalid_request");
        assert_eq!(v["error"]["param"], param, "{body}");
    }

    // v1a: ed25519, only the public key is handed out.
    let v1a = h
        .endpoint(
            &app,
            "http://127.0.0.1:9/a",
            json!({"signature_scheme":"v1a"}),
        )
        .await;
    let (_, k) = h
        .get(&format!(
            "/v1/apps/{app}/endpoints/{}/secret",
            v1a["id"].as_str().unwrap()
        ))
        .await;
    assert!(
        k["public_key"].as_str().unwrap().starts_with("whpk_") && k.get("secret").is_none(),
        "{k}"
    );
    let (s, _) = h
        .post(
            &format!(
                "/v1/apps/{app}/endpoints/{}/secret/rotate",
                v1a["id"].as_str().unwrap()
            ),
            json!({"secret": secret}),
        )
        .await;
    assert_eq!(s, 400);

    let (s, _) = h.delete(&format!("/v1/apps/{app}/endpoints/{id}")).await;
    assert_eq!(s, 204);
    let (s, v) = h.get(&format!("/v1/apps/{app}/endpoints/{id}")).await;
    assert_error(s, &v, 404, "not_found");
    let other = h.app().await;
    let (s, v) = h
        .get(&format!(
            "/v1/apps/{other}/endpoints/{}",
            v1a["id"].as_str().unwrap()
        ))
        .await;
    assert_error(s, &v, 404, "not_found");
}

on_backends!(both: every_error_has_the_contract_body_and_a_code);
/// `security.md`, Errors and Limits: every error has the contract's body with a `code`,
/// framework-made ones included; integral floats are integers; a batch item is held to
/// `max_event_bytes`.
async fn every_error_has_the_contract_body_and_a_code() {
    let h = Herald::start(&[("HERALD_MAX_EVENT_BYTES", "2048")]).await;
    let code = |v: &Value| v["error"]["code"].as_str().map(str::to_string);
    let send = |method: Method, path: &str, key: Option<&str>| {
        let req = h.http.request(method, format!("{}{}", h.url, path));
        let req = match key {
            Some(k) => req.bearer_auth(k),
            None => req,
        };
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let allow = resp
                .headers()
                .get("allow")
                .map(|v| v.to_str().unwrap().to_string());
            let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
            (status, body, allow)
        }
    };
    let (s, v, _) = send(Method::GET, "/v1/nothing/here", Some(ADMIN_KEY)).await;
    assert_error(s, &v, 404, "not_found");
    assert_eq!(code(&v).as_deref(), Some("route_not_found"));
    let (s, v, allow) = send(Method::DELETE, "/v1/apps", Some(ADMIN_KEY)).await;
    assert_eq!(
        (s, code(&v).as_deref()),
        (405, Some("method_not_allowed")),
        "{v}"
    );
    let allow = allow.expect("405 names the allowed methods");
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let (s, v, _) = send(Method::GET, "/v1/apps?limit=1&limit=2", Some(ADMIN_KEY)).await;
    assert_error(s, &v, 400, "invalid_request");
    assert_eq!(code(&v).as_deref(), Some("invalid_query"));
    let (s, v, _) = send(Method::GET, "/v1/apps/%FF%FE", Some(ADMIN_KEY)).await;
    assert_error(s, &v, 400, "invalid_request");
    assert_eq!(code(&v).as_deref(), Some("invalid_path"));
    let (s, v, _) = send(Method::GET, "/v1/apps", None).await;
    assert_error(s, &v, 401, "authentication");
    assert_eq!(code(&v).as_deref(), Some("missing_api_key"));
    let (s, v, _) = send(Method::GET, "/v1/apps", Some("hrd_not_a_key_at_all_00000")).await;
    assert_eq!((s, code(&v).as_deref()), (401, Some("invalid_api_key")));
    let (_, k) = h
        .post("/v1/keys", json!({"name": "p", "scope": "producer"}))
        .await;
    let producer = k["key"].as_str().unwrap().to_string();
    let (s, v, _) = send(Method::GET, "/v1/keys", Some(&producer)).await;
    assert_error(s, &v, 403, "permission");
    assert_eq!(code(&v).as_deref(), Some("insufficient_scope"));
    let (s, v, _) = send(Method::GET, "/v1/apps/app_nope", Some(ADMIN_KEY)).await;
    assert_eq!((s, code(&v).as_deref()), (404, Some("not_found")));

    // Integer fields take integral numbers in any JSON spelling, and nothing else.
    let app = h.app().await;
    let ep = |n: Value| json!({"url": "http://127.0.0.1:9/x", "max_in_flight": n});
    let (s, v) = h
        .post(&format!("/v1/apps/{app}/endpoints"), ep(json!(5.0)))
        .await;
    assert_eq!((s, v["max_in_flight"].as_i64()), (201, Some(5)), "{v}");
    let (s, v) = h
        .post(&format!("/v1/apps/{app}/endpoints"), ep(json!(5.5)))
        .await;
    assert_error(s, &v, 400, "invalid_request");
    assert_eq!(v["error"]["param"], "max_in_flight");

    // A batch item over max_event_bytes fails alone, as that event would.
    let big = json!({"type": "a.b", "payload": {"pad": "x".repeat(3000)}});
    let small = json!({"type": "a.b", "payload": {"n": 1}});
    let (s, v) = h
        .post(
            &format!("/v1/apps/{app}/events/batch"),
            json!({"items": [big, small]}),
        )
        .await;
    assert_eq!(s, 207, "{v}");
    assert_eq!(v["items"][0]["error"]["type"], "payload_too_large");
    assert_eq!(v["items"][0]["error"]["code"], "payload_too_large");
    assert!(v["items"][1]["id"].is_string(), "{v}");
}
