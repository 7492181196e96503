//! `/v1/event-types`: the catalogue of event types, with optional JSON Schemas.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::{encode_cursor, PageQuery, Path, Principal, Query, RawJson};
use super::wire::{EventTypeIn, EventTypeList, EventTypeOut, EventTypePatch};
use super::AppState;
use crate::domain::valid_event_type_name;
use crate::error::ApiError;
use crate::ids::{new_id, Kind};
use crate::store::EventType;
use crate::timefmt::now_ms;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_type, list_types))
        .routes(routes!(get_type, update_type, delete_type))
}

fn check_schema(schema: &Option<serde_json::Value>) -> Result<(), ApiError> {
    if let Some(s) = schema {
        if !(s.is_object() || s.is_boolean()) {
            return Err(ApiError::invalid(
                "schema",
                "schema must be a JSON Schema object",
            ));
        }
        crate::schemas::compile(s)
            .map_err(|e| ApiError::invalid("schema", format!("invalid JSON Schema: {e}")))?;
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/event-types", tag = "event-types", request_body = EventTypeIn,
    responses((status = 201, body = EventTypeOut), (status = 409, body = crate::error::ErrorBody)))]
async fn create_type(
    State(state): State<AppState>,
    who: Principal,
    body: RawJson,
) -> Result<(StatusCode, Json<EventTypeOut>), ApiError> {
    who.require_admin()?;
    let input: EventTypeIn = body.parse()?;
    if !valid_event_type_name(&input.name) {
        return Err(ApiError::invalid(
            "name",
            "name must match ^[a-zA-Z0-9_-]+(\\.[a-zA-Z0-9_-]+)*$ and be at most 256 characters",
        ));
    }
    check_schema(&input.schema)?;
    let now = now_ms();
    let et = EventType {
        id: new_id(Kind::EventType),
        name: input.name,
        description: input.description,
        schema: input.schema,
        archived: input.archived.unwrap_or(false),
        created_at: now,
        updated_at: now,
    };
    state.store.insert_event_type(&et).await?;
    Ok((StatusCode::CREATED, Json(EventTypeOut::from(&et))))
}

#[utoipa::path(get, path = "/v1/event-types", tag = "event-types",
    params(("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = EventTypeList)))]
async fn list_types(
    State(state): State<AppState>,
    _who: Principal,
    Query(q): Query<PageQuery>,
) -> Result<Json<EventTypeList>, ApiError> {
    let page = state.store.list_event_types(q.req(false)?).await?;
    Ok(Json(EventTypeList {
        data: page.items.iter().map(EventTypeOut::from).collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

async fn load(state: &AppState, name: &str) -> Result<EventType, ApiError> {
    state
        .store
        .event_type(name)
        .await?
        .ok_or_else(|| ApiError::not_found("event type"))
}

#[utoipa::path(get, path = "/v1/event-types/{name}", tag = "event-types",
    params(("name" = String, Path, description = "event type name")),
    responses((status = 200, body = EventTypeOut), (status = 404, body = crate::error::ErrorBody)))]
async fn get_type(
    State(state): State<AppState>,
    _who: Principal,
    Path(name): Path<String>,
) -> Result<Json<EventTypeOut>, ApiError> {
    Ok(Json(EventTypeOut::from(&load(&state, &name).await?)))
}

#[utoipa::path(patch, path = "/v1/event-types/{name}", tag = "event-types", request_body = EventTypePatch,
    params(("name" = String, Path, description = "event type name")),
    responses((status = 200, body = EventTypeOut), (status = 404, body = crate::error::ErrorBody)))]
async fn update_type(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    body: RawJson,
) -> Result<Json<EventTypeOut>, ApiError> {
    who.require_admin()?;
    let mut et = load(&state, &name).await?;
    let patch: EventTypePatch = body.parse()?;
    if let Some(d) = patch.description {
        et.description = d;
    }
    if let Some(s) = patch.schema {
        check_schema(&s)?;
        et.schema = s;
    }
    if let Some(a) = patch.archived {
        et.archived = a;
    }
    // Strictly increasing, so cached compiled schemas are never stale.
    et.updated_at = now_ms().max(et.updated_at + 1);
    state.store.update_event_type(&et).await?;
    Ok(Json(EventTypeOut::from(&et)))
}

#[utoipa::path(delete, path = "/v1/event-types/{name}", tag = "event-types",
    params(("name" = String, Path, description = "event type name")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
async fn delete_type(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    who.require_admin()?;
    state.store.delete_event_type(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
