//! Filters, transformations and the chat formats (`routing.md`), end to end: what reaches
//! real receivers, what is recorded, the test routes, the errors.

use std::time::Duration;

use serde_json::{json, Value};

use crate::delivery_request::verify_independently;
use crate::support::*;

const WAIT: Duration = Duration::from_secs(10);

fn endpoint_ids(receipt: &Value) -> Vec<String> {
    let mut ids: Vec<String> = receipt["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["endpoint_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<&str>) -> Vec<String> {
    ids.sort();
    ids.into_iter().map(str::to_string).collect()
}

async fn metric(h: &Herald, needle: &str) -> Option<f64> {
    let text = h
        .http
        .get(format!("{}/metrics", h.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(needle))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

on_backends!(both: filters_decide_which_endpoints_get_an_event);
async fn filters_decide_which_endpoints_get_an_event() {
    // A process of its own: the filter error counter is per process.
    let h = Herald::start_process(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let id = |v: Value| v["id"].as_str().unwrap().to_string();
    let rich = id(h
        .endpoint(
            &app,
            &rx.url("/rich"),
            json!({"filter": r#"type == "order.paid" && data.amount >= 100 && data.currency in ["EUR", "USD"]"#}),
        )
        .await);
    let all = id(h.endpoint(&app, &rx.url("/all"), json!({})).await);
    let broken = id(h
        .endpoint(
            &app,
            &rx.url("/broken"),
            json!({"filter": "data.missing.deep > 1"}),
        )
        .await);
    let number = id(h
        .endpoint(&app, &rx.url("/number"), json!({"filter": "data.amount"}))
        .await);
    let meta = id(h
        .endpoint(
            &app,
            &rx.url("/meta"),
            json!({"filter": r#"metadata.region == "eu" && subject.startsWith("order/") && data.qty == 3"#}),
        )
        .await);

    let ev = h
        .send(
            &app,
            "order.paid",
            json!({"amount": 150, "currency": "EUR"}),
        )
        .await;
    assert_eq!(endpoint_ids(&ev), sorted(vec![&rich, &all]), "{ev}");
    let ev = h
        .send(
            &app,
            "order.paid",
            json!({"amount": 99.5, "currency": "EUR"}),
        )
        .await;
    assert_eq!(endpoint_ids(&ev), sorted(vec![&all]), "{ev}");
    // An int and a double compare numerically; metadata and subject are variables.
    let (s, ev) = h
        .post(
            &format!("/v1/apps/{app}/events"),
            json!({"type": "order.paid", "payload": {"qty": 3.0, "amount": 100.0, "currency": "USD"},
                   "subject": "order/9", "metadata": {"region": "eu"}}),
        )
        .await;
    assert_eq!(s, 202, "{ev}");
    assert_eq!(endpoint_ids(&ev), sorted(vec![&rich, &all, &meta]), "{ev}");
    // Named endpoints get the event whatever their filter.
    let (s, ev) = h
        .post(
            &format!("/v1/apps/{app}/events"),
            json!({"type": "order.paid", "payload": {"amount": 1}, "endpoint_ids": [rich.clone()]}),
        )
        .await;
    assert_eq!(s, 202, "{ev}");
    assert_eq!(endpoint_ids(&ev), vec![rich.clone()]);
    rx.wait("/rich", 3, WAIT).await;
    rx.wait("/all", 3, WAIT).await;
    assert!(rx.requests("/broken").is_empty() && rx.requests("/number").is_empty());

    // Runtime errors and non-booleans at fan-out are counted: `broken` and `number` for
    // each of the three subscribed events, `meta` for the two without `metadata.region`;
    // the test route's are not.
    let (s, r) = h
        .post(
            &format!("/v1/apps/{app}/endpoints/{broken}/filter/test"),
            json!({"type": "order.paid", "payload": {}}),
        )
        .await;
    assert_eq!((s, r["matches"].as_bool()), (200, Some(false)), "{r}");
    assert!(r["error"].as_str().unwrap().contains("missing"), "{r}");
    let errors = metric(&h, &format!("herald_filter_errors_total{{app=\"{app}\"}}")).await;
    assert_eq!(errors, Some(8.0));

    // A filter that does not compile is refused with its position; nothing changes.
    let (s, r) = h
        .patch(
            &format!("/v1/apps/{app}/endpoints/{broken}"),
            json!({"filter": "data.amount >= ", "description": "x"}),
        )
        .await;
    assert_error(s, &r, 400, "invalid_request");
    assert_eq!(r["error"]["code"], "invalid_filter", "{r}");
    assert_eq!(r["error"]["param"], "filter", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 1, column"),
        "{r}"
    );
    let (_, ep) = h.get(&format!("/v1/apps/{app}/endpoints/{broken}")).await;
    assert_eq!(ep["filter"], "data.missing.deep > 1");
    assert_eq!(ep["description"], Value::Null);
    let (s, r) = h
        .post(
            &format!("/v1/apps/{app}/endpoints"),
            json!({"url": rx.url("/x"), "filter": "x".repeat(4097)}),
        )
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (400, Some("invalid_filter")),
        "{r}"
    );

    // null removes a filter.
    let (s, ep) = h
        .patch(
            &format!("/v1/apps/{app}/endpoints/{broken}"),
            json!({"filter": null}),
        )
        .await;
    assert_eq!((s, &ep["filter"]), (200, &Value::Null), "{ep}");
    let ev = h.send(&app, "order.paid", json!({"amount": 5})).await;
    assert_eq!(endpoint_ids(&ev), sorted(vec![&all, &broken]), "{ev}");
    let _ = number;
}

on_backends!(both: the_filter_test_route);
async fn the_filter_test_route() {
    let h = Herald::start(&[]).await;
    let app = h.app().await;
    let ep = h
        .endpoint(&app, "http://127.0.0.1:9/", json!({"filter": "data.n > 2"}))
        .await;
    let path = format!(
        "/v1/apps/{app}/endpoints/{}/filter/test",
        ep["id"].as_str().unwrap()
    );
    let test = |body: Value| h.post(&path, body);
    let (s, r) = test(json!({"type": "a.b", "payload": {"n": 3}})).await;
    assert_eq!((s, r), (200, json!({"matches": true})));
    let (s, r) = test(json!({"type": "a.b", "payload": {"n": 1}})).await;
    assert_eq!((s, r), (200, json!({"matches": false})));
    let (s, r) = test(
        json!({"filter": "source == \"crm\" && type.endsWith(\".b\")", "type": "a.b",
                             "payload": {}, "source": "crm"}),
    )
    .await;
    assert_eq!((s, r), (200, json!({"matches": true})));
    let (s, r) = test(
        json!({"filter": "data.items.exists(i, i > 5)", "type": "a.b",
                             "payload": {"items": [1, 7]}}),
    )
    .await;
    assert_eq!((s, r), (200, json!({"matches": true})));
    let (s, r) =
        test(json!({"filter": "size(data) == 1 && (", "type": "a.b", "payload": {}})).await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (400, Some("invalid_filter")),
        "{r}"
    );
    assert!(
        r["error"]["message"].as_str().unwrap().contains("column"),
        "{r}"
    );
    let (s, r) = test(json!({"filter": "data.n", "type": "a.b", "payload": {"n": 1}})).await;
    assert_eq!((s, r["matches"].as_bool()), (200, Some(false)));
    assert!(
        r["error"].as_str().unwrap().contains("not a boolean"),
        "{r}"
    );
    // Without a filter anywhere, everything matches.
    let plain = h.endpoint(&app, "http://127.0.0.1:9/", json!({})).await;
    let (s, r) = h
        .post(
            &format!(
                "/v1/apps/{app}/endpoints/{}/filter/test",
                plain["id"].as_str().unwrap()
            ),
            json!({"type": "a.b", "payload": {}}),
        )
        .await;
    assert_eq!((s, r), (200, json!({"matches": true})));
    let (s, r) = test(json!({"type": "a.b"})).await;
    assert_eq!(s, 400, "{r}");
}

const RESHAPE: &str = r#"
function handler(webhook) {
  const order = webhook.payload.data;
  webhook.method = "PUT";
  webhook.url = webhook.url.replace("/orig", "/moved") + "?id=" + order.id;
  webhook.headers["X-Order"] = order.id;
  webhook.headers["x-team"] = "red";
  webhook.payload = {text: `Order ${order.id} paid: ${order.amount} ${webhook.eventType}`,
                     event: webhook.eventId};
  return webhook;
}
"#;

on_backends!(both: a_transformation_reshapes_the_request_and_the_signature_covers_it);
async fn a_transformation_reshapes_the_request_and_the_signature_covers_it() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let ep = h
        .endpoint(
            &app,
            &rx.url("/orig"),
            json!({"headers": {"X-Team": "blue", "X-Keep": "1"},
                   "transformation": {"code": RESHAPE}}),
        )
        .await;
    assert_eq!(
        ep["transformation"],
        json!({"code": RESHAPE, "enabled": true})
    );
    let secret = h.secret(&app, ep["id"].as_str().unwrap()).await;
    let ev = h
        .send(&app, "order.paid", json!({"id": "ord_7", "amount": 42}))
        .await;
    let r = &rx.wait("/moved", 1, WAIT).await[0];
    assert_eq!(r.method, "PUT");
    assert_eq!(r.query.as_deref(), Some("id=ord_7"));
    assert_eq!(r.header("x-order"), "ord_7");
    assert_eq!(r.header("x-team"), "red", "the script's header wins");
    assert_eq!(r.header("x-keep"), "1");
    assert_eq!(
        r.body,
        format!(
            r#"{{"text":"Order ord_7 paid: 42 order.paid","event":"{}"}}"#,
            ev["id"].as_str().unwrap()
        )
    );
    assert!(
        verify_independently(&secret, r),
        "standardwebhooks rejects the signature"
    );
    assert!(rx.requests("/orig").is_empty());

    // Off: the plain request goes out.
    h.patch(
        &format!("/v1/apps/{app}/endpoints/{}", ep["id"].as_str().unwrap()),
        json!({"transformation": {"code": RESHAPE, "enabled": false}}),
    )
    .await;
    h.send(&app, "order.paid", json!({"id": "ord_8", "amount": 1}))
        .await;
    let r = &rx.wait("/orig", 1, WAIT).await[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.json()["data"]["id"], "ord_8");
    assert!(verify_independently(&secret, r));
}

on_backends!(both: cancel_errors_and_limits_fail_only_their_own_delivery);
async fn cancel_errors_and_limits_fail_only_their_own_delivery() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let make = |path: &str, code: &str| {
        let url = rx.url(path);
        let extra = json!({"transformation": {"code": code}});
        let (h, app) = (&h, &app);
        async move { h.endpoint(app, &url, extra).await }
    };
    let small = make(
        "/small",
        "function handler(w) { w.cancel = w.payload.data.amount < 10; return w; }",
    )
    .await;
    let throws = make(
        "/throws",
        "function handler(w) { throw new RangeError('bad order ' + w.payload.data.amount); }",
    )
    .await;
    let loops = make("/loops", "function handler(w) { for (;;) {} }").await;
    let greedy = make(
        "/greedy",
        "function handler(w) { const a = []; for (;;) a.push('x'.repeat(1 << 20) + a.length); }",
    )
    .await;
    h.endpoint(&app, &rx.url("/plain"), json!({})).await;

    let ev = h.send(&app, "order.paid", json!({"amount": 5})).await;
    let by_ep = |ep: &Value| {
        ev["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["endpoint_id"] == ep["id"])
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    rx.wait("/plain", 1, WAIT).await;
    let cancelled = by_ep(&small);
    h.wait_status(&app, &cancelled, "cancelled", WAIT).await;
    assert!(
        h.attempts(&app, &cancelled).await.is_empty(),
        "no attempt is recorded"
    );
    for (ep, want) in [
        (&throws, "RangeError: bad order 5"),
        (&loops, "100 ms CPU limit"),
        (&greedy, "memory"),
    ] {
        let del = by_ep(ep);
        let d = h.wait_status(&app, &del, "failed", WAIT).await;
        assert_eq!(d["attempts"], 1, "failed at once: {d}");
        let attempts = h.attempts(&app, &del).await;
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0]["error"]["kind"], "transformation");
        let message = attempts[0]["error"]["message"].as_str().unwrap();
        assert!(message.contains(want), "{message}");
        assert_eq!(attempts[0]["status_code"], Value::Null);
    }
    assert!(rx.requests("/small").is_empty() && rx.requests("/throws").is_empty());

    // The endpoints keep working, and an edited transformation applies to a retry.
    let del = by_ep(&throws);
    let (s, r) = h
        .patch(
            &format!("/v1/apps/{app}/endpoints/{}", throws["id"].as_str().unwrap()),
            json!({"transformation": {"code": "function handler(w) { w.payload = {fixed: true}; return w; }"}}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = h
        .post(&format!("/v1/apps/{app}/deliveries/{del}/retry"), json!({}))
        .await;
    assert_eq!(s, 202, "{r}");
    let got = &rx.wait("/throws", 1, WAIT).await[0];
    assert_eq!(got.body, r#"{"fixed":true}"#);
    h.wait_status(&app, &del, "succeeded", WAIT).await;
    // A larger amount is not cancelled.
    h.send(&app, "order.paid", json!({"amount": 50})).await;
    rx.wait("/small", 1, WAIT).await;
}

on_backends!(both: transformations_are_checked_when_written);
async fn transformations_are_checked_when_written() {
    let h = Herald::start(&[]).await;
    let app = h.app().await;
    let path = format!("/v1/apps/{app}/endpoints");
    let create = |code: String| {
        h.post(
            &path,
            json!({"url": "http://127.0.0.1:9/", "transformation": {"code": code}}),
        )
    };
    for (code, want) in [
        ("function handler(w) {\n  return w;\n".to_string(), "line"),
        ("function other(w) { return w; }".to_string(), "handler"),
        ("while (true) {}".to_string(), "CPU limit"),
        (
            format!(
                "function handler(w) {{ return w; }} // {}",
                "x".repeat(64 * 1024)
            ),
            "at most",
        ),
    ] {
        let (s, r) = create(code).await;
        assert_error(s, &r, 400, "invalid_request");
        assert_eq!(r["error"]["code"], "invalid_transformation", "{r}");
        assert_eq!(r["error"]["param"], "transformation.code", "{r}");
        let message = r["error"]["message"].as_str().unwrap();
        assert!(message.contains(want), "{message}");
    }
    let (s, list) = h.get(&format!("/v1/apps/{app}/endpoints")).await;
    assert_eq!(
        (s, list["data"].as_array().unwrap().len()),
        (200, 0),
        "nothing stored"
    );
}

on_backends!(both: the_transformation_test_route);
async fn the_transformation_test_route() {
    let h = Herald::start(&[]).await;
    let app = h.app().await;
    let ep = h
        .endpoint(
            &app,
            "http://127.0.0.1:9/orig",
            json!({"headers": {"X-Team": "blue"}, "transformation": {"code": RESHAPE}}),
        )
        .await;
    let id = ep["id"].as_str().unwrap();
    let secret = h.secret(&app, id).await;
    let path = format!("/v1/apps/{app}/endpoints/{id}/transformation/test");
    // The saved code.
    let (s, r) = h
        .post(
            &path,
            json!({"type": "order.paid", "payload": {"id": "ord_1", "amount": 3}}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["method"], "PUT");
    assert_eq!(r["url"], "http://127.0.0.1:9/moved?id=ord_1");
    let body = r["body"].as_str().unwrap();
    assert!(
        body.starts_with(r#"{"text":"Order ord_1 paid: 3 order.paid","event":"evt_"#),
        "{body}"
    );
    let headers = r["headers"].as_object().unwrap();
    assert_eq!(headers["x-order"], "ord_1");
    assert_eq!(headers["content-type"], "application/json");
    let v = herald_signature::Verifier::new(&[&secret]).unwrap();
    let h_ = |n: &str| headers[n].as_str().unwrap().to_string();
    v.verify(
        &h_("webhook-id"),
        &h_("webhook-timestamp"),
        &h_("webhook-signature"),
        body.as_bytes(),
    )
    .expect("the signature covers the body shown");
    // Given code; a cancel; a runtime error; code that does not compile.
    let (s, r) = h
        .post(
            &path,
            json!({"code": "function handler(w) { w.cancel = true; return w; }",
                             "type": "a.b", "payload": {}}),
        )
        .await;
    assert_eq!((s, r), (200, json!({"cancelled": true})));
    let (s, r) = h
        .post(
            &path,
            json!({"code": "function handler(w) { return w.payload.data.x.y; }",
                             "type": "a.b", "payload": {}}),
        )
        .await;
    assert_error(s, &r, 400, "invalid_request");
    assert_eq!(r["error"]["code"], "transformation_error", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TypeError"),
        "{r}"
    );
    let (s, r) = h
        .post(
            &path,
            json!({"code": "function handler(w) {", "type": "a.b", "payload": {}}),
        )
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (400, Some("invalid_transformation")),
        "{r}"
    );
    // The unchanged webhook: the format's body as compact JSON.
    let (s, r) = h
        .post(
            &path,
            json!({"code": "function handler(w) { return w; }", "type": "a.b",
                             "payload": {"k": [1, 2]}}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let sent: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
    assert_eq!(sent["data"], json!({"k": [1, 2]}));
    assert!(!r["body"].as_str().unwrap().contains(' '));
    // An endpoint with no code and none given.
    let plain = h.endpoint(&app, "http://127.0.0.1:9/", json!({})).await;
    let (s, r) = h
        .post(
            &format!(
                "/v1/apps/{app}/endpoints/{}/transformation/test",
                plain["id"].as_str().unwrap()
            ),
            json!({"type": "a.b", "payload": {}}),
        )
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (400, Some("invalid_transformation")),
        "{r}"
    );
}

on_backends!(both: slack_and_discord_formats);
async fn slack_and_discord_formats() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let slack = h
        .endpoint(&app, &rx.url("/slack"), json!({"format": "slack"}))
        .await;
    assert_eq!(slack["format"], "slack");
    h.endpoint(&app, &rx.url("/discord"), json!({"format": "discord"}))
        .await;
    h.endpoint(
        &app,
        &rx.url("/slack-js"),
        json!({"format": "slack", "transformation": {"code":
            "function handler(w) { w.payload.text = 'via js: ' + w.payload.text.length; return w; }"}}),
    )
    .await;
    let secret = h.secret(&app, slack["id"].as_str().unwrap()).await;
    let ev = h
        .send(
            &app,
            "deploy.done",
            json!({"a_note": "a < b & c > d", "z_big": "é".repeat(4000)}),
        )
        .await;
    let evt = ev["id"].as_str().unwrap();
    let r = &rx.wait("/slack", 1, WAIT).await[0];
    let body = r.json();
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("deploy.done") && text.contains(evt), "{text}");
    assert!(text.contains("a &lt; b &amp; c &gt; d"), "{text}");
    assert!(text.chars().count() < 3000, "{}", text.chars().count());
    assert!(verify_independently(&secret, r));
    assert!(!r.header("webhook-signature").is_empty());
    let r = &rx.wait("/discord", 1, WAIT).await[0];
    let content = r.json()["content"].as_str().unwrap().to_string();
    assert!(content.contains("deploy.done") && content.contains("a < b & c > d"));
    assert!(content.chars().count() <= 2000);
    let r = &rx.wait("/slack-js", 1, WAIT).await[0];
    assert!(r.json()["text"].as_str().unwrap().starts_with("via js: "));
    let (s, r) = h
        .post(
            &format!("/v1/apps/{app}/endpoints"),
            json!({"url": rx.url("/x"), "format": "teams"}),
        )
        .await;
    assert_eq!(s, 400, "{r}");
}
