//! `GET /v1/session`: who the presented credential is. The console uses it to check a key at
//! sign-in; the portal to learn its application, whether it is read-only and when it expires.

use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::Principal;
use super::wire::SessionOut;
use super::AppState;
use crate::error::ApiError;
use crate::timefmt::format_ms;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(current_session))
}

#[utoipa::path(get, path = "/v1/session", tag = "keys",
    responses((status = 200, body = SessionOut), (status = 401, body = crate::error::ErrorBody)))]
async fn current_session(who: Principal) -> Result<Json<SessionOut>, ApiError> {
    Ok(Json(SessionOut {
        key_id: who.key_id,
        scope: who.scope.as_str().to_string(),
        app_id: who.app_id,
        read_only: who.read_only,
        expires_at: who.expires_at.map(format_ms),
    }))
}
