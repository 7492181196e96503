//! `POST /v1/apps/{app}/portal-sessions`: a short-lived credential for one application,
//! handed to the operator's customer as a portal link.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::{Principal, RawJson};
use super::keys::issue_key;
use super::wire::{PortalSessionIn, PortalSessionOut};
use super::AppState;
use crate::error::ApiError;
use crate::store::Scope;
use crate::timefmt::{format_ms, now_ms};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_session))
}

#[utoipa::path(post, path = "/v1/apps/{app}/portal-sessions", tag = "portal", request_body = PortalSessionIn,
    params(("app" = String, Path, description = "application id or uid")),
    responses((status = 201, body = PortalSessionOut)))]
async fn create_session(
    State(state): State<AppState>,
    who: Principal,
    Path(app): Path<String>,
    body: RawJson,
) -> Result<(StatusCode, Json<PortalSessionOut>), ApiError> {
    let app = who.app(&state, &app).await?;
    if who.scope != Scope::Admin {
        return Err(ApiError::Permission(
            "portal sessions need an admin key".into(),
        ));
    }
    let input: PortalSessionIn = body.parse()?;
    let expires_in = input.expires_in.unwrap_or(3600);
    if !(1..=604_800).contains(&expires_in) {
        return Err(ApiError::invalid(
            "expires_in",
            "expires_in must be 1 to 604800 seconds",
        ));
    }
    let read_only = input.read_only.unwrap_or(false);
    let expires_at = now_ms() + expires_in * 1000;
    let (_, token) = issue_key(
        &state,
        format!("portal session for {}", app.id),
        Scope::Portal,
        Some(app.id.clone()),
        read_only,
        Some(expires_at),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(PortalSessionOut {
            url: format!("{}/portal/#token={token}", state.config.public_base()),
            token,
            expires_at: format_ms(expires_at),
            read_only,
        }),
    ))
}
