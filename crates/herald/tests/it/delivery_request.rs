//! The request Herald sends: headers, Standard Webhooks signatures (checked by the
//! independent `standardwebhooks` crate), formats, rotation, ed25519.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

pub(crate) fn verify_independently(secret: &str, r: &Received) -> bool {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(&r.body, &r.headers)
        .is_ok()
}

on_backends!(both: standard_webhooks_request_is_complete_and_verifies);
async fn standard_webhooks_request_is_complete_and_verifies() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let ep = h
        .endpoint(&app, &rx.url("/std"), json!({"headers":{"X-Team":"blue"}}))
        .await;
    let secret = h.secret(&app, ep["id"].as_str().unwrap()).await;
    let ev = h.send(&app, "order.paid", json!({"amount": 10})).await;
    let r = &rx.wait("/std", 1, Duration::from_secs(10)).await[0];
    assert_eq!(r.header("content-type"), "application/json");
    assert!(r.header("user-agent").starts_with("Herald/"));
    assert_eq!(r.header("webhook-id"), ev["id"].as_str().unwrap());
    assert_eq!(
        r.header("herald-delivery-id"),
        ev["deliveries"][0]["id"].as_str().unwrap()
    );
    assert_eq!(r.header("herald-attempt"), "1");
    assert_eq!(r.header("x-team"), "blue");
    let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
    assert!((ts - time_now()).abs() < 60);
    assert!(
        verify_independently(&secret, r),
        "standardwebhooks rejects the signature"
    );
    assert!(
        !verify_independently("whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", r),
        "control"
    );
    let v = herald_signature::Verifier::new(&[&secret]).unwrap();
    v.verify(
        &r.header("webhook-id"),
        &r.header("webhook-timestamp"),
        &r.header("webhook-signature"),
        &r.body,
    )
    .unwrap();
    let body = r.json();
    assert_eq!(body["type"], "order.paid");
    assert_eq!(body["data"], json!({"amount": 10}));
    assert_eq!(body.as_object().unwrap().len(), 3);
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

on_backends!(both: rotation_signs_with_both_secrets_during_grace);
async fn rotation_signs_with_both_secrets_during_grace() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let ep = h.endpoint(&app, &rx.url("/rot"), json!({})).await;
    let id = ep["id"].as_str().unwrap();
    let old = h.secret(&app, id).await;
    let chosen = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAAAAAAAA";
    let (s, r) = h
        .post(
            &format!("/v1/apps/{app}/endpoints/{id}/secret/rotate"),
            json!({"secret": chosen}),
        )
        .await;
    assert_eq!((s, r["secret"].as_str()), (200, Some(chosen)));
    h.send(&app, "a.b", json!({})).await;
    let r = &rx.wait("/rot", 1, Duration::from_secs(10)).await[0];
    assert_eq!(r.header("webhook-signature").split(' ').count(), 2);
    assert!(verify_independently(chosen, r) && verify_independently(&old, r));
}

on_backends!(both: rotations_in_a_row_keep_every_replaced_secret_until_its_grace_ends);
async fn rotations_in_a_row_keep_every_replaced_secret_until_its_grace_ends() {
    let h = Herald::start(&[("HERALD_SECRET_GRACE_PERIOD", "3s")]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let id = h.endpoint(&app, &rx.url("/many"), json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rotate = format!("/v1/apps/{app}/endpoints/{id}/secret/rotate");
    let mut secrets = vec![h.secret(&app, &id).await];
    for _ in 0..4 {
        let (s, r) = h.post(&rotate, json!({})).await;
        assert_eq!(s, 200, "{r}");
        secrets.push(r["secret"].as_str().unwrap().to_string());
    }
    // A sixth valid secret is refused, and changes nothing.
    let (s, r) = h.post(&rotate, json!({})).await;
    assert_error(s, &r, 409, "conflict");
    assert_eq!(r["error"]["code"], "too_many_rotations", "{r}");
    assert_eq!(&h.secret(&app, &id).await, secrets.last().unwrap());

    h.send(&app, "a.b", json!({})).await;
    let got = &rx.wait("/many", 1, Duration::from_secs(10)).await[0];
    assert_eq!(got.header("webhook-signature").split(' ').count(), 5);
    for secret in &secrets {
        assert!(
            verify_independently(secret, got),
            "{secret} does not verify"
        );
    }

    // Once their grace periods end, the replaced secrets stop signing and rotation is
    // allowed again.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let (s, r) = h.post(&rotate, json!({})).await;
    assert_eq!(s, 200, "{r}");
    let newest = r["secret"].as_str().unwrap().to_string();
    h.send(&app, "a.b", json!({})).await;
    let got = &rx.wait("/many", 2, Duration::from_secs(10)).await[1];
    assert_eq!(got.header("webhook-signature").split(' ').count(), 2);
    assert!(verify_independently(&newest, got));
    assert!(verify_independently(secrets.last().unwrap(), got));
    assert!(!verify_independently(&secrets[0], got));
}

on_backends!(both: rotation_without_grace_uses_only_the_new_secret);
async fn rotation_without_grace_uses_only_the_new_secret() {
    let h = Herald::start(&[("HERALD_SECRET_GRACE_PERIOD", "0s")]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let id = h.endpoint(&app, &rx.url("/r0"), json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let old = h.secret(&app, &id).await;
    let (_, r) = h
        .post(
            &format!("/v1/apps/{app}/endpoints/{id}/secret/rotate"),
            json!({}),
        )
        .await;
    h.send(&app, "a.b", json!({})).await;
    let got = &rx.wait("/r0", 1, Duration::from_secs(10)).await[0];
    assert!(verify_independently(r["secret"].as_str().unwrap(), got));
    assert!(!verify_independently(&old, got));
}

on_backends!(both: ed25519_endpoints_sign_v1a);
async fn ed25519_endpoints_sign_v1a() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let id = h
        .endpoint(&app, &rx.url("/ed"), json!({"signature_scheme":"v1a"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, k) = h
        .get(&format!("/v1/apps/{app}/endpoints/{id}/secret"))
        .await;
    let pk = k["public_key"].as_str().unwrap().to_string();
    h.send(&app, "a.b", json!({"x":1})).await;
    let r = &rx.wait("/ed", 1, Duration::from_secs(10)).await[0];
    assert!(r.header("webhook-signature").starts_with("v1a,"));
    let v = herald_signature::Verifier::new(&[&pk]).unwrap();
    v.verify(
        &r.header("webhook-id"),
        &r.header("webhook-timestamp"),
        &r.header("webhook-signature"),
        &r.body,
    )
    .unwrap();
    let (_, other) = herald_signature::generate_ed25519();
    assert!(herald_signature::Verifier::new(&[&other])
        .unwrap()
        .verify(
            &r.header("webhook-id"),
            &r.header("webhook-timestamp"),
            &r.header("webhook-signature"),
            &r.body
        )
        .is_err());
}

on_backends!(both: cloudevents_structured_and_binary);
async fn cloudevents_structured_and_binary() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let s_ep = h
        .endpoint(&app, &rx.url("/ce"), json!({"format":"cloudevents"}))
        .await;
    let b_ep = h
        .endpoint(
            &app,
            &rx.url("/ceb"),
            json!({"format":"cloudevents_binary"}),
        )
        .await;
    let (s, ev) = h
        .raw(
            &format!("/v1/apps/{app}/events"),
            br#"{"type":"order.paid","payload":{"n": 1.50},"subject":"order/7"}"#,
            "application/json",
            &[],
        )
        .await;
    assert_eq!(s, 202);
    let structured = &rx.wait("/ce", 1, Duration::from_secs(10)).await[0];
    assert_eq!(
        structured.header("content-type"),
        "application/cloudevents+json"
    );
    let doc = structured.json();
    assert_eq!(doc["specversion"], "1.0");
    assert_eq!(doc["id"], ev["id"]);
    assert_eq!(doc["type"], "order.paid");
    assert_eq!(doc["source"], format!("/herald/apps/{app}"));
    assert_eq!(doc["subject"], "order/7");
    assert_eq!(doc["datacontenttype"], "application/json");
    assert!(String::from_utf8_lossy(&structured.body).contains(r#""data":{"n": 1.50}"#));
    assert!(verify_independently(
        &h.secret(&app, s_ep["id"].as_str().unwrap()).await,
        structured
    ));

    let binary = &rx.wait("/ceb", 1, Duration::from_secs(10)).await[0];
    assert_eq!(&binary.body[..], br#"{"n": 1.50}"#);
    assert_eq!(binary.header("content-type"), "application/json");
    assert_eq!(binary.header("ce-id"), ev["id"].as_str().unwrap());
    assert_eq!(binary.header("ce-type"), "order.paid");
    assert_eq!(binary.header("ce-specversion"), "1.0");
    assert_eq!(binary.header("ce-subject"), "order/7");
    assert!(!binary.header("ce-time").is_empty());
    assert!(verify_independently(
        &h.secret(&app, b_ep["id"].as_str().unwrap()).await,
        binary
    ));
}

on_backends!(both: test_ping_reaches_only_that_endpoint);
async fn test_ping_reaches_only_that_endpoint() {
    let h = Herald::start(&[("HERALD_STRICT_EVENT_TYPES", "true")]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let a = h.endpoint(&app, &rx.url("/pa"), json!({})).await;
    h.endpoint(&app, &rx.url("/pb"), json!({})).await;
    let (s, v) = h
        .post(
            &format!(
                "/v1/apps/{app}/endpoints/{}/test",
                a["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let r = &rx.wait("/pa", 1, Duration::from_secs(10)).await[0];
    assert_eq!(r.json()["type"], "herald.ping");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rx.requests("/pb").is_empty());
}

on_backends!(both: endpoints_on_one_host_reuse_their_connections);
/// Six endpoints on one host, 16 attempts in flight each: the 96 connections of a first wave
/// of attempts carry a second one. The pool is per host, so a cap on idle connections per host
/// below 96 closed some when the first wave ended, and the second opened new ones.
async fn endpoints_on_one_host_reuse_their_connections() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let paths: Vec<String> = (0..6).map(|i| format!("/shared/{i}")).collect();
    for p in &paths {
        rx.script(
            p,
            vec![],
            Reply::status(200).delayed(Duration::from_millis(200)),
        );
        h.endpoint(&app, &rx.url(p), json!({"max_in_flight": 16}))
            .await;
    }
    for wave in 1..=2 {
        let items: Vec<_> = (0..16)
            .map(|i| json!({"type": "order.paid", "payload": {"n": i}}))
            .collect();
        let (s, v) = h
            .post(
                &format!("/v1/apps/{app}/events/batch"),
                json!({"items": items}),
            )
            .await;
        assert_eq!(s, 202, "{v}");
        for p in &paths {
            rx.wait(p, 16 * wave, Duration::from_secs(30)).await;
            assert_eq!(
                rx.max_in_flight(p),
                16,
                "{p}: the wave was not all in flight"
            );
        }
        // Every answer (200 ms) given: the wave's connections are all idle.
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    let peers: std::collections::HashSet<_> = paths
        .iter()
        .flat_map(|p| rx.requests(p))
        .map(|r| r.peer)
        .collect();
    assert!(
        peers.len() <= 96 + 4,
        "two waves of 96 attempts used {} connections",
        peers.len()
    );
}
