//! `Idempotency-Key` on every POST other than events' (`security.md`): a repeat gets the first
//! successful answer and nothing is done twice; other bytes are refused; a failure frees the
//! key; keys are scoped to the credential.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

/// POSTs `body` to `path` with `key` (and `auth`): status, body, and whether it was a replay.
async fn post_keyed(
    h: &Herald,
    auth: &str,
    path: &str,
    key: &str,
    body: Value,
) -> (u16, Value, bool) {
    let resp = h
        .http
        .post(format!("{}{path}", h.url))
        .bearer_auth(auth)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let replayed = resp
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        replayed,
    )
}

async fn app_count(h: &Herald, name: &str) -> usize {
    let (_, apps) = h.get("/v1/apps?limit=100").await;
    apps["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == name)
        .count()
}

on_backends!(both: a_repeated_create_gets_the_first_answer_and_creates_once);
async fn a_repeated_create_gets_the_first_answer_and_creates_once() {
    let h = Herald::start(&[]).await;
    let body = json!({"name": "once"});
    let (s, first, replayed) = post_keyed(&h, ADMIN_KEY, "/v1/apps", "k-1", body.clone()).await;
    assert_eq!((s, replayed), (201, false), "{first}");
    let (s, again, replayed) = post_keyed(&h, ADMIN_KEY, "/v1/apps", "k-1", body.clone()).await;
    assert_eq!((s, replayed), (201, true), "{again}");
    assert_eq!(again, first);
    assert_eq!(app_count(&h, "once").await, 1);

    // The same key with other bytes is refused and changes nothing.
    let (s, b, _) = post_keyed(&h, ADMIN_KEY, "/v1/apps", "k-1", json!({"name": "other"})).await;
    assert_error(s, &b, 409, "conflict");
    assert_eq!(b["error"]["code"], "idempotency_conflict");
    assert_eq!(app_count(&h, "other").await, 0);

    // Another credential's key of the same name is another key.
    let (s, k) = h
        .post("/v1/keys", json!({"name": "second", "scope": "admin"}))
        .await;
    assert_eq!(s, 201, "{k}");
    let second = k["key"].as_str().unwrap();
    let (s, _, replayed) = post_keyed(&h, second, "/v1/apps", "k-1", body).await;
    assert_eq!((s, replayed), (201, false));
    assert_eq!(app_count(&h, "once").await, 2);
}

on_backends!(both: a_failed_request_leaves_its_key_free);
async fn a_failed_request_leaves_its_key_free() {
    let h = Herald::start(&[]).await;
    let (s, b, _) = post_keyed(&h, ADMIN_KEY, "/v1/apps", "k-2", json!({"nme": "typo"})).await;
    assert_eq!(s, 400, "{b}");
    let (s, b, replayed) =
        post_keyed(&h, ADMIN_KEY, "/v1/apps", "k-2", json!({"name": "fixed"})).await;
    assert_eq!((s, replayed), (201, false), "{b}");
    // A key that is too long is refused, as for events.
    let long = "k".repeat(256);
    let (s, b, _) = post_keyed(&h, ADMIN_KEY, "/v1/apps", &long, json!({"name": "long"})).await;
    assert_error(s, &b, 400, "invalid_request");
    assert_eq!(b["error"]["code"], "invalid_idempotency_key");
    assert_eq!(app_count(&h, "long").await, 0);
}

on_backends!(both: actions_repeated_with_a_key_act_once);
async fn actions_repeated_with_a_key_act_once() {
    let h = Herald::start(&[]).await;
    let rx = Receiver::start().await;
    let app = h.app().await;
    let id = h.endpoint(&app, &rx.url("/act"), json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rotate = format!("/v1/apps/{app}/endpoints/{id}/secret/rotate");
    let (s, first, _) = post_keyed(&h, ADMIN_KEY, &rotate, "rot-1", json!({})).await;
    assert_eq!(s, 200, "{first}");
    let (s, again, replayed) = post_keyed(&h, ADMIN_KEY, &rotate, "rot-1", json!({})).await;
    assert_eq!((s, replayed), (200, true));
    assert_eq!(again["secret"], first["secret"]);

    // The test event is sent once: the repeat answers with the same event.
    let test = format!("/v1/apps/{app}/endpoints/{id}/test");
    let (s, sent, _) = post_keyed(&h, ADMIN_KEY, &test, "test-1", json!({})).await;
    assert_eq!(s, 202, "{sent}");
    let (_, resent, replayed) = post_keyed(&h, ADMIN_KEY, &test, "test-1", json!({})).await;
    assert!(replayed);
    assert_eq!(resent["id"], sent["id"]);
    let got = rx.wait("/act", 1, Duration::from_secs(10)).await;
    // Rotated once: two valid secrets sign (the new one and the one it replaced).
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.requests("/act").len(), 1, "one test event");
}
