//! `Idempotency-Key` on every POST that creates or changes something (apps, event types,
//! endpoints, keys, portal sessions, rotate, test, retry, recover): a repeat of a request
//! answered with a success gets that first answer again, without acting twice, so that
//! clients may always retry a POST that carries a key. The events routes keep their own
//! (the receipt is committed with the event, `store/sql/ingest.rs`); the rules are theirs:
//! the same key with other bytes within `idempotency_retention` → 409
//! `idempotency_conflict`.
//!
//! A key is scoped to the credential that sent it. Only successes are kept: after an error
//! the key is free again, so a corrected request can use it.

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::AppState;
use crate::error::ApiError;
use crate::store::{RequestKey, Reserved};
use crate::timefmt::now_ms;

/// A first request still running after this long was cut short (its process stopped): a
/// repeat takes the key over instead of waiting for an answer that will never come.
const ABANDONED_AFTER_MS: i64 = 60_000;
/// Answers bigger than this are not kept (none of these routes makes one).
const MAX_KEPT_ANSWER: usize = 1 << 20;

/// The `Idempotency-Key` header: absent, or 1..=255 characters of text (else 400).
pub fn key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .map_err(|_| bad("Idempotency-Key must be text"))?;
    check(key)?;
    Ok(Some(key))
}

/// An idempotency key is 1..=255 characters (else 400).
pub fn check(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.chars().count() > 255 {
        return Err(bad("Idempotency-Key must be 1 to 255 characters"));
    }
    Ok(())
}

fn bad(message: &str) -> ApiError {
    ApiError::bad(
        "invalid_idempotency_key",
        message,
        Some("Idempotency-Key".into()),
    )
}

/// The hash a repeat must match: the same route and the same body bytes.
pub fn request_hash(path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    hex::encode(h.finalize())
}

/// The middleware (a route layer: the matched route is known).
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key("idempotency-key") {
        return next.run(req).await;
    }
    let own_rules = req
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| p.as_str().ends_with("/events") || p.as_str().ends_with("/events/batch"));
    if own_rules {
        return next.run(req).await;
    }
    match run(&state, req, next).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn run(state: &AppState, req: Request, next: Next) -> Result<Response, ApiError> {
    let key = key(req.headers())?.unwrap_or_default().to_string();
    // The credential's hash (as stored for API keys): another key's requests never collide.
    let scope = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| super::extract::hash_key(v.trim_start_matches("Bearer ").trim()))
        .unwrap_or_default();
    let path = req.uri().path().to_string();
    let (parts, body) = req.into_parts();
    let limit = state
        .config
        .max_batch_bytes
        .max(state.config.max_event_bytes);
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(format!("request body over {limit} bytes")))?;
    let now = now_ms();
    let wanted = RequestKey {
        scope: &scope,
        key: &key,
        hash: &request_hash(&path, &bytes),
        now,
        expired_before: now - state.config.idempotency_retention.as_millis() as i64,
        abandoned_before: now - ABANDONED_AFTER_MS,
    };
    match state.store.reserve_request(&wanted).await? {
        Reserved::Fresh => {}
        Reserved::Replay { status, body } => return Ok(replay(status, body)),
        Reserved::Conflict => {
            return Err(ApiError::conflict(
                "idempotency_conflict",
                "this idempotency key was used with a different request",
            ))
        }
        Reserved::InProgress => {
            return Err(ApiError::conflict(
                "idempotency_in_progress",
                "a request with this idempotency key is still being processed: retry later",
            ))
        }
    }
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if !resp.status().is_success() {
        state.store.release_request(&scope, &key).await?;
        return Ok(resp);
    }
    let (parts, body) = resp.into_parts();
    let Ok(answer) = axum::body::to_bytes(body, MAX_KEPT_ANSWER).await else {
        state.store.release_request(&scope, &key).await?;
        return Err(ApiError::Internal("an answer too big to keep".into()));
    };
    // Kept before it is sent: a client that sees this answer can rely on its replay.
    state
        .store
        .finish_request(&scope, &key, parts.status.as_u16(), &answer)
        .await?;
    Ok(Response::from_parts(parts, Body::from(answer)))
}

/// The first answer again, marked as such.
fn replay(status: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let json = !body.is_empty();
    let mut resp = (status, body).into_response();
    let headers = resp.headers_mut();
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    if json {
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    resp
}
