//! Outcomes of attempts: retries, Retry-After, 410, redirects, timeouts, error kinds,
//! manual retry, recover, the failure policy, cancellation, and the SSRF guard.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

fn ms(r: &Received, prev: &Received) -> u128 {
    r.at.duration_since(prev.at).as_millis()
}

on_backends!(both: retries_follow_the_schedule_and_record_attempts);
async fn retries_follow_the_schedule_and_record_attempts() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let big = vec![b'x'; 10_000];
    rx.script(
        "/r",
        vec![
            Reply::status(500).body(b"boom"),
            Reply::status(503).body(&big),
        ],
        Reply::status(200).body(b"fine"),
    );
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/r"), json!({})).await;
    let ev = h.send(&app, "a.b", json!({})).await;
    let del = ev["deliveries"][0]["id"].as_str().unwrap();
    let got = rx.wait("/r", 3, Duration::from_secs(15)).await;
    assert_eq!(
        got.iter()
            .map(|r| r.header("herald-attempt"))
            .collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    assert!(got
        .iter()
        .all(|r| r.header("webhook-id") == ev["id"].as_str().unwrap()));
    for w in got.windows(2) {
        assert!(
            ms(&w[1], &w[0]) >= 900,
            "retry came after {} ms",
            ms(&w[1], &w[0])
        );
    }
    let d = h
        .wait_status(&app, del, "succeeded", Duration::from_secs(10))
        .await;
    assert_eq!(
        (d["attempts"].as_i64(), d["last_status_code"].as_i64()),
        (Some(3), Some(200))
    );
    let atts = h.attempts(&app, del).await;
    assert_eq!(
        atts.iter()
            .map(|a| a["number"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(
        atts.iter()
            .map(|a| a["status_code"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [500, 503, 200]
    );
    assert_eq!(atts[0]["response_body"], "boom");
    assert_eq!(atts[1]["response_body"].as_str().unwrap().len(), 4096);
    assert_eq!(atts[0]["error"]["kind"], "http_status");
    assert!(atts[2]["error"].is_null());
    assert!(atts
        .iter()
        .all(|a| a["id"].as_str().unwrap().starts_with("att_") && a["duration_ms"].is_i64()));
    // Attempts paginate oldest first.
    let (_, p1) = h
        .get(&format!("/v1/apps/{app}/deliveries/{del}/attempts?limit=2"))
        .await;
    assert_eq!(p1["data"].as_array().unwrap().len(), 2);
    let (_, p2) = h
        .get(&format!(
            "/v1/apps/{app}/deliveries/{del}/attempts?limit=2&cursor={}",
            p1["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(p2["data"][0]["number"], 3);
    assert!(p2["next_cursor"].is_null());
}

on_backends!(both: retries_claimed_ahead_start_no_earlier_than_due);
/// Retries are claimed a little ahead of their due time and wait for it in memory: none
/// may start before the time stored for it.
async fn retries_claimed_ahead_start_no_earlier_than_due() {
    const N: usize = 20;
    let h = Herald::start(&[("HERALD_RETRY_SCHEDULE", "1s")]).await;
    let rx = Receiver::start().await;
    rx.script("/due", vec![Reply::status(500); N], Reply::status(204));
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/due"), json!({})).await;
    let mut dels = Vec::new();
    for i in 0..N {
        let ev = h.send(&app, "a.b", json!({ "i": i })).await;
        dels.push(ev["deliveries"][0]["id"].as_str().unwrap().to_string());
    }
    // Each retry's due time as stored once the first attempt failed (jitter spreads them
    // over 0.8-1.2 s, so one claim takes several ahead of their time).
    let mut due = std::collections::HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    for del in &dels {
        loop {
            let d = h.delivery(&app, del).await;
            if d["attempts"] == 1 {
                if let Some(at) = d["next_attempt_at"].as_str() {
                    let t = time::OffsetDateTime::parse(
                        at,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .unwrap();
                    due.insert(del.clone(), (t.unix_timestamp_nanos() / 1_000_000) as i64);
                    break;
                }
            }
            assert!(d["attempts"] == 0 && Instant::now() < deadline, "{d}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let got = rx.wait("/due", 2 * N, Duration::from_secs(15)).await;
    let retries: Vec<&Received> = got
        .iter()
        .filter(|r| r.header("herald-attempt") == "2")
        .collect();
    assert_eq!(retries.len(), N);
    for r in retries {
        let at = due[&r.header("herald-delivery-id")];
        assert!(
            r.wall_ms >= at,
            "a retry started {} ms before its due time",
            at - r.wall_ms
        );
        assert!(
            r.wall_ms - at < 2_000,
            "a retry came {} ms late",
            r.wall_ms - at
        );
    }
}

on_backends!(both: retry_after_is_a_floor_and_exhaustion_fails_then_manual_retry);
async fn retry_after_is_a_floor_and_exhaustion_fails_then_manual_retry() {
    let h = Herald::start(&[("HERALD_RETRY_SCHEDULE", "200ms,200ms")]).await;
    let rx = Receiver::start().await;
    rx.script(
        "/ra",
        vec![Reply::status(429).header("retry-after", "2")],
        Reply::status(500),
    );
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/ra"), json!({})).await;
    let ev = h.send(&app, "a.b", json!({})).await;
    let del = ev["deliveries"][0]["id"].as_str().unwrap();
    let got = rx.wait("/ra", 3, Duration::from_secs(15)).await;
    assert!(
        ms(&got[1], &got[0]) >= 1900,
        "Retry-After ignored: {} ms",
        ms(&got[1], &got[0])
    );
    assert!(ms(&got[2], &got[1]) < 1500, "schedule delay applies again");
    let d = h
        .wait_status(&app, del, "failed", Duration::from_secs(10))
        .await;
    assert_eq!(d["attempts"], 3);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(rx.requests("/ra").len(), 3, "nothing after exhaustion");
    rx.script("/ra", vec![], Reply::status(204));
    let (s, _) = h
        .post(&format!("/v1/apps/{app}/deliveries/{del}/retry"), json!({}))
        .await;
    assert_eq!(s, 202);
    let d = h
        .wait_status(&app, del, "succeeded", Duration::from_secs(10))
        .await;
    assert_eq!(d["attempts"], 4);
    assert_eq!(rx.requests("/ra")[3].header("herald-attempt"), "4");
}

on_backends!(both: gone_disables_and_redirects_are_failures);
async fn gone_disables_and_redirects_are_failures() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    rx.script("/gone", vec![], Reply::status(410));
    rx.script(
        "/redir",
        vec![],
        Reply::status(302).header("location", &rx.url("/elsewhere")),
    );
    let app = h.app().await;
    let gone = h
        .endpoint(&app, &rx.url("/gone"), json!({"event_types":["g"]}))
        .await;
    h.endpoint(&app, &rx.url("/redir"), json!({"event_types":["r"]}))
        .await;
    let g = h.send(&app, "g", json!({})).await;
    let r = h.send(&app, "r", json!({})).await;
    let d = h
        .wait_status(
            &app,
            g["deliveries"][0]["id"].as_str().unwrap(),
            "failed",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(
        (d["attempts"].as_i64(), d["last_status_code"].as_i64()),
        (Some(1), Some(410))
    );
    let (_, e) = h
        .get(&format!(
            "/v1/apps/{app}/endpoints/{}",
            gone["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(e["status"], "auto_disabled");
    assert!(e["disabled_reason"].as_str().unwrap().contains("gone"));
    assert_eq!(h.send(&app, "g", json!({})).await["deliveries"], json!([]));
    rx.wait("/redir", 2, Duration::from_secs(10)).await;
    assert!(rx.requests("/elsewhere").is_empty(), "redirect followed");
    let atts = h
        .attempts(&app, r["deliveries"][0]["id"].as_str().unwrap())
        .await;
    assert_eq!(atts[0]["status_code"], 302);
    assert!(atts[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/elsewhere"));
}

on_backends!(both: timeouts_and_connection_errors_are_classified);
async fn timeouts_and_connection_errors_are_classified() {
    let h = Herald::start(&[
        ("HERALD_ATTEMPT_TIMEOUT", "500ms"),
        ("HERALD_RETRY_SCHEDULE", "1h"),
    ])
    .await;
    let rx = Receiver::start().await;
    rx.script(
        "/slow",
        vec![],
        Reply::status(200).delayed(Duration::from_secs(3)),
    );
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/slow"), json!({"event_types":["slow"]}))
        .await;
    h.endpoint(
        &app,
        &format!("http://127.0.0.1:{}/closed", free_port()),
        json!({"event_types":["closed"]}),
    )
    .await;
    let slow = h.send(&app, "slow", json!({})).await;
    // TLS spoken to a plain-HTTP server fails the handshake.
    h.endpoint(
        &app,
        &format!("https://127.0.0.1:{}/tls", rx.port),
        json!({"event_types":["tls"]}),
    )
    .await;
    let closed = h.send(&app, "closed", json!({})).await;
    let tls = h.send(&app, "tls", json!({})).await;
    for (ev, kind) in [(slow, "timeout"), (closed, "connect"), (tls, "tls")] {
        let del = ev["deliveries"][0]["id"].as_str().unwrap().to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        let atts = loop {
            let a = h.attempts(&app, &del).await;
            if !a.is_empty() || Instant::now() > deadline {
                break a;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(atts[0]["error"]["kind"], kind, "{atts:?}");
        assert!(atts[0]["status_code"].is_null() && atts[0]["response_body"].is_null());
        let d = h.delivery(&app, &del).await;
        assert_eq!(d["status"], "pending", "retried later");
        assert!(d["next_attempt_at"].is_string());
    }
}

on_backends!(both: recover_requeues_failed_deliveries_since);
async fn recover_requeues_failed_deliveries_since() {
    let h = Herald::start(&[("HERALD_RETRY_SCHEDULE", "100ms")]).await;
    let rx = Receiver::start().await;
    rx.script("/rec", vec![], Reply::status(500));
    let app = h.app().await;
    let ep = h.endpoint(&app, &rx.url("/rec"), json!({})).await;
    let old = h.send(&app, "a", json!({})).await;
    h.wait_status(
        &app,
        old["deliveries"][0]["id"].as_str().unwrap(),
        "failed",
        Duration::from_secs(10),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let since = herald_server::timefmt::format_ms(herald_server::timefmt::now_ms());
    let new = h.send(&app, "a", json!({})).await;
    let new_del = new["deliveries"][0]["id"].as_str().unwrap();
    h.wait_status(&app, new_del, "failed", Duration::from_secs(10))
        .await;
    rx.script("/rec", vec![], Reply::status(200));
    let (s, r) = h
        .post(
            &format!(
                "/v1/apps/{app}/endpoints/{}/recover",
                ep["id"].as_str().unwrap()
            ),
            json!({"since": since}),
        )
        .await;
    assert_eq!((s, r["requeued"].as_i64()), (202, Some(1)));
    h.wait_status(&app, new_del, "succeeded", Duration::from_secs(10))
        .await;
    assert_eq!(
        h.delivery(&app, old["deliveries"][0]["id"].as_str().unwrap())
            .await["status"],
        "failed"
    );
    let (s, v) = h
        .post(
            &format!(
                "/v1/apps/{app}/endpoints/{}/recover",
                ep["id"].as_str().unwrap()
            ),
            json!({"since": "last week"}),
        )
        .await;
    assert_error(s, &v, 400, "invalid_request");
    let (_, stats) = h
        .get(&format!(
            "/v1/apps/{app}/endpoints/{}/stats",
            ep["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (stats["succeeded"].as_i64(), stats["failed"].as_i64()),
        (Some(1), Some(1)),
        "{stats}"
    );
    assert_eq!(stats["last_outcome"], "succeeded");
}

on_backends!(both: failing_endpoint_is_auto_disabled_and_pending_cancelled);
async fn failing_endpoint_is_auto_disabled_and_pending_cancelled() {
    let h = Herald::start(&[
        ("HERALD_AUTO_DISABLE_AFTER", "1s"),
        (
            "HERALD_RETRY_SCHEDULE",
            "300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
        ),
    ])
    .await;
    let rx = Receiver::start().await;
    rx.script("/bad", vec![], Reply::status(500));
    let app = h.app().await;
    let ep = h.endpoint(&app, &rx.url("/bad"), json!({})).await;
    let ev = h.send(&app, "a", json!({})).await;
    let del = ev["deliveries"][0]["id"].as_str().unwrap();
    let e = h
        .wait_endpoint_status(
            &app,
            ep["id"].as_str().unwrap(),
            "auto_disabled",
            Duration::from_secs(10),
        )
        .await;
    assert!(e["disabled_reason"].as_str().unwrap().contains("failing"));
    assert_eq!(h.delivery(&app, del).await["status"], "cancelled");
    // A later event is not fanned out to it.
    let later = h.send(&app, "a", json!({})).await;
    assert_eq!(later["deliveries"], json!([]), "{later}");
    // Re-enabling does not resurrect cancelled deliveries.
    h.patch(
        &format!("/v1/apps/{app}/endpoints/{}", ep["id"].as_str().unwrap()),
        json!({"disabled": false}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(h.delivery(&app, del).await["status"], "cancelled");
}

on_backends!(both: a_success_ends_the_failure_streak_beside_another_endpoints_failures);
async fn a_success_ends_the_failure_streak_beside_another_endpoints_failures() {
    let h = Herald::start(&[
        ("HERALD_AUTO_DISABLE_AFTER", "1s"),
        (
            "HERALD_RETRY_SCHEDULE",
            "300ms,300ms,300ms,300ms,300ms,300ms",
        ),
    ])
    .await;
    let rx = Receiver::start().await;
    // Fails, recovers on its retry (recorded beside the other endpoint's failure of the same
    // moment), then fails once more well after the auto-disable window.
    rx.script(
        "/flaky",
        vec![Reply::status(500), Reply::status(200), Reply::status(500)],
        Reply::status(200),
    );
    rx.script("/bad", vec![], Reply::status(500));
    let app = h.app().await;
    let flaky = h.endpoint(&app, &rx.url("/flaky"), json!({})).await;
    let flaky = flaky["id"].as_str().unwrap();
    h.endpoint(&app, &rx.url("/bad"), json!({})).await;
    let first = h.send(&app, "a", json!({})).await;
    let first_del = delivery_to(&first, flaky);
    h.wait_status(&app, &first_del, "succeeded", Duration::from_secs(5))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = h
        .post(
            &format!("/v1/apps/{app}/events"),
            json!({"type": "a", "payload": {}, "endpoint_ids": [flaky]}),
        )
        .await
        .1;
    let second_del = delivery_to(&second, flaky);
    h.wait_status(&app, &second_del, "succeeded", Duration::from_secs(5))
        .await;
    // Its streak began again at the second failure: one failure is not "over 1 s".
    let (_, e) = h.get(&format!("/v1/apps/{app}/endpoints/{flaky}")).await;
    assert_eq!(e["status"], "active", "{e}");
    assert_eq!(rx.requests("/flaky").len(), 4);
}

/// The id of `receipt`'s delivery to endpoint `ep`.
fn delivery_to(receipt: &serde_json::Value, ep: &str) -> String {
    receipt["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["endpoint_id"] == ep)
        .map(|d| d["id"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no delivery to {ep} in {receipt}"))
}

on_backends!(both: disabling_or_deleting_cancels_pending);
async fn disabling_or_deleting_cancels_pending() {
    let h = Herald::start(&[("HERALD_RETRY_SCHEDULE", "1h")]).await;
    let app = h.app().await;
    let closed = format!("http://127.0.0.1:{}/x", free_port());
    let a = h.endpoint(&app, &closed, json!({})).await;
    let b = h.endpoint(&app, &closed, json!({})).await;
    let ev = h.send(&app, "a", json!({})).await;
    let dels = ev["deliveries"].as_array().unwrap().clone();
    for d in &dels {
        h.wait_status(
            &app,
            d["id"].as_str().unwrap(),
            "pending",
            Duration::from_secs(5),
        )
        .await;
    }
    // Both while the first attempts' outcomes may be being recorded (once a deadlock on
    // PostgreSQL: the disable locked the endpoint row before the delivery rows).
    let (s, v) = h
        .patch(
            &format!("/v1/apps/{app}/endpoints/{}", a["id"].as_str().unwrap()),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = h
        .delete(&format!(
            "/v1/apps/{app}/endpoints/{}",
            b["id"].as_str().unwrap()
        ))
        .await;
    assert!(s == 204 || s == 200, "{s} {v}");
    for d in &dels {
        assert_eq!(
            h.delivery(&app, d["id"].as_str().unwrap()).await["status"],
            "cancelled"
        );
    }
}

on_backends!(both: private_targets_are_blocked_by_default);
async fn private_targets_are_blocked_by_default() {
    let h = Herald::start_with(&[("HERALD_RETRY_SCHEDULE", "1h")], &[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/literal"), json!({"event_types":["lit"]}))
        .await;
    h.endpoint(
        &app,
        &format!("http://localhost:{}/named", rx.port),
        json!({"event_types":["named"]}),
    )
    .await;
    h.endpoint(
        &app,
        &format!("http://[::1]:{}/v6", rx.port),
        json!({"event_types":["v6"]}),
    )
    .await;
    for t in ["lit", "named", "v6"] {
        let ev = h.send(&app, t, json!({})).await;
        let del = ev["deliveries"][0]["id"].as_str().unwrap().to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        let atts = loop {
            let a = h.attempts(&app, &del).await;
            if !a.is_empty() || Instant::now() > deadline {
                break a;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(atts[0]["error"]["kind"], "blocked_address", "{t}: {atts:?}");
    }
    assert!(rx.requests("/literal").is_empty() && rx.requests("/named").is_empty());
}

on_backends!(both: allowed_cidrs_lift_the_block);
async fn allowed_cidrs_lift_the_block() {
    let h = Herald::start_with(&[("HERALD_ALLOWED_TARGET_CIDRS", "127.0.0.0/8")], &[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    h.endpoint(&app, &format!("http://localhost:{}/ok", rx.port), json!({}))
        .await;
    h.send(&app, "a", json!({})).await;
    rx.wait("/ok", 1, Duration::from_secs(10)).await;
}
