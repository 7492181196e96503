//! `/v1/apps/{app}/deliveries`: delivery reads, attempts (oldest first), manual retry.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::{encode_cursor, PageQuery, Path, Principal, Query};
use super::wire::*;
use super::AppState;
use crate::error::ApiError;
use crate::store::{Delivery, DeliveryFilter, DeliveryStatus};
use crate::timefmt::now_ms;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deliveries))
        .routes(routes!(get_delivery))
        .routes(routes!(list_attempts))
        .routes(routes!(retry_delivery))
}

async fn load(
    state: &AppState,
    who: &Principal,
    app: &str,
    del: &str,
) -> Result<Delivery, ApiError> {
    let app = who.app(state, app).await?;
    state
        .store
        .delivery(&app.id, del)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))
}

#[derive(Debug, Deserialize, Default)]
struct DeliveryQuery {
    endpoint_id: Option<String>,
    event_id: Option<String>,
    status: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

#[utoipa::path(get, path = "/v1/apps/{app}/deliveries", tag = "deliveries",
    params(("app" = String, Path, description = "application id or uid"),
           ("endpoint_id" = Option<String>, Query), ("event_id" = Option<String>, Query),
           ("status" = Option<String>, Query, description = "pending|succeeded|failed|cancelled"),
           ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = DeliveryList)))]
async fn list_deliveries(
    State(state): State<AppState>,
    who: Principal,
    Path(app): Path<String>,
    Query(q): Query<DeliveryQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    let app = who.app(&state, &app).await?;
    let status = match &q.status {
        None => None,
        Some(s) => Some(DeliveryStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "status",
                "status must be pending, succeeded, failed or cancelled",
            )
        })?),
    };
    let filter = DeliveryFilter {
        endpoint_id: q.endpoint_id.clone(),
        event_id: q.event_id.clone(),
        status,
    };
    let page = state
        .store
        .list_deliveries(&app.id, &filter, q.page.req(false)?)
        .await?;
    Ok(Json(DeliveryList {
        data: page.items.iter().map(DeliveryOut::from).collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

#[derive(Debug, Deserialize, Default)]
struct IncludePayload {
    include_payload: Option<String>,
}

#[utoipa::path(get, path = "/v1/apps/{app}/deliveries/{del}", tag = "deliveries",
    params(("app" = String, Path, description = "application id or uid"), ("del" = String, Path, description = "delivery id"),
           ("include_payload" = Option<bool>, Query)),
    responses((status = 200, body = DeliveryOut), (status = 404, body = crate::error::ErrorBody)))]
async fn get_delivery(
    State(state): State<AppState>,
    who: Principal,
    Path((app, del)): Path<(String, String)>,
    Query(q): Query<IncludePayload>,
) -> Result<Json<DeliveryOut>, ApiError> {
    let d = load(&state, &who, &app, &del).await?;
    let mut out = DeliveryOut::from(&d);
    let include = match q.include_payload.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "include_payload",
                "include_payload must be true or false",
            ))
        }
    };
    if include {
        if let Some(ev) = state.store.event(&d.app_id, &d.event_id).await? {
            out.payload = Some(raw_payload(&ev.payload));
        }
    }
    Ok(Json(out))
}

#[utoipa::path(get, path = "/v1/apps/{app}/deliveries/{del}/attempts", tag = "deliveries",
    params(("app" = String, Path, description = "application id or uid"), ("del" = String, Path, description = "delivery id"),
           ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = AttemptList, description = "oldest first")))]
async fn list_attempts(
    State(state): State<AppState>,
    who: Principal,
    Path((app, del)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> Result<Json<AttemptList>, ApiError> {
    let d = load(&state, &who, &app, &del).await?;
    let page = state.store.list_attempts(&d.id, q.req(true)?).await?;
    Ok(Json(AttemptList {
        data: page.items.iter().map(AttemptOut::from).collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

#[utoipa::path(post, path = "/v1/apps/{app}/deliveries/{del}/retry", tag = "deliveries",
    params(("app" = String, Path, description = "application id or uid"), ("del" = String, Path, description = "delivery id")),
    responses((status = 202, body = DeliveryOut)))]
async fn retry_delivery(
    State(state): State<AppState>,
    who: Principal,
    Path((app, del)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryOut>), ApiError> {
    let d = load(&state, &who, &app, &del).await?;
    let now = now_ms();
    state.store.retry_delivery(&d.id, now).await?;
    state.engine.wake();
    let d = load(&state, &who, &app, &del).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryOut::from(&d))))
}
