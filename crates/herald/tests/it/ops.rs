//! Operations routes: health, readiness, metrics, the OpenAPI document, configuration errors.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

on_backends!(both: health_ready_metrics_and_openapi_need_no_key);
async fn health_ready_metrics_and_openapi_need_no_key() {
    // A process of its own: the metrics recorder is per process, and in-process servers of
    // other tests would add to its counts.
    let h = Herald::start_process(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/m"), json!({})).await;
    let ev = h.send(&app, "m.x", json!({})).await;
    h.wait_status(
        &app,
        ev["deliveries"][0]["id"].as_str().unwrap(),
        "succeeded",
        Duration::from_secs(10),
    )
    .await;
    for p in ["/healthz", "/readyz"] {
        assert_eq!(
            h.http
                .get(format!("{}{p}", h.url))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    tokio::time::sleep(Duration::from_millis(5500)).await; // one gauge refresh
    let text = h
        .http
        .get(format!("{}/metrics", h.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        &format!("herald_events_accepted_total{{app=\"{app}\"}} 1") as &str,
        "herald_deliveries_total{outcome=\"succeeded\"} 1",
        "herald_deliveries_pending 0",
        "herald_delivery_attempt_duration_seconds_bucket",
        "herald_delivery_lag_seconds_bucket",
        "herald_http_request_duration_seconds_bucket",
        "herald_http_requests_total{route=\"/v1/apps/{app}/events\",status=\"202\"} 1",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    let (s, doc) = h
        .call(axum::http::Method::GET, "/openapi.json", None, None)
        .await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/keys",
        "/v1/keys/{id}",
        "/v1/apps",
        "/v1/apps/{app}",
        "/v1/event-types",
        "/v1/event-types/{name}",
        "/v1/apps/{app}/endpoints",
        "/v1/apps/{app}/endpoints/{ep}",
        "/v1/apps/{app}/endpoints/{ep}/secret",
        "/v1/apps/{app}/endpoints/{ep}/secret/rotate",
        "/v1/apps/{app}/endpoints/{ep}/test",
        "/v1/apps/{app}/endpoints/{ep}/recover",
        "/v1/apps/{app}/endpoints/{ep}/stats",
        "/v1/apps/{app}/events",
        "/v1/apps/{app}/events/batch",
        "/v1/apps/{app}/events/{evt}",
        "/v1/apps/{app}/deliveries",
        "/v1/apps/{app}/deliveries/{del}",
        "/v1/apps/{app}/deliveries/{del}/attempts",
        "/v1/apps/{app}/deliveries/{del}/retry",
        "/v1/apps/{app}/portal-sessions",
        "/v1/session",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "openapi lacks {p}");
    }
    // Every $ref resolves to a declared schema.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for part in text.split("\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "dangling $ref {name}");
    }
    let (s, v) = h.get("/v1/nothing-here").await;
    assert_error(s, &v, 404, "not_found");
}

on_backends!(both: portal_sessions_are_app_scoped_read_only_and_expire);
async fn portal_sessions_are_app_scoped_read_only_and_expire() {
    let h = Herald::start(&[]).await;
    let a = h.app().await;
    let b = h.app().await;
    let (s, ro) = h
        .post(
            &format!("/v1/apps/{a}/portal-sessions"),
            json!({"read_only": true, "expires_in": 1}),
        )
        .await;
    assert_eq!(s, 201, "{ro}");
    assert!(ro["url"].as_str().unwrap().contains("/portal/#token="));
    let token = ro["token"].as_str().unwrap();
    let (s, _) = h
        .call(
            axum::http::Method::GET,
            &format!("/v1/apps/{a}/endpoints"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = h
        .call(
            axum::http::Method::GET,
            &format!("/v1/apps/{b}/endpoints"),
            Some(token),
            None,
        )
        .await;
    assert_error(s, &v, 404, "not_found");
    let (s, v) = h
        .call(
            axum::http::Method::POST,
            &format!("/v1/apps/{a}/endpoints"),
            Some(token),
            Some(json!({"url":"http://127.0.0.1:9/"})),
        )
        .await;
    assert_error(s, &v, 403, "permission");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, v) = h
        .call(
            axum::http::Method::GET,
            &format!("/v1/apps/{a}/endpoints"),
            Some(token),
            None,
        )
        .await;
    assert_error(s, &v, 401, "authentication");
    let (s, rw) = h
        .post(&format!("/v1/apps/{a}/portal-sessions"), json!({}))
        .await;
    assert_eq!(s, 201);
    let (s, v) = h
        .call(
            axum::http::Method::POST,
            &format!("/v1/apps/{a}/endpoints"),
            Some(rw["token"].as_str().unwrap()),
            Some(json!({"url":"http://127.0.0.1:9/"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    for bad in [json!({"expires_in": 0}), json!({"expires_in": 604801})] {
        let (s, v) = h.post(&format!("/v1/apps/{a}/portal-sessions"), bad).await;
        assert_error(s, &v, 400, "invalid_request");
    }
}

on_backends!(both: session_describes_the_credential_and_portal_links_carry_the_theme);
async fn session_describes_the_credential_and_portal_links_carry_the_theme() {
    let h = Herald::start(&[]).await;
    let a = h.app().await;
    let (s, me) = h.get("/v1/session").await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["scope"], "admin");
    assert!(me["app_id"].is_null() && me["expires_at"].is_null());
    assert_eq!(me["read_only"], false);

    let (s, p) = h
        .post(
            &format!("/v1/apps/{a}/portal-sessions"),
            json!({"read_only": true, "accent_color": "#e11d48", "logo_url": "https://example.test/l.png?s=2&t=1"}),
        )
        .await;
    assert_eq!(s, 201, "{p}");
    let url = p["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/portal/?accent=%23e11d48&logo=https%3A%2F%2Fexample.test%2Fl.png%3Fs%3D2%26t%3D1#token=hrd_",
            h.url
        )),
        "{url}"
    );
    let (s, me) = h
        .call(
            axum::http::Method::GET,
            "/v1/session",
            p["token"].as_str(),
            None,
        )
        .await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["scope"], "portal");
    assert_eq!(me["app_id"], a.as_str());
    assert_eq!(me["read_only"], true);
    assert_eq!(me["expires_at"], p["expires_at"]);

    for (bad, param) in [
        (json!({"accent_color": "red"}), "accent_color"),
        (json!({"logo_url": "javascript:alert(1)"}), "logo_url"),
    ] {
        let (s, v) = h.post(&format!("/v1/apps/{a}/portal-sessions"), bad).await;
        assert_error(s, &v, 400, "invalid_request");
        assert_eq!(v["error"]["param"], param);
    }
    let (s, v) = h
        .call(axum::http::Method::GET, "/v1/session", None, None)
        .await;
    assert_error(s, &v, 401, "authentication");
}

on_backends!(both: the_console_and_portal_pages_are_served_from_the_binary);
async fn the_console_and_portal_pages_are_served_from_the_binary() {
    let h = Herald::start(&[]).await;
    let get = |path: &str| h.http.get(format!("{}{path}", h.url)).send();
    for (path, framing) in [
        ("/console/", "frame-ancestors 'none'"),
        ("/portal/", "frame-ancestors *"),
    ] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains(framing), "{path}: {csp}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(r.text().await.unwrap().contains("main.js"));
    }
    let r = get("/portal/views/deliveries.js").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    let r = get("/console").await.unwrap(); // reqwest follows the redirect
    assert_eq!(r.url().path(), "/console/");
    let r = get("/console/nope.js").await.unwrap();
    assert_eq!(r.status(), 404);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "not_found");
}

#[test]
fn an_unreachable_database_stops_the_server_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .args([
            "--database-url",
            &format!("postgres://postgres@127.0.0.1:{}/nothing", free_port()),
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
}

/// One server answers from the first connection on: a connection opened while the store
/// opens gets 503 from /readyz, stays open, and is answered by the API once it is ready
/// (a hand-over between two servers cut such connections, and Node's fetch then waited
/// forever). The store is PostgreSQL behind a loopback proxy that holds each new
/// connection for a second, so that the start-up phase lasts long enough to be seen.
#[test]
fn a_connection_opened_while_starting_is_answered_by_the_api_later() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    let db = TestDatabase::create();
    let (before, after) = db.url.split_once('@').unwrap();
    let (pg_addr, name) = after.split_once('/').unwrap();
    let pg_addr = pg_addr.to_string();
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxied = format!("{before}@{}/{name}", proxy.local_addr().unwrap());
    std::thread::spawn(move || {
        for client in proxy.incoming().flatten() {
            let pg_addr = pg_addr.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(1));
                let server = TcpStream::connect(&pg_addr).unwrap();
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut c2, &mut s2));
                let (mut s, mut c) = (server, client);
                let _ = std::io::copy(&mut s, &mut c);
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Killed however the test ends (a failed assertion must not leave a server behind).
    struct Server(std::process::Child);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Server(
        std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &proxied])
            .arg("--data-dir")
            .arg(dir.path())
            .env("HERALD_ADMIN_KEY", ADMIN_KEY)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let conn = loop {
        if let Ok(conn) = TcpStream::connect(("127.0.0.1", port)) {
            break conn;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "herald never listened"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    // One request and its whole answer on the connection: (status, body).
    let mut exchange = |path: &str| -> (u16, String) {
        write!(writer, "GET {path} HTTP/1.1\r\nHost: herald\r\n\r\n").unwrap();
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .expect("an answer on the same connection");
        let status = line.split(' ').nth(1).expect(&line).parse().unwrap();
        let mut length = 0;
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (status, String::from_utf8(body).unwrap())
    };
    let (status, body) = exchange("/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"unavailable\""), "{body}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while exchange("/readyz").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The same connection now reaches the API itself.
    let (status, body) = exchange("/v1/apps");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"authentication\""), "{body}");
}

#[test]
fn bad_configuration_stops_the_server_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    for (toml, env, key) in [
        ("bogus_setting = 1\n", None, "bogus_setting"),
        ("connect_timeout = \"soon\"\n", None, "connect_timeout"),
        ("", Some(("HERALD_RETRY_JITTER", "lots")), "retry_jitter"),
    ] {
        std::fs::write(&cfg, toml).unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_herald"));
        cmd.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--config",
        ])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.path().join("d"));
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(key),
            "{key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
