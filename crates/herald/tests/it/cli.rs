//! The `herald` client commands, driven as a user would: the real binary against a real server.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

pub(crate) fn herald(h: &Herald, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.args(args)
        .env("HERALD_URL", &h.url)
        .env("HERALD_API_KEY", ADMIN_KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

pub(crate) fn stdout_json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

on_backends!(both: #[tokio::test(flavor = "multi_thread")] apps_and_send_through_the_cli);
async fn apps_and_send_through_the_cli() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let created = stdout_json(&herald(
        &h,
        &[
            "apps", "create", "--name", "Acme", "--uid", "acme", "--json",
        ],
        None,
    ));
    assert!(created["id"].as_str().unwrap().starts_with("app_"));
    let table = herald(&h, &["apps", "list"], None);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.starts_with("ID") && text.contains("acme") && text.contains("Acme"),
        "{text}"
    );
    let got = stdout_json(&herald(&h, &["--json", "apps", "get", "acme"], None));
    assert_eq!(got["id"], created["id"]);
    let renamed = stdout_json(&herald(
        &h,
        &["apps", "update", "acme", "--name", "Acme 2", "--json"],
        None,
    ));
    assert_eq!(renamed["name"], "Acme 2");

    h.endpoint("acme", &rx.url("/cli"), json!({})).await;
    let raw = r#"{"b": 1.50,  "a": [1, 2 ]}"#;
    let sent = stdout_json(&herald(
        &h,
        &[
            "send",
            "--app",
            "acme",
            "--type",
            "order.paid",
            "--data",
            raw,
            "--idempotency-key",
            "k1",
            "--json",
        ],
        None,
    ));
    assert_eq!(sent["deliveries"].as_array().unwrap().len(), 1);
    let delivered = &rx.wait("/cli", 1, Duration::from_secs(10)).await[0];
    assert!(
        String::from_utf8_lossy(&delivered.body).contains(raw),
        "payload bytes unchanged"
    );
    let again = stdout_json(&herald(
        &h,
        &[
            "send",
            "--app",
            "acme",
            "--type",
            "order.paid",
            "--data",
            raw,
            "--idempotency-key",
            "k1",
            "--json",
        ],
        None,
    ));
    assert_eq!(
        (again["id"].clone(), again["replayed"].clone()),
        (sent["id"].clone(), json!(true))
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.json");
    std::fs::write(&file, r#"{"from":"file"}"#).unwrap();
    let from_file = herald(
        &h,
        &[
            "send",
            "--app",
            "acme",
            "--type",
            "f.x",
            "--data-file",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert!(String::from_utf8_lossy(&from_file.stdout).starts_with("event evt_"));
    let from_stdin = stdout_json(&herald(
        &h,
        &["send", "--app", "acme", "--type", "s.x", "--json", "-"],
        Some("{\"from\":\"stdin\"}\n"),
    ));
    let (_, ev) = h
        .get(&format!(
            "/v1/apps/acme/events/{}",
            from_stdin["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ev["payload"], json!({"from": "stdin"}));

    // A failed request: exit 1, the contract's message on stderr.
    let missing = herald(&h, &["apps", "get", "nope"], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));
    // Bad usage: exit 2.
    assert_eq!(
        herald(&h, &["send", "--app", "acme"], None).status.code(),
        Some(2)
    );
    assert_eq!(
        herald(&h, &["apps", "frobnicate"], None).status.code(),
        Some(2)
    );
    let deleted = herald(&h, &["apps", "delete", "acme"], None);
    assert!(deleted.status.success());
    assert_eq!(
        herald(&h, &["apps", "get", "acme"], None).status.code(),
        Some(1)
    );
}

on_backends!(both: #[tokio::test(flavor = "multi_thread")] verify_a_real_captured_delivery);
async fn verify_a_real_captured_delivery() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let ep = h.endpoint(&app, &rx.url("/v"), json!({})).await;
    let secret = h.secret(&app, ep["id"].as_str().unwrap()).await;
    h.send(&app, "order.paid", json!({"n": 1})).await;
    let r = &rx.wait("/v", 1, Duration::from_secs(10)).await[0];
    let body = String::from_utf8(r.body.to_vec()).unwrap();
    let (id, ts, sig) = (
        r.header("webhook-id"),
        r.header("webhook-timestamp"),
        r.header("webhook-signature"),
    );
    let verify = |secret: &str, body: &str, extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--secret",
            secret,
            "--webhook-id",
            &id,
            "--webhook-timestamp",
            &ts,
            "--webhook-signature",
            &sig,
            "--body",
            body,
        ];
        args.extend_from_slice(extra);
        herald(&h, &args, None)
    };
    let ok = verify(&secret, &body, &[]);
    assert_eq!(
        (ok.status.code(), String::from_utf8_lossy(&ok.stdout).trim()),
        (Some(0), "valid")
    );
    let tampered = verify(&secret, &body.replace("1", "2"), &[]);
    assert_eq!(tampered.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&tampered.stderr).contains("no matching signature"));
    let late: i64 = ts.parse::<i64>().unwrap() + 1000;
    let old = verify(&secret, &body, &["--at", &late.to_string()]);
    assert_eq!(old.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&old.stderr).contains("too old"));
    let tolerant = verify(
        &secret,
        &body,
        &["--at", &late.to_string(), "--tolerance", "2000"],
    );
    assert_eq!(tolerant.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body");
    std::fs::write(&file, &r.body).unwrap();
    let mut args = vec![
        "verify",
        "--secret",
        &secret,
        "--webhook-id",
        &id,
        "--webhook-timestamp",
        &ts,
    ];
    let several = format!("v1,AAAA {sig}");
    args.extend_from_slice(&[
        "--webhook-signature",
        &several,
        "--body-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        herald(&h, &args, None).status.code(),
        Some(0),
        "any of several signatures"
    );
    let bad_header = herald(
        &h,
        &[
            "verify",
            "--secret",
            &secret,
            "--webhook-id",
            &id,
            "--webhook-timestamp",
            "soon",
            "--webhook-signature",
            &sig,
            "--body",
            &body,
        ],
        None,
    );
    assert_eq!(bad_header.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_header.stderr).contains("malformed webhook-timestamp"));
}

on_backends!(both: #[tokio::test(flavor = "multi_thread")] every_resource_command);
async fn every_resource_command() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let run = |args: &[&str]| stdout_json(&herald(&h, args, None));
    run(&["apps", "create", "--name", "R", "--uid", "r", "--json"]);
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, r#"{"type":"object","required":["n"]}"#).unwrap();
    let et = run(&[
        "event-types",
        "create",
        "r.made",
        "--schema",
        schema.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(et["schema"]["required"], json!(["n"]));
    assert_eq!(
        run(&["event-types", "list", "--json"])["data"][0]["name"],
        "r.made"
    );
    assert_eq!(
        run(&[
            "event-types",
            "update",
            "r.made",
            "--description",
            "d",
            "--json"
        ])["description"],
        "d"
    );
    assert_eq!(
        run(&["event-types", "get", "r.made", "--json"])["description"],
        "d"
    );

    let url = rx.url("/r");
    let ep = run(&[
        "endpoints",
        "create",
        "--app",
        "r",
        "--endpoint-url",
        &url,
        "--event-type",
        "r.*",
        "--json",
    ]);
    let ep_id = ep["id"].as_str().unwrap().to_string();
    assert_eq!(ep["event_types"], json!(["r.*"]));
    assert_eq!(
        run(&["endpoints", "list", "--app", "r", "--json"])["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        run(&["endpoints", "get", &ep_id, "--app", "r", "--json"])["url"],
        url.as_str()
    );
    assert!(
        run(&["endpoints", "secret", &ep_id, "--app", "r", "--json"])["secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    assert!(
        run(&["endpoints", "rotate-secret", &ep_id, "--app", "r", "--json"])["secret"].is_string()
    );
    assert_eq!(
        run(&["endpoints", "test", &ep_id, "--app", "r", "--json"])["type"],
        "herald.ping"
    );
    rx.wait("/r", 1, Duration::from_secs(10)).await;
    let sent = run(&[
        "send",
        "--app",
        "r",
        "--type",
        "r.made",
        "--data",
        r#"{"n":1}"#,
        "--json",
    ]);
    let ev_id = sent["id"].as_str().unwrap().to_string();
    let del_id = sent["deliveries"][0]["id"].as_str().unwrap().to_string();
    h.wait_status("r", &del_id, "succeeded", Duration::from_secs(10))
        .await;
    assert_eq!(
        run(&["events", "get", &ev_id, "--app", "r", "--json"])["payload"],
        json!({"n": 1})
    );
    assert_eq!(
        run(&["events", "list", "--app", "r", "--type", "r.made", "--json"])["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let listed = run(&[
        "deliveries",
        "list",
        "--app",
        "r",
        "--status",
        "succeeded",
        "--event",
        &ev_id,
        "--json",
    ]);
    assert_eq!(listed["data"][0]["id"], del_id.as_str());
    assert_eq!(
        run(&["deliveries", "get", &del_id, "--app", "r", "--json"])["attempts"],
        1
    );
    assert_eq!(
        run(&["deliveries", "attempts", &del_id, "--app", "r", "--json"])["data"][0]["status_code"],
        200
    );
    assert_eq!(
        run(&["deliveries", "retry", &del_id, "--app", "r", "--json"])["status"],
        "pending"
    );
    assert!(
        run(&["endpoints", "stats", &ep_id, "--app", "r", "--json"])["succeeded"]
            .as_i64()
            .unwrap()
            >= 1
    );
    assert_eq!(
        run(&[
            "endpoints",
            "recover",
            &ep_id,
            "--app",
            "r",
            "--since",
            "2000-01-01T00:00:00Z",
            "--json"
        ])["requeued"],
        0
    );
    assert_eq!(
        run(&[
            "endpoints",
            "update",
            &ep_id,
            "--app",
            "r",
            "--disabled",
            "true",
            "--json"
        ])["status"],
        "disabled"
    );
    let table = herald(&h, &["deliveries", "list", "--app", "r"], None);
    assert!(String::from_utf8_lossy(&table.stdout).starts_with("ID"));

    let key = run(&[
        "keys", "create", "--name", "k", "--scope", "producer", "--json",
    ]);
    assert!(key["key"].as_str().unwrap().starts_with("hrd_"));
    let key_id = key["id"].as_str().unwrap();
    assert!(run(&["keys", "list", "--json"])["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["id"] == key_id));
    assert!(herald(&h, &["keys", "revoke", key_id], None)
        .status
        .success());
    assert!(
        herald(&h, &["endpoints", "delete", &ep_id, "--app", "r"], None)
            .status
            .success()
    );
    assert!(herald(&h, &["event-types", "delete", "r.made"], None)
        .status
        .success());
    assert_eq!(
        herald(&h, &["endpoints", "list"], None).status.code(),
        Some(2),
        "--app is required"
    );
    let completions = herald(&h, &["completions", "bash"], None);
    assert!(String::from_utf8_lossy(&completions.stdout).contains("herald"));
}

on_backends!(both: #[tokio::test(flavor = "multi_thread")] listen_prints_verifies_and_forwards_a_real_delivery);
async fn listen_prints_verifies_and_forwards_a_real_delivery() {
    let h = Herald::start(&[]).await;
    let app_rx = Receiver::start().await; // the developer's app behind `--forward-to`
    app_rx.script("/hook", vec![], Reply::status(202));
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAAAAAAAA";
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("listen.out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args([
            "listen",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--secret",
            secret,
        ])
        .args(["--forward-to", &app_rx.url("")])
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let app = h.app().await;
    h.endpoint(
        &app,
        &format!("http://127.0.0.1:{port}/hook"),
        json!({"secret": secret}),
    )
    .await;
    let ev = h.send(&app, "order.paid", json!({"n": 1})).await;
    app_rx.wait("/hook", 1, Duration::from_secs(15)).await;
    let d = h
        .wait_status(
            &app,
            ev["deliveries"][0]["id"].as_str().unwrap(),
            "succeeded",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(d["last_status_code"], 202, "the app's status is relayed");
    let forged = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/hook"))
        .header("webhook-id", "evt_forged")
        .header("webhook-timestamp", "1")
        .header("webhook-signature", "v1,AAAA")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 202);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = child.kill();
    let _ = child.wait();
    let out = std::fs::read_to_string(&out_path).unwrap();
    assert!(out.contains(ev["id"].as_str().unwrap()), "{out}");
    assert!(out.contains("\"type\": \"order.paid\""), "{out}");
    assert!(out.contains("signature: valid"), "{out}");
    assert!(
        out.contains("signature: INVALID (timestamp too old"),
        "{out}"
    );
    assert!(out.contains("forwarded: 202"), "{out}");

    let refused = herald(
        &h,
        &[
            "listen",
            "--listen",
            "127.0.0.1:0",
            "--forward-to",
            "http://10.1.2.3/x",
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("loopback"));
}

on_backends!(both: #[tokio::test(flavor = "multi_thread")] follow_streams_deliveries_as_they_change);
async fn follow_streams_deliveries_as_they_change() {
    let h = Herald::start(&[("HERALD_RETRY_SCHEDULE", "1s")]).await;
    let rx = Receiver::start().await;
    rx.script("/f", vec![Reply::status(500)], Reply::status(200));
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/f"), json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("follow.out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["deliveries", "list", "--app", &app, "--follow", "--json"])
        .env("HERALD_URL", &h.url)
        .env("HERALD_API_KEY", ADMIN_KEY)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .spawn()
        .unwrap();
    let ev = h.send(&app, "a.b", json!({})).await;
    let del = ev["deliveries"][0]["id"].as_str().unwrap().to_string();
    h.wait_status(&app, &del, "succeeded", Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = child.kill();
    let _ = child.wait();
    let lines: Vec<Value> = std::fs::read_to_string(&out_path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().all(|d| d["id"] == del.as_str()), "{lines:?}");
    let last = lines.last().expect("at least one line");
    assert_eq!(
        (last["status"].clone(), last["attempts"].clone()),
        (json!("succeeded"), json!(2))
    );
    assert!(lines.len() >= 2, "the change was streamed: {lines:?}");
}
