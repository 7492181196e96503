//! Isolation between endpoints, per-endpoint limits, and ordered endpoints.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

on_backends!(both: a_slow_endpoint_does_not_delay_a_fast_one);
async fn a_slow_endpoint_does_not_delay_a_fast_one() {
    let h = Herald::start(&[("HERALD_ATTEMPT_TIMEOUT", "30s")]).await;
    let rx = Receiver::start().await;
    rx.script(
        "/slow",
        vec![],
        Reply::status(200).delayed(Duration::from_secs(5)),
    );
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/slow"), json!({"max_in_flight": 2}))
        .await;
    h.endpoint(&app, &rx.url("/fast"), json!({})).await;
    let start = Instant::now();
    for i in 0..40 {
        h.send(&app, "a.b", json!({"i": i})).await;
    }
    let got = rx.try_wait("/fast", 40, Duration::from_secs(10)).await;
    if got.len() < 40 {
        if let Some(db) = &h.db {
            let state = db.sql(
                "SELECT d.status, d.attempts, d.next_attempt_at, d.lease_until, e.next_due_at, e.url,
                        (extract(epoch from clock_timestamp()) * 1000)::bigint
                 FROM deliveries d JOIN endpoints e ON e.id = d.endpoint_id
                 WHERE e.url LIKE '%/fast' AND d.status = 'pending'",
            );
            panic!("only {} of 40 arrived; pending: {state}", got.len());
        }
        panic!("only {} of 40 arrived", got.len());
    }
    let last = got
        .iter()
        .map(|r| r.at.duration_since(start))
        .max()
        .unwrap();
    assert!(
        last < Duration::from_secs(3),
        "fast endpoint waited {last:?} behind the slow one"
    );
    assert!(
        rx.requests("/slow").len() <= 2,
        "max_in_flight 2 on the slow endpoint"
    );
    assert!(rx.max_in_flight("/slow") <= 2);
}

on_backends!(both: max_in_flight_and_rate_limit_are_enforced);
async fn max_in_flight_and_rate_limit_are_enforced() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    rx.script(
        "/one",
        vec![],
        Reply::status(200).delayed(Duration::from_millis(100)),
    );
    let app = h.app().await;
    h.endpoint(
        &app,
        &rx.url("/one"),
        json!({"max_in_flight": 1, "event_types":["one"]}),
    )
    .await;
    h.endpoint(
        &app,
        &rx.url("/rate"),
        json!({"rate_limit": 5, "event_types":["rate"]}),
    )
    .await;
    for _ in 0..8 {
        h.send(&app, "one", json!({})).await;
    }
    for _ in 0..15 {
        h.send(&app, "rate", json!({})).await;
    }
    rx.wait("/one", 8, Duration::from_secs(10)).await;
    assert_eq!(rx.max_in_flight("/one"), 1);
    let got = rx.wait("/rate", 15, Duration::from_secs(10)).await;
    let span = got.last().unwrap().at.duration_since(got[0].at);
    // 15 deliveries at 5/s with a burst of at most one second's worth: ≥ about 2 s.
    assert!(
        span >= Duration::from_millis(1800),
        "15 deliveries at 5/s took only {span:?}"
    );
}

on_backends!(both: a_full_endpoints_stored_deliveries_go_as_soon_as_it_frees_a_place);
/// Fresh deliveries to an endpoint whose queue is full stay in the store without waking the
/// engine; it claims them when the endpoint frees a place, not at its next idle look (2 s).
async fn a_full_endpoints_stored_deliveries_go_as_soon_as_it_frees_a_place() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    rx.script(
        "/one",
        vec![],
        Reply::status(200).delayed(Duration::from_millis(50)),
    );
    let app = h.app().await;
    // One in flight, eight in memory (0.4 s of work): most of the 40 events find the queue
    // full. Left to the idle look, the rest would wait ~1.6 s after the queue ran dry.
    h.endpoint(&app, &rx.url("/one"), json!({"max_in_flight": 1}))
        .await;
    for i in 0..40 {
        h.send(&app, "a", json!({"i": i})).await;
    }
    let got = rx.wait("/one", 40, Duration::from_secs(20)).await;
    let gaps: Vec<Duration> = got
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at))
        .collect();
    let longest = gaps.iter().max().unwrap();
    assert!(
        *longest < Duration::from_millis(1000),
        "a delivery waited {longest:?} after the one before it (gaps {gaps:?})"
    );
    assert_eq!(rx.max_in_flight("/one"), 1);
}

on_backends!(both: ordered_endpoints_deliver_strictly_in_order_across_retries);
async fn ordered_endpoints_deliver_strictly_in_order_across_retries() {
    let h = Herald::start(&[("HERALD_RETRY_SCHEDULE", "300ms,300ms,300ms")]).await;
    let rx = Receiver::start().await;
    // The first attempt of every event fails once: each must be retried before the next.
    rx.script(
        "/ord",
        vec![Reply::status(500), Reply::status(200), Reply::status(500)],
        Reply::status(200),
    );
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/ord"), json!({"ordered": true}))
        .await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            h.send(&app, "o", json!({"i": i})).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let got = rx.wait("/ord", 8, Duration::from_secs(20)).await;
    let seen: Vec<String> = got.iter().map(|r| r.header("webhook-id")).collect();
    // Arrival order with retries: e0 (500), e0 (200), e1 (500), e1 (200), e2, ...
    let expect: Vec<String> = [0, 0, 1, 1, 2, 3, 4, 5]
        .iter()
        .map(|&i| ids[i].clone())
        .collect();
    assert_eq!(seen, expect);
    assert_eq!(rx.max_in_flight("/ord"), 1);
}

on_backends!(both: ordered_endpoints_stay_ordered_across_a_crash);
async fn ordered_endpoints_stay_ordered_across_a_crash() {
    let mut h = Herald::start_process(&[("HERALD_RETRY_SCHEDULE", "2s,2s,2s,2s")]).await;
    let rx = Receiver::start().await;
    rx.script("/oc", vec![Reply::status(500)], Reply::status(200));
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/oc"), json!({"ordered": true}))
        .await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(
            h.send(&app, "o", json!({"i": i})).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    rx.wait("/oc", 1, Duration::from_secs(10)).await;
    h.kill(); // event 0 is waiting for its retry; 1..3 have never been attempted
    h.spawn().await;
    let got = rx.wait("/oc", 5, Duration::from_secs(20)).await;
    let seen: Vec<String> = got.iter().map(|r| r.header("webhook-id")).collect();
    let expect: Vec<String> = [0, 0, 1, 2, 3].iter().map(|&i| ids[i].clone()).collect();
    assert_eq!(seen, expect);
}
