//! Operations routes, without authentication: `/healthz`, `/readyz`, `/metrics`.
//! (`/openapi.json` is served by `api::router`, from the collected document.)

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use crate::error::ApiError;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
}

#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, description = "the process is alive")))]
async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses((status = 200, description = "store reachable, migrations applied"),
              (status = 503, body = crate::error::ErrorBody)))]
async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    // Before the store is open, `startup` answers instead of this handler.
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(format!("store unreachable: {e}")))?;
    Ok("ready")
}

#[utoipa::path(get, path = "/metrics", tag = "operations", security(()),
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
