//! Events: ingest rules, batches, idempotency, limits, reads and retention.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

const ODD: &str = r#"[12345678901234567890123, 1E+2, -0.0, "Zo\u00eb ✓", {"z":null , "a":[]}]"#;

on_backends!(both: payload_bytes_are_kept_exactly_and_reads_work);
async fn payload_bytes_are_kept_exactly_and_reads_work() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let ep = h.endpoint(&app, &rx.url("/p"), json!({})).await;
    let body =
        format!(r#"{{"type":"order.paid","payload":{ODD},"subject":"o/1","source":"/shop"}}"#);
    let (s, ev) = h
        .raw(
            &format!("/v1/apps/{app}/events"),
            body.as_bytes(),
            "application/json",
            &[],
        )
        .await;
    assert_eq!(s, 202, "{ev}");
    assert_eq!(
        (ev["type"].as_str(), ev["replayed"].as_bool()),
        (Some("order.paid"), Some(false))
    );
    let del = ev["deliveries"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(ev["deliveries"][0]["endpoint_id"], ep["id"]);
    assert_eq!(ev["deliveries"][0]["status"], "pending");

    // The stored payload comes back byte for byte, in the event and in the delivery.
    let evt = ev["id"].as_str().unwrap();
    let text = h
        .http
        .get(format!("{}/v1/apps/{app}/events/{evt}", h.url))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(&format!(r#""payload":{ODD}"#)), "{text}");
    let got = rx.wait("/p", 1, Duration::from_secs(10)).await;
    assert!(String::from_utf8_lossy(&got[0].body).contains(&format!(r#""data":{ODD}}}"#)));
    h.wait_status(&app, &del, "succeeded", Duration::from_secs(10))
        .await;
    let text = h
        .http
        .get(format!(
            "{}/v1/apps/{app}/deliveries/{del}?include_payload=true",
            h.url
        ))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(&format!(r#""payload":{ODD}"#)), "{text}");
    let (_, d) = h.get(&format!("/v1/apps/{app}/deliveries/{del}")).await;
    assert!(d.get("payload").is_none());
    let (_, e) = h.get(&format!("/v1/apps/{app}/events/{evt}")).await;
    assert_eq!(e["deliveries"][0]["attempts"], 1);
    assert_eq!(e["deliveries"][0]["status"], "succeeded");
    assert_eq!(e["subject"], "o/1");

    // Filters on lists.
    h.send(&app, "user.created", json!({})).await;
    let (_, l) = h
        .get(&format!("/v1/apps/{app}/events?type=user.created"))
        .await;
    assert_eq!(l["data"].as_array().unwrap().len(), 1);
    let (_, l) = h
        .get(&format!(
            "/v1/apps/{app}/events?before=2000-01-01T00:00:00Z"
        ))
        .await;
    assert_eq!(l["data"].as_array().unwrap().len(), 0);
    let (_, l) = h
        .get(&format!("/v1/apps/{app}/events?after=2000-01-01T00:00:00Z"))
        .await;
    assert_eq!(l["data"].as_array().unwrap().len(), 2);
    let (s, v) = h
        .get(&format!("/v1/apps/{app}/events?after=yesterday"))
        .await;
    assert_error(s, &v, 400, "invalid_request");
    let (_, l) = h
        .get(&format!(
            "/v1/apps/{app}/deliveries?status=succeeded&endpoint_id={}&event_id={evt}",
            ep["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(l["data"].as_array().unwrap().len(), 1);
    let (_, l) = h
        .get(&format!("/v1/apps/{app}/deliveries?endpoint_id=ep_none"))
        .await;
    assert_eq!(l["data"].as_array().unwrap().len(), 0);
    let (_, l) = h
        .get(&format!("/v1/apps/{app}/deliveries?event_id={evt}"))
        .await;
    assert_eq!(l["data"][0]["id"], del.as_str());
    let (_, l) = h
        .get(&format!("/v1/apps/{app}/deliveries?status=failed"))
        .await;
    assert_eq!(l["data"].as_array().unwrap().len(), 0);
    let (s, v) = h
        .get(&format!("/v1/apps/{app}/deliveries?status=weird"))
        .await;
    assert_error(s, &v, 400, "invalid_request");
}

/// The endpoint ids of a receipt's deliveries, sorted.
fn targets(receipt: &serde_json::Value) -> Vec<String> {
    let mut t: Vec<String> = receipt["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["endpoint_id"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

on_backends!(both: fan_out_filters_and_endpoint_ids);
async fn fan_out_filters_and_endpoint_ids() {
    let h = Herald::start(&[]).await;
    let app = h.app().await;
    let a = h
        .endpoint(
            &app,
            "http://127.0.0.1:9/a",
            json!({"event_types":["order.*"]}),
        )
        .await;
    let b = h
        .endpoint(
            &app,
            "http://127.0.0.1:9/b",
            json!({"event_types":["user.created"]}),
        )
        .await;
    let c = h.endpoint(&app, "http://127.0.0.1:9/c", json!({})).await;
    let off = h
        .endpoint(&app, "http://127.0.0.1:9/d", json!({"disabled": true}))
        .await;
    let id = |e: &serde_json::Value| e["id"].as_str().unwrap().to_string();
    let mut want = vec![id(&a), id(&c)];
    want.sort();
    assert_eq!(targets(&h.send(&app, "order.paid", json!({})).await), want);
    let mut want = vec![id(&b), id(&c)];
    want.sort();
    assert_eq!(
        targets(&h.send(&app, "user.created", json!({})).await),
        want
    );
    assert_eq!(
        targets(&h.send(&app, "orders.x", json!({})).await),
        vec![id(&c)]
    );
    let (s, v) = h
        .post(
            &format!("/v1/apps/{app}/events"),
            json!({"type":"order.paid","payload":{},"endpoint_ids":[id(&b)]}),
        )
        .await;
    assert_eq!(s, 202);
    assert_eq!(targets(&v), vec![id(&b)]);
    let other = h.app().await;
    let foreign = h.endpoint(&other, "http://127.0.0.1:9/f", json!({})).await;
    for ids in [
        json!(["ep_01JZZZZZZZZZZZZZZZZZZZZZZZ"]),
        json!([id(&a), id(&foreign)]),
        json!([]),
    ] {
        let (s, v) = h
            .post(
                &format!("/v1/apps/{app}/events"),
                json!({"type":"order.paid","payload":{},"endpoint_ids":ids}),
            )
            .await;
        assert_error(s, &v, 400, "invalid_request");
        assert_eq!(v["error"]["param"], "endpoint_ids");
    }
    assert!(!targets(&h.send(&app, "anything", json!({})).await).contains(&id(&off)));
}

on_backends!(both: fan_out_follows_every_endpoint_change_at_once);
/// Each change to an app's endpoints holds for the very next event (SQLite keeps each app's
/// active endpoints in memory for ingest; every change must reach that copy at once).
async fn fan_out_follows_every_endpoint_change_at_once() {
    let h = Herald::start(&[]).await;
    let app = h.app().await;
    let id = |e: &serde_json::Value| e["id"].as_str().unwrap().to_string();
    let both = |x: &str, y: &str| {
        let mut v = vec![x.to_string(), y.to_string()];
        v.sort();
        v
    };
    let a = id(&h.endpoint(&app, "http://127.0.0.1:9/a", json!({})).await);
    assert_eq!(
        targets(&h.send(&app, "x.y", json!({})).await),
        vec![a.clone()]
    );
    // A new endpoint.
    let b = id(&h.endpoint(&app, "http://127.0.0.1:9/b", json!({})).await);
    assert_eq!(targets(&h.send(&app, "x.y", json!({})).await), both(&a, &b));
    // A changed filter.
    let (s, v) = h
        .patch(
            &format!("/v1/apps/{app}/endpoints/{b}"),
            json!({"event_types": ["only.this"]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        targets(&h.send(&app, "x.y", json!({})).await),
        vec![a.clone()]
    );
    assert_eq!(
        targets(&h.send(&app, "only.this", json!({})).await),
        both(&a, &b)
    );
    // Disabled, then enabled again.
    let (s, v) = h
        .patch(
            &format!("/v1/apps/{app}/endpoints/{a}"),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(targets(&h.send(&app, "x.y", json!({})).await).is_empty());
    h.patch(
        &format!("/v1/apps/{app}/endpoints/{a}"),
        json!({"disabled": false}),
    )
    .await;
    assert_eq!(
        targets(&h.send(&app, "x.y", json!({})).await),
        vec![a.clone()]
    );
    // Deleted.
    let (s, v) = h.delete(&format!("/v1/apps/{app}/endpoints/{a}")).await;
    assert_eq!(s, 204, "{v}");
    assert!(targets(&h.send(&app, "x.y", json!({})).await).is_empty());
    assert_eq!(
        targets(&h.send(&app, "only.this", json!({})).await),
        vec![b.clone()]
    );
}

on_backends!(both: batch_commits_valid_items_and_reports_each);
async fn batch_commits_valid_items_and_reports_each() {
    let h = Herald::start(&[]).await;
    let app = h.app().await;
    h.post("/v1/event-types", json!({"name":"b.t","schema":{"type":"object","required":["i"],"properties":{"i":{"type":"integer"}}}})).await;
    let items = json!({"items":[
        {"type":"b.t","payload":{"i":0},"idempotency_key":"k0"},
        {"type":"b.t","payload":{"i":"one"}},
        {"type":"bad type","payload":{}},
        {"type":"b.t","payload":{"i":3},"surprise":1},
        {"type":"b.t","payload":{"i":4}}
    ]});
    let (s, b) = h
        .post(&format!("/v1/apps/{app}/events/batch"), items.clone())
        .await;
    assert_eq!(s, 207, "{b}");
    let r = b["items"].as_array().unwrap();
    assert_eq!(
        r.iter()
            .map(|x| x["index"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert!(r[0]["id"].as_str().unwrap().starts_with("evt_") && r[4]["id"].is_string());
    assert_eq!(r[1]["error"]["code"], "schema_violation");
    assert_eq!(r[2]["error"]["param"], "type");
    assert_eq!(r[3]["error"]["param"], "surprise");
    let (_, events) = h.get(&format!("/v1/apps/{app}/events")).await;
    assert_eq!(
        events["data"].as_array().unwrap().len(),
        2,
        "only accepted items are stored"
    );
    // Item idempotency keys replay.
    let (s, again) = h
        .post(
            &format!("/v1/apps/{app}/events/batch"),
            json!({"items":[{"type":"b.t","payload":{"i":0},"idempotency_key":"k0"}]}),
        )
        .await;
    assert_eq!(s, 202);
    assert_eq!(
        (
            again["items"][0]["id"].clone(),
            again["items"][0]["replayed"].clone()
        ),
        (r[0]["id"].clone(), json!(true))
    );
    for bad in [
        json!({"items":[]}),
        json!({"items": (0..101).map(|_| json!({"type":"a","payload":{}})).collect::<Vec<_>>()}),
        json!({}),
        json!({"items":[], "x":1}),
    ] {
        let (s, v) = h.post(&format!("/v1/apps/{app}/events/batch"), bad).await;
        assert_error(s, &v, 400, "invalid_request");
    }
}

on_backends!(both: idempotency_replays_identical_bytes_and_rejects_others);
async fn idempotency_replays_identical_bytes_and_rejects_others() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/i"), json!({})).await;
    let path = format!("/v1/apps/{app}/events");
    let body = br#"{"type":"a.b","payload":{"n":1}}"#;
    let (s, first) = h
        .raw(
            &path,
            body,
            "application/json",
            &[("idempotency-key", "key-1")],
        )
        .await;
    assert_eq!(s, 202);
    let (s, again) = h
        .raw(
            &path,
            body,
            "application/json",
            &[("idempotency-key", "key-1")],
        )
        .await;
    assert_eq!((s, again["replayed"].as_bool()), (202, Some(true)));
    assert_eq!(
        (again["id"].clone(), again["deliveries"].clone()),
        (first["id"].clone(), first["deliveries"].clone())
    );
    let (s, v) = h
        .raw(
            &path,
            br#"{"type":"a.b","payload":{"n": 1}}"#,
            "application/json",
            &[("idempotency-key", "key-1")],
        )
        .await;
    assert_error(s, &v, 409, "conflict");
    assert_eq!(v["error"]["code"], "idempotency_conflict");
    let (s, v) = h
        .raw(
            &path,
            body,
            "application/json",
            &[("idempotency-key", &"k".repeat(256))],
        )
        .await;
    assert_error(s, &v, 400, "invalid_request");
    let (s, _) = h
        .raw(
            &path,
            body,
            "application/json",
            &[("idempotency-key", &"k".repeat(255))],
        )
        .await;
    assert_eq!(s, 202);
    rx.wait("/i", 2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.requests("/i").len(), 2, "a replay creates no delivery");
}

on_backends!(both: idempotency_keys_expire_after_their_retention);
async fn idempotency_keys_expire_after_their_retention() {
    let h = Herald::start(&[("HERALD_IDEMPOTENCY_RETENTION", "1s")]).await;
    let app = h.app().await;
    let path = format!("/v1/apps/{app}/events");
    let body = br#"{"type":"a.b","payload":{}}"#;
    let (_, first) = h
        .raw(&path, body, "application/json", &[("idempotency-key", "k")])
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (s, again) = h
        .raw(&path, body, "application/json", &[("idempotency-key", "k")])
        .await;
    assert_eq!((s, again["replayed"].as_bool()), (202, Some(false)));
    assert_ne!(again["id"], first["id"]);
}

on_backends!(both: body_errors_413_415_400);
async fn body_errors_413_415_400() {
    let h = Herald::start(&[
        ("HERALD_MAX_EVENT_BYTES", "2048"),
        ("HERALD_MAX_BATCH_BYTES", "8192"),
    ])
    .await;
    let app = h.app().await;
    let path = format!("/v1/apps/{app}/events");
    let big = format!(
        r#"{{"type":"a.b","payload":{{"pad":"{}"}}}}"#,
        "p".repeat(3000)
    );
    let (s, v) = h.raw(&path, big.as_bytes(), "application/json", &[]).await;
    assert_error(s, &v, 413, "payload_too_large");
    let item = json!({"type":"a.b","payload":{"pad":"q".repeat(1000)}});
    let (s, v) = h
        .post(
            &format!("{path}/batch"),
            json!({"items": vec![item.clone(); 9]}),
        )
        .await;
    assert_error(s, &v, 413, "payload_too_large");
    let (s, _) = h
        .post(&format!("{path}/batch"), json!({"items": vec![item; 2]}))
        .await;
    assert_eq!(
        s, 202,
        "a batch over the event limit but under the batch limit is fine"
    );
    let (s, v) = h
        .raw(&path, br#"{"type":"a.b","payload":{}}"#, "text/plain", &[])
        .await;
    assert_error(s, &v, 415, "invalid_request");
    let (s, v) = h
        .raw(
            &path,
            br#"{"type": "a.b", "payload": {"#,
            "application/json",
            &[],
        )
        .await;
    assert_error(s, &v, 400, "invalid_request");
    let (s, v) = h
        .raw(&path, br#"{"payload":{}}"#, "application/json", &[])
        .await;
    assert_error(s, &v, 400, "invalid_request");
    assert_eq!(v["error"]["param"], "type");
    let (s, v) = h
        .raw(&path, br#"{"type":"a.b"}"#, "application/json", &[])
        .await;
    assert_error(s, &v, 400, "invalid_request");
    assert_eq!(v["error"]["param"], "payload");
    let (s, v) = h.raw(&path, br#"[1,2]"#, "application/json", &[]).await;
    assert_error(s, &v, 400, "invalid_request");
    let (s, v) = h
        .raw(
            "/v1/apps/app_01JZZZZZZZZZZZZZZZZZZZZZZZ/events",
            br#"{"type":"a","payload":{}}"#,
            "application/json",
            &[],
        )
        .await;
    assert_error(s, &v, 404, "not_found");
}

on_backends!(both: retention_deletes_finished_events_only);
async fn retention_deletes_finished_events_only() {
    let h = Herald::start(&[
        ("HERALD_RETENTION", "1s"),
        ("HERALD_SWEEP_INTERVAL", "200ms"),
        ("HERALD_RETRY_SCHEDULE", "1h"),
    ])
    .await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    h.endpoint(&app, &rx.url("/ok"), json!({"event_types":["done"]}))
        .await;
    rx.script("/down", vec![], Reply::status(500));
    h.endpoint(&app, &rx.url("/down"), json!({"event_types":["stuck"]}))
        .await;
    let done = h.send(&app, "done", json!({})).await;
    let stuck = h.send(&app, "stuck", json!({})).await;
    let gone = format!("/v1/apps/{app}/events/{}", done["id"].as_str().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (s, _) = h.get(&gone).await;
        if s == 404 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "finished event never swept"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (s, _) = h
        .get(&format!(
            "/v1/apps/{app}/events/{}",
            stuck["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, 200, "an event with a pending delivery is kept");
}
