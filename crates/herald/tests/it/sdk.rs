//! The Rust SDK against a real server: sending (with retries through a flaky proxy),
//! receiving with `Webhook` and the axum extractor.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use herald_sdk::axum_extract::Verified;
use herald_sdk::client::{
    AppPatch, Client, DeliveryFilter, DeliveryStatus, EndpointPatch, EndpointStatus, Error,
    EventFilter, EventTypeIn, EventTypePatch, NewEndpoint, NewEvent, PortalSessionIn, RotateIn,
};
use herald_sdk::Webhook;
use serde_json::json;

use crate::support::*;

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Paid {
    order: u32,
}

on_backends!(both: send_receive_and_verify_with_the_sdk);
async fn send_receive_and_verify_with_the_sdk() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let client = Client::builder(&h.url, ADMIN_KEY).build().unwrap();
    let app = client.create_app("sdk", Some("sdk-app")).await.unwrap();
    let ep = client
        .create_endpoint(
            "sdk-app",
            &NewEndpoint {
                url: rx.url("/sdk"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let secret = client
        .endpoint_secret(&app.id, &ep.id)
        .await
        .unwrap()
        .secret
        .expect("a v1 endpoint has a secret");
    let receipt = client
        .send_event(
            "sdk-app",
            NewEvent::json("order.paid", &json!({"order": 7})).unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(receipt.deliveries.len(), 1);
    let got = &rx.wait("/sdk", 1, Duration::from_secs(10)).await[0];
    let event = Webhook::new(&secret)
        .unwrap()
        .verify(&got.headers, &got.body)
        .unwrap();
    assert_eq!(event.id, receipt.id);
    assert_eq!(event.data_as::<Paid>().unwrap(), Paid { order: 7 });
    assert!(Webhook::new("whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
        .unwrap()
        .verify(&got.headers, &got.body)
        .is_err());

    // Errors map to the contract's classes and are not retried.
    match client
        .send_event("no-such-app", NewEvent::json("a.b", &1).unwrap(), None)
        .await
    {
        Err(Error::NotFound(_)) => {}
        other => panic!("{other:?}"),
    }
    match client
        .send_event("sdk-app", NewEvent::json("bad name", &1).unwrap(), None)
        .await
    {
        Err(Error::BadRequest { param, .. }) => assert_eq!(param.as_deref(), Some("type")),
        other => panic!("{other:?}"),
    }
    let d = client
        .delivery(&app.id, &receipt.deliveries[0].id)
        .await
        .unwrap();
    assert_eq!(d.event_id, receipt.id);
}

/// (idempotency key, body) of each request the proxy saw.
type Seen = Arc<Mutex<Vec<(Option<String>, Bytes)>>>;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    seen: Seen,
    http: reqwest::Client,
}

/// Answers the first request 503 (Retry-After: 1), then forwards to Herald.
async fn flaky(
    State(p): State<Proxy>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Bytes,
) -> axum::response::Response {
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap().to_string());
    let n = {
        let mut seen = p.seen.lock().unwrap();
        seen.push((key, body.clone()));
        seen.len()
    };
    if n == 1 {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "1")],
            "try again",
        )
            .into_response();
    }
    let resp = p
        .http
        .post(format!("{}{}", p.upstream, uri.path()))
        .header(
            "authorization",
            headers.get("authorization").unwrap().to_str().unwrap(),
        )
        .header("content-type", "application/json")
        .header(
            "idempotency-key",
            headers.get("idempotency-key").unwrap().to_str().unwrap(),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    (status, resp.bytes().await.unwrap()).into_response()
}

on_backends!(both: retries_resend_identical_bytes_with_one_key);
async fn retries_resend_identical_bytes_with_one_key() {
    let h = Herald::start(&[]).await;
    let app = h.app().await;
    let proxy = Proxy {
        upstream: h.url.clone(),
        seen: Arc::default(),
        http: reqwest::Client::new(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .fallback(flaky)
        .with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let client = Client::builder(&format!("http://{addr}"), ADMIN_KEY)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let receipt = client
        .send_event(
            &app,
            NewEvent::json("order.paid", &json!({"order": 1})).unwrap(),
            None,
        )
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After is a floor"
    );
    let seen = proxy.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[0].0.is_some() && seen[0].0 == seen[1].0,
        "one idempotency key for every retry"
    );
    assert_eq!(seen[0].1, seen[1].1, "byte-identical body on retry");
    let (_, events) = h.get(&format!("/v1/apps/{app}/events")).await;
    assert_eq!(events["data"].as_array().unwrap().len(), 1);
    assert_eq!(events["data"][0]["id"], receipt.id.as_str());

    // With retries off, the 503 surfaces at once.
    proxy.seen.lock().unwrap().clear();
    let once = Client::builder(&format!("http://{addr}"), ADMIN_KEY)
        .max_retries(0)
        .build()
        .unwrap();
    match once
        .send_event(&app, NewEvent::json("a.b", &1).unwrap(), None)
        .await
    {
        Err(Error::Server { status: 503, .. }) => {}
        other => panic!("{other:?}"),
    }
}

on_backends!(both: axum_extractor_accepts_herald_and_rejects_forgeries);
async fn axum_extractor_accepts_herald_and_rejects_forgeries() {
    let h = Herald::start(&[]).await;
    let app = h.app().await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAAAAAAAA";
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = got.clone();
    let router = axum::Router::new()
        .route(
            "/in",
            axum::routing::post(move |Verified(e): Verified| {
                let sink = sink.clone();
                async move {
                    sink.lock()
                        .unwrap()
                        .push(format!("{} {}", e.event_type, e.id));
                    "ok"
                }
            }),
        )
        .with_state(Webhook::new(secret).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    h.endpoint(
        &app,
        &format!("http://{addr}/in"),
        json!({"secret": secret}),
    )
    .await;
    let ev = h.send(&app, "user.created", json!({"u": 1})).await;
    h.wait_status(
        &app,
        ev["deliveries"][0]["id"].as_str().unwrap(),
        "succeeded",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        got.lock().unwrap().clone(),
        vec![format!("user.created {}", ev["id"].as_str().unwrap())]
    );

    let http = reqwest::Client::new();
    let forged = http
        .post(format!("http://{addr}/in"))
        .header("webhook-id", "evt_x")
        .header(
            "webhook-timestamp",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                .to_string(),
        )
        .header("webhook-signature", "v1,Zm9yZ2Vk")
        .body(r#"{"type":"a","timestamp":"t","data":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let malformed = http
        .post(format!("http://{addr}/in"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
}

on_backends!(both: every_resource_through_the_sdk);
async fn every_resource_through_the_sdk() {
    use futures_util::StreamExt;
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let c = Client::builder(&h.url, ADMIN_KEY).build().unwrap();
    let app = c.create_app("all", None).await.unwrap();
    assert_eq!(c.app(&app.id).await.unwrap().name, "all");
    assert!(c
        .list_apps(None)
        .await
        .unwrap()
        .data
        .iter()
        .any(|a| a.id == app.id));
    let new_type = EventTypeIn {
        name: "res.made".into(),
        schema: Some(json!({"type": "object"})),
        ..Default::default()
    };
    c.create_event_type(&new_type).await.unwrap();
    assert_eq!(
        c.list_event_types(None).await.unwrap().data[0].name,
        "res.made"
    );
    let ep = c
        .create_endpoint(
            &app.id,
            &NewEndpoint {
                url: rx.url("/all"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        c.endpoint(&app.id, &ep.id).await.unwrap().status,
        EndpointStatus::Active
    );
    assert_eq!(c.list_endpoints(&app.id, None).await.unwrap().data.len(), 1);

    let batch = c
        .send_batch(
            &app.id,
            (0..60)
                .map(|i| NewEvent::json("res.made", &json!({"i": i})).unwrap())
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(batch.items.len(), 60);
    assert!(batch
        .items
        .iter()
        .all(|i| i.accepted.is_some() && i.error.is_none()));
    let first = batch.items[0].accepted.as_ref().unwrap().id.clone();
    assert_eq!(
        c.event(&app.id, &first).await.unwrap().payload.get(),
        r#"{"i":0}"#
    );
    let none = EventFilter::default();
    assert_eq!(
        c.list_events(&app.id, &none, None)
            .await
            .unwrap()
            .data
            .len(),
        50
    );
    let typed = EventFilter {
        event_type: Some("nothing.like.this".into()),
        ..Default::default()
    };
    assert!(c
        .list_events(&app.id, &typed, None)
        .await
        .unwrap()
        .data
        .is_empty());
    rx.wait("/all", 60, Duration::from_secs(15)).await;
    let every = DeliveryFilter::default();
    let all: Vec<_> = c.all_deliveries(&app.id, &every).collect().await;
    assert_eq!(all.len(), 60, "the stream reads every page");
    let del = all[0].as_ref().unwrap().id.clone();
    let d = h
        .wait_status(&app.id, &del, "succeeded", Duration::from_secs(10))
        .await;
    assert_eq!(d["attempts"], 1);
    assert_eq!(
        c.attempts(&app.id, &del, None).await.unwrap().data[0].status_code,
        Some(200)
    );
    c.retry_delivery(&app.id, &del).await.unwrap();
    h.wait_status(&app.id, &del, "succeeded", Duration::from_secs(10))
        .await;
    assert_eq!(
        c.test_endpoint(&app.id, &ep.id).await.unwrap().event_type,
        "herald.ping"
    );
    assert_eq!(
        c.recover_endpoint(&app.id, &ep.id, "2000-01-01T00:00:00Z")
            .await
            .unwrap()
            .requeued,
        0
    );
    assert!(c.endpoint_stats(&app.id, &ep.id).await.unwrap().succeeded >= 60);
    let old = c.endpoint_secret(&app.id, &ep.id).await.unwrap();
    let rotated = c
        .rotate_secret(&app.id, &ep.id, &RotateIn::default())
        .await
        .unwrap();
    assert!(rotated.secret.is_some());
    assert_ne!(rotated.secret, old.secret);
    let failed = DeliveryFilter {
        status: Some(DeliveryStatus::Failed),
        endpoint_id: Some(ep.id.clone()),
        ..Default::default()
    };
    assert!(c
        .list_deliveries(&app.id, &failed, None)
        .await
        .unwrap()
        .data
        .is_empty());
    assert_eq!(c.session().await.unwrap().scope, "admin");

    let key = c
        .create_key("sdk", "producer", Some(&app.id))
        .await
        .unwrap();
    assert!(c
        .list_keys(None)
        .await
        .unwrap()
        .data
        .iter()
        .any(|k| k.id == key.info.id));
    let scoped = Client::builder(&h.url, &key.key).build().unwrap();
    assert!(matches!(
        scoped.create_app("no", None).await,
        Err(Error::Permission(_))
    ));
    c.revoke_key(&key.info.id).await.unwrap();
    assert!(matches!(
        scoped.list_events(&app.id, &none, None).await,
        Err(Error::Authentication(_))
    ));
    let portal_in = PortalSessionIn {
        expires_in: Some(60),
        read_only: Some(true),
        ..Default::default()
    };
    let portal = c.portal_session(&app.id, &portal_in).await.unwrap();
    assert!(portal.read_only);
    assert!(portal.url.contains(&portal.token));
    let changed = c
        .update_endpoint(
            &app.id,
            &ep.id,
            &EndpointPatch {
                event_types: Some(Some(vec!["res.*".to_string()])),
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (changed.status, changed.event_types),
        (EndpointStatus::Disabled, Some(vec!["res.*".to_string()]))
    );
    assert_eq!(
        c.update_app(
            &app.id,
            &AppPatch {
                name: Some("renamed".into()),
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .name,
        "renamed"
    );
    assert!(
        c.update_event_type(
            "res.made",
            &EventTypePatch {
                archived: Some(true),
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .archived
    );
    assert!(c.event_type("res.made").await.unwrap().archived);
    c.delete_event_type("res.made").await.unwrap();
    assert!(matches!(
        c.event_type("res.made").await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(
        c.all_events(&app.id, &none).collect::<Vec<_>>().await.len(),
        61,
        "60 + the ping, across two pages"
    );
    assert_eq!(
        c.all_attempts(&app.id, &del)
            .collect::<Vec<_>>()
            .await
            .len(),
        2
    );
    assert_eq!(c.all_endpoints(&app.id).collect::<Vec<_>>().await.len(), 1);
    assert!(!c.all_apps().collect::<Vec<_>>().await.is_empty());
    assert!(!c.all_keys().collect::<Vec<_>>().await.is_empty());
    assert_eq!(c.all_event_types().collect::<Vec<_>>().await.len(), 0);
    c.delete_endpoint(&app.id, &ep.id).await.unwrap();
    c.delete_app(&app.id).await.unwrap();
    assert!(matches!(c.app(&app.id).await, Err(Error::NotFound(_))));
}

on_backends!(both: failed_sends_go_to_the_dead_letter_file_and_replay_once);
async fn failed_sends_go_to_the_dead_letter_file_and_replay_once() {
    use herald_sdk::client::{read_jsonl, DeadLetterSink, RetryPolicy};
    let h = Herald::start(&[]).await;
    let app = h.app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dead.jsonl");
    let down = Client::builder(&format!("http://127.0.0.1:{}", free_port()), ADMIN_KEY)
        .retry_policy(RetryPolicy {
            max_retries: 2,
            base: Duration::from_millis(10),
            cap: Duration::from_millis(50),
        })
        .dead_letters(DeadLetterSink::Jsonl(file.clone()))
        .build()
        .unwrap();
    let raw = r#"{"b": 1.50, "email": "ann@example.com"}"#;
    let event = NewEvent {
        event_type: "order.paid".into(),
        payload: Some(serde_json::value::RawValue::from_string(raw.into()).unwrap()),
        ..Default::default()
    };
    match down.send_event(&app, event, Some("dl-1")).await {
        Err(Error::RetriesExhausted { attempts: 3, .. }) => {}
        other => panic!("{other:?}"),
    }
    let letters = read_jsonl(&file).unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (
            letters[0].idempotency_key.as_str(),
            letters[0].payload.get()
        ),
        ("dl-1", raw)
    );

    let up = Client::builder(&h.url, ADMIN_KEY).build().unwrap();
    let report = up.replay_dead_letters(&file).await.unwrap();
    assert_eq!((report.sent, report.failed), (1, 0));
    assert!(read_jsonl(&file).unwrap().is_empty());
    let (_, events) = h.get(&format!("/v1/apps/{app}/events")).await;
    assert_eq!(events["data"].as_array().unwrap().len(), 1);
    // The payload bytes survived the dead-letter round trip.
    let id = events["data"][0]["id"].as_str().unwrap();
    let text = h
        .http
        .get(format!("{}/v1/apps/{app}/events/{id}", h.url))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(raw), "{text}");

    // A 400 is not dead-lettered: sending it again would fail the same way.
    let calls = Arc::new(Mutex::new(0));
    let counter = calls.clone();
    let strict = Client::builder(&h.url, ADMIN_KEY)
        .dead_letters(DeadLetterSink::callback(move |_| {
            *counter.lock().unwrap() += 1
        }))
        .build()
        .unwrap();
    assert!(strict
        .send_event(&app, NewEvent::json("bad name", &1).unwrap(), None)
        .await
        .is_err());
    assert_eq!(*calls.lock().unwrap(), 0);
}

#[test]
fn the_blocking_client_works_without_async() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let h = rt.block_on(Herald::start(&[]));
    let client =
        herald_sdk::client::blocking::Client::new(Client::builder(&h.url, ADMIN_KEY)).unwrap();
    let app = client.create_app("blocking", Some("blk")).unwrap();
    let receipt = client
        .send_event(
            "blk",
            NewEvent::json("a.b", &json!({"x": 1})).unwrap(),
            None,
        )
        .unwrap();
    assert_eq!(
        client.event(&app.id, &receipt.id).unwrap().payload.get(),
        r#"{"x":1}"#
    );
    assert!(matches!(client.app("missing"), Err(Error::NotFound(_))));
    drop(h);
}

/// A real proxy in front of the server: forwards every request, but answers 502 to the first
/// `drop_first` requests after forwarding them (the server acted; its answer was lost).
async fn lossy_proxy(upstream: String, drop_first: usize) -> (String, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let http = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (http, upstream, counter) = (http.clone(), upstream.clone(), counter.clone());
        async move {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let mut fwd = http.request(parts.method, format!("{upstream}{}", parts.uri));
            for (k, v) in &parts.headers {
                if k != "host" && k != "content-length" {
                    fwd = fwd.header(k, v);
                }
            }
            let resp = fwd.body(body).send().await.unwrap();
            let status = resp.status().as_u16();
            let bytes = resp.bytes().await.unwrap();
            if n < drop_first {
                return (StatusCode::BAD_GATEWAY, "lost".to_string());
            }
            (
                StatusCode::from_u16(status).unwrap(),
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

on_backends!(both: a_create_whose_answer_was_lost_is_retried_and_happens_once);
/// Every POST of the SDK carries an idempotency key: a create or a rotation whose answer
/// was lost (the server acted) is sent again, and the server answers the repeat with the
/// first answer instead of acting twice (a second endpoint would double every delivery).
async fn a_create_whose_answer_was_lost_is_retried_and_happens_once() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let direct = Client::builder(&h.url, ADMIN_KEY).build().unwrap();
    let (url, seen) = lossy_proxy(h.url.clone(), 1).await;
    let fast = herald_sdk::client::RetryPolicy {
        max_retries: 3,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(50),
    };
    let c = Client::builder(&url, ADMIN_KEY)
        .retry_policy(fast.clone())
        .build()
        .unwrap();
    let new = NewEndpoint {
        url: rx.url("/once"),
        ..Default::default()
    };
    let created = c.create_endpoint(&app, &new).await.unwrap();
    assert_eq!(
        seen.load(Ordering::SeqCst),
        2,
        "sent again after the lost answer"
    );
    let all = direct.list_endpoints(&app, None).await.unwrap().data;
    assert_eq!(all.len(), 1, "exactly one endpoint");
    assert_eq!(all[0].id, created.id, "the repeat got the first answer");

    let (url, _) = lossy_proxy(h.url.clone(), 1).await;
    let c = Client::builder(&url, ADMIN_KEY)
        .retry_policy(fast.clone())
        .build()
        .unwrap();
    let rotated = c
        .rotate_secret(&app, &created.id, &RotateIn::default())
        .await
        .unwrap();
    let current = direct.endpoint_secret(&app, &created.id).await.unwrap();
    assert_eq!(rotated.secret, current.secret);
    // Rotated once: the delivery is signed by the new secret and the one it replaced only.
    h.send(&app, "a.b", serde_json::json!({})).await;
    let got = rx.wait("/once", 1, Duration::from_secs(10)).await;
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);

    // A read whose answer was lost is simply asked again.
    let (url, seen) = lossy_proxy(h.url.clone(), 1).await;
    let c = Client::builder(&url, ADMIN_KEY)
        .retry_policy(fast)
        .build()
        .unwrap();
    assert_eq!(c.app(&app).await.unwrap().id, app);
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}
