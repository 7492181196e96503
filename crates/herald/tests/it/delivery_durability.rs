//! Durability: a crash never loses accepted deliveries; shutdown is graceful.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use crate::support::*;

on_backends!(both: crash_then_restart_delivers_every_event);
async fn crash_then_restart_delivers_every_event() {
    let port = free_port(); // nothing listens here until after the crash
                            // A short attempt timeout keeps the leases of the killed process short (PostgreSQL
                            // waits for them to expire; SQLite releases them at start).
    let mut h = Herald::start_process(&[
        ("HERALD_RETRY_SCHEDULE", &["1s"; 60].join(",")),
        ("HERALD_ATTEMPT_TIMEOUT", "2s"),
    ])
    .await;
    let app = h.app().await;
    let ep = h
        .endpoint(&app, &format!("http://127.0.0.1:{port}/dur"), json!({}))
        .await;
    let secret = h.secret(&app, ep["id"].as_str().unwrap()).await;
    let mut ids = HashSet::new();
    for i in 0..200 {
        ids.insert(
            h.send(&app, "durable", json!({"i": i})).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    h.kill();
    let rx = Receiver::start_on(port).await;
    h.spawn().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let seen: HashSet<String> = rx
            .requests("/dur")
            .iter()
            .map(|r| r.header("webhook-id"))
            .collect();
        if ids.is_subset(&seen) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "missing {} of 200 after restart",
            ids.difference(&seen).count()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first = &rx.requests("/dur")[0];
    assert!(standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(&first.body, &first.headers)
        .is_ok());
}

on_backends!(both: sigterm_finishes_in_flight_attempts_and_exits_cleanly);
async fn sigterm_finishes_in_flight_attempts_and_exits_cleanly() {
    let mut h = Herald::start_process(&[]).await;
    let rx = Receiver::start().await;
    rx.script(
        "/inflight",
        vec![],
        Reply::status(200).delayed(Duration::from_millis(1500)),
    );
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/inflight"), json!({})).await;
    let ev = h.send(&app, "a", json!({})).await;
    rx.wait("/inflight", 1, Duration::from_secs(5)).await;
    let status = h.terminate().await;
    assert!(status.success(), "exit status {status}");
    h.spawn().await;
    let d = h
        .delivery(&app, ev["deliveries"][0]["id"].as_str().unwrap())
        .await;
    assert_eq!(
        d["status"], "succeeded",
        "the in-flight attempt was finished and recorded: {d}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.requests("/inflight").len(), 1);
}

on_backends!(both: losing_stderr_loses_no_work_and_sigterm_still_stops);
/// Herald's stderr reader exits (a log pipe, a supervisor): log lines are lost, work is not.
/// The auto-disable below is logged by the task that records outcomes, and SIGTERM's handler
/// logs too; each of them used to die on that write, leaving deliveries unrecorded and the
/// process deaf to SIGTERM.
async fn losing_stderr_loses_no_work_and_sigterm_still_stops() {
    let mut h = Herald::start_with_stderr_gone(&[
        ("HERALD_AUTO_DISABLE_AFTER", "1s"),
        (
            "HERALD_RETRY_SCHEDULE",
            "300ms,300ms,300ms,300ms,300ms,300ms",
        ),
    ])
    .await;
    let rx = Receiver::start().await;
    rx.script("/bad", vec![], Reply::status(500));
    let app = h.app().await;
    let bad = h.endpoint(&app, &rx.url("/bad"), json!({})).await;
    let bad = bad["id"].as_str().unwrap();
    h.send(&app, "a", json!({})).await;
    h.wait_endpoint_status(&app, bad, "auto_disabled", Duration::from_secs(10))
        .await;
    h.endpoint(&app, &rx.url("/good"), json!({})).await;
    let ev = h.send(&app, "b", json!({})).await;
    // The auto-disabled endpoint gets no delivery of a later event.
    assert_eq!(ev["deliveries"].as_array().unwrap().len(), 1, "{ev}");
    let del = ev["deliveries"][0]["id"].as_str().unwrap();
    h.wait_status(&app, del, "succeeded", Duration::from_secs(10))
        .await;
    let status = h.terminate().await;
    assert!(status.success(), "exit status {status}");
}

on_backends!(sqlite: a_second_process_on_the_same_data_dir_is_refused);
async fn a_second_process_on_the_same_data_dir_is_refused() {
    let h = Herald::start(&[]).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--data-dir",
        ])
        .arg(h.db_path().parent().unwrap())
        .env("HERALD_ADMIN_KEY", ADMIN_KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

on_backends!(sqlite: sqlite_wal_is_checkpointed_in_the_background);
/// The SQLite store copies its WAL into the database file in the background, long before the
/// writer's own checkpoint (4,096 frames, ~16 MiB) would: so commits never wait for a big copy.
async fn sqlite_wal_is_checkpointed_in_the_background() {
    let h = Herald::start(&[]).await;
    let app = h.app().await;
    let size = || std::fs::metadata(h.db_path()).map(|m| m.len()).unwrap_or(0);
    let before = size();
    // 100 events of 4 KiB: ~400 KiB of payload, far below the writer's own threshold.
    let blob = "x".repeat(4096);
    for i in 0..100 {
        h.send(&app, "bulk.made", json!({"i": i, "blob": blob}))
            .await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while size() < before + 400 * 1024 {
        assert!(
            std::time::Instant::now() < deadline,
            "herald.db stayed at {} bytes (was {before}): the WAL was not checkpointed",
            size()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

on_backends!(postgres: a_restarted_node_takes_back_its_own_leases_at_once);
/// A PostgreSQL node killed with attempts in flight holds their leases (attempt timeout
/// and margin: over 30 s here). Started again on the same data directory (so with the same
/// node id), it takes them back at once instead of waiting for them to lapse.
async fn a_restarted_node_takes_back_its_own_leases_at_once() {
    let mut h = Herald::start_process(&[("HERALD_ATTEMPT_TIMEOUT", "30s")]).await;
    let rx = Receiver::start().await;
    // The first attempts hang (the receiver answers after a minute).
    rx.script(
        "/own",
        vec![],
        Reply::status(200).delayed(Duration::from_secs(60)),
    );
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/own"), json!({})).await;
    let mut ids = HashSet::new();
    for i in 0..5 {
        ids.insert(
            h.send(&app, "leased", json!({"i": i})).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    rx.wait("/own", 5, Duration::from_secs(10)).await;
    h.kill();
    rx.script("/own", vec![], Reply::status(200));
    h.spawn().await;
    let started = std::time::Instant::now();
    let got = rx.wait("/own", 10, Duration::from_secs(8)).await;
    let redelivered: HashSet<String> = got[5..].iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(redelivered, ids);
    assert!(started.elapsed() < Duration::from_secs(8));
}
