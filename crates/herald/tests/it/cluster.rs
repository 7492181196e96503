//! Several `herald serve` processes on one PostgreSQL database (run with
//! `cargo test -- --ignored`, as `.ci/run` does; SQLite is single-process by design).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

/// Sends `n` events alternately through each node; returns their ids.
async fn send_alternately(nodes: &[&Herald], app: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let node = nodes[i % nodes.len()];
        ids.push(
            node.send(app, "cluster.test", json!({"i": i})).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    ids
}

/// Waits until every id arrived at `path`; returns (distinct, duplicates). On a timeout,
/// panics with the stored state of what is missing.
async fn wait_all(
    rx: &Receiver,
    path: &str,
    ids: &[String],
    within: Duration,
    db: &TestDatabase,
) -> (usize, usize) {
    let deadline = Instant::now() + within;
    loop {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for r in rx.requests(path) {
            *counts.entry(r.header("webhook-id")).or_default() += 1;
        }
        let missing: Vec<&String> = ids.iter().filter(|id| !counts.contains_key(*id)).collect();
        if missing.is_empty() {
            let dups = counts.values().map(|c| c - 1).sum();
            return (counts.len(), dups);
        }
        if Instant::now() >= deadline {
            let state = db.sql(&format!(
                "SELECT d.status, d.attempts, d.next_attempt_at, d.lease_until, e.next_due_at,
                        (extract(epoch from clock_timestamp()) * 1000)::bigint
                 FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id WHERE d.event_id = '{}'",
                missing[0]
            ));
            panic!(
                "{} of {} events never arrived; first: {state}",
                missing.len(),
                ids.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

on_backends!(postgres: #[tokio::test(flavor = "multi_thread", worker_threads = 4)] three_nodes_deliver_every_event_once);
async fn three_nodes_deliver_every_event_once() {
    let db = Arc::new(TestDatabase::create());
    // A long schedule: under a loaded CI machine a few attempts may time out, and exhausting
    // four quick retries would read as a lost event.
    let schedule = ["1s"; 30].join(",");
    let env = [
        ("HERALD_ATTEMPT_TIMEOUT", "5s"),
        ("HERALD_RETRY_SCHEDULE", schedule.as_str()),
    ];
    let args = ["--allow-private-targets"];
    let a = Herald::start_on(&env, &args, Some(db.clone())).await;
    let b = Herald::start_on(&env, &args, Some(db.clone())).await;
    let c = Herald::start_on(&env, &args, Some(db.clone())).await;
    let rx = Receiver::start().await;
    let app = a.app().await;
    a.endpoint(&app, &rx.url("/c"), json!({})).await;
    let ids = send_alternately(&[&a, &b, &c], &app, 1000).await;
    let (distinct, dups) = wait_all(&rx, "/c", &ids, Duration::from_secs(60), &db).await;
    eprintln!("three nodes, 1000 events: {distinct} delivered, {dups} duplicates");
    assert_eq!(distinct, 1000);
    assert_eq!(
        dups, 0,
        "without a crash each delivery is attempted by one node only"
    );
}

on_backends!(postgres: #[tokio::test(flavor = "multi_thread", worker_threads = 4)] survivors_take_over_a_killed_node);
async fn survivors_take_over_a_killed_node() {
    let db = Arc::new(TestDatabase::create());
    let schedule = ["1s"; 30].join(",");
    let env = [
        ("HERALD_ATTEMPT_TIMEOUT", "2s"),
        ("HERALD_RETRY_SCHEDULE", schedule.as_str()),
    ];
    let args = ["--allow-private-targets"];
    let mut a = Herald::start_on(&env, &args, Some(db.clone())).await;
    let b = Herald::start_on(&env, &args, Some(db.clone())).await;
    let c = Herald::start_on(&env, &args, Some(db.clone())).await;
    let rx = Receiver::start().await;
    // Slow answers keep deliveries in flight (leased) when the node dies.
    rx.script(
        "/k",
        vec![],
        Reply::status(200).delayed(Duration::from_millis(20)),
    );
    let app = a.app().await;
    a.endpoint(&app, &rx.url("/k"), json!({"max_in_flight": 8}))
        .await;
    let mut ids = send_alternately(&[&a, &b, &c], &app, 500).await;
    a.kill(); // SIGKILL mid-way: its leases must expire and be taken over
    ids.extend(send_alternately(&[&b, &c], &app, 500).await);
    let (distinct, dups) = wait_all(&rx, "/k", &ids, Duration::from_secs(90), &db).await;
    eprintln!("three nodes, one SIGKILLed, 1000 events: {distinct} delivered, {dups} duplicates");
    assert_eq!(distinct, 1000);
}

on_backends!(postgres: #[tokio::test(flavor = "multi_thread", worker_threads = 4)] ordered_endpoint_stays_ordered_across_nodes);
async fn ordered_endpoint_stays_ordered_across_nodes() {
    let db = Arc::new(TestDatabase::create());
    let args = ["--allow-private-targets"];
    let a = Herald::start_on(&[], &args, Some(db.clone())).await;
    let b = Herald::start_on(&[], &args, Some(db.clone())).await;
    let rx = Receiver::start().await;
    let app = a.app().await;
    a.endpoint(&app, &rx.url("/o"), json!({"ordered": true}))
        .await;
    let ids = send_alternately(&[&a, &b], &app, 40).await;
    let got = rx.wait("/o", 40, Duration::from_secs(60)).await;
    let seen: Vec<String> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(seen, ids);
    assert_eq!(rx.max_in_flight("/o"), 1);
}

on_backends!(postgres: #[tokio::test(flavor = "multi_thread", worker_threads = 4)] database_outage_gives_503_and_loses_nothing);
async fn database_outage_gives_503_and_loses_nothing() {
    let db = Arc::new(TestDatabase::create());
    let h = Herald::start_on(&[], &["--allow-private-targets"], Some(db.clone())).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/out"), json!({})).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            h.send(&app, "before", json!({"i": i})).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // The outage: no new connections, every existing one cut.
    let admin = TestDatabase {
        name: String::new(),
        url: format!("{}/postgres", db.url.rsplit_once('/').unwrap().0),
    };
    admin.sql(&format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS false",
        db.name
    ));
    admin.sql(&format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}'",
        db.name
    ));
    let started = Instant::now();
    let (s, v) = h
        .post(
            &format!("/v1/apps/{app}/events"),
            json!({"type":"during","payload":{}}),
        )
        .await;
    assert_error(s, &v, 503, "unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let ready = h
        .http
        .get(format!("{}/readyz", h.url))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(ready, 503);
    admin.sql(&format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS true",
        db.name
    ));
    std::mem::forget(admin); // not a database of its own: nothing to drop
                             // Herald reconnects by itself.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, v) = h
            .post(
                &format!("/v1/apps/{app}/events"),
                json!({"type":"after","payload":{}}),
            )
            .await;
        if s == 202 {
            ids.push(v["id"].as_str().unwrap().to_string());
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {s} {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (distinct, _) = wait_all(&rx, "/out", &ids, Duration::from_secs(60), &db).await;
    assert_eq!(distinct, ids.len());
}

on_backends!(postgres: #[tokio::test(flavor = "multi_thread", worker_threads = 4)] idempotency_keys_hold_across_nodes);
async fn idempotency_keys_hold_across_nodes() {
    let db = Arc::new(TestDatabase::create());
    let args = ["--allow-private-targets"];
    let a = Herald::start_on(&[], &args, Some(db.clone())).await;
    let b = Herald::start_on(&[], &args, Some(db.clone())).await;
    let app = a.app().await;
    let body = br#"{"type":"a.b","payload":{"n":1}}"#;
    for round in 0..10 {
        let key = format!("k-{round}");
        let path = format!("/v1/apps/{app}/events");
        let headers = [("idempotency-key", key.as_str())];
        let (ra, rb) = tokio::join!(
            a.raw(&path, body, "application/json", &headers),
            b.raw(&path, body, "application/json", &headers)
        );
        assert_eq!((ra.0, rb.0), (202, 202), "{ra:?} {rb:?}");
        assert_eq!(
            ra.1["id"], rb.1["id"],
            "one event per key, whichever node answers"
        );
        assert_ne!(ra.1["replayed"], rb.1["replayed"]);
    }
    let (_, events) = a.get(&format!("/v1/apps/{app}/events?limit=250")).await;
    assert_eq!(events["data"].as_array().unwrap().len(), 10);
}

on_backends!(postgres: #[tokio::test(flavor = "multi_thread", worker_threads = 4)] rate_limit_is_shared_by_the_nodes);
async fn rate_limit_is_shared_by_the_nodes() {
    let db = Arc::new(TestDatabase::create());
    let args = ["--allow-private-targets"];
    let a = Herald::start_on(&[], &args, Some(db.clone())).await;
    let b = Herald::start_on(&[], &args, Some(db.clone())).await;
    tokio::time::sleep(Duration::from_secs(4)).await; // both nodes have beaten
    let rx = Receiver::start().await;
    let app = a.app().await;
    a.endpoint(&app, &rx.url("/rl"), json!({"rate_limit": 4}))
        .await;
    send_alternately(&[&a, &b], &app, 24).await;
    let got = rx.wait("/rl", 24, Duration::from_secs(30)).await;
    let span = got.last().unwrap().at.duration_since(got[0].at);
    // 24 at 4/s cluster-wide (2/s per node after a one-token start each): about 5.5 s;
    // were each node to apply the whole limit (8/s) it would take under 3 s.
    assert!(
        span >= Duration::from_secs(4),
        "24 deliveries at 4/s took only {span:?}"
    );
}
