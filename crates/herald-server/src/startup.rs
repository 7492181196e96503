//! The one HTTP service a listener has from its first connection on: start-up answers while
//! the store opens, then the API.
//!
//! A second server taking over the listener would cut the connections the first had accepted
//! but not yet answered, and some clients never see such a request fail (Node's fetch waits
//! on it forever). With one server nothing is cut: each request goes to whichever router is
//! in place when it arrives.

use std::sync::{Arc, OnceLock};

use axum::extract::Request;
use axum::routing::get;
use axum::Router;
use tower::ServiceExt;

use crate::error::ApiError;

/// The API router, set once the store is open.
pub type ApiSlot = Arc<OnceLock<Router>>;

/// Answers `/healthz` (200) and everything else (503, the contract's error body) until
/// `api` is set, then hands every request to it.
pub fn router(api: ApiSlot) -> Router {
    let starting = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|| async { ApiError::Unavailable("starting: applying migrations".into()) });
    Router::new().fallback(move |req: Request| {
        let next = api.get().cloned().unwrap_or_else(|| starting.clone());
        next.oneshot(req)
    })
}
