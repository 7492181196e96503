//! `/v1/apps`: applications (tenants), addressable by id or `uid`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::{encode_cursor, PageQuery, Path, Principal, Query, RawJson};
use super::wire::{AppIn, AppList, AppOut, AppPatch};
use super::AppState;
use crate::domain::valid_uid;
use crate::error::ApiError;
use crate::ids::{new_id, Kind};
use crate::store::App;
use crate::timefmt::now_ms;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_app, list_apps))
        .routes(routes!(get_app, update_app, delete_app))
}

fn check_uid(uid: &Option<String>) -> Result<(), ApiError> {
    match uid {
        Some(u) if !valid_uid(u) => Err(ApiError::invalid(
            "uid",
            "uid must match ^[a-zA-Z0-9_.-]{1,64}$",
        )),
        Some(u) if u.starts_with("app_") => Err(ApiError::invalid(
            "uid",
            "uid must not start with app_ (reserved for ids)",
        )),
        _ => Ok(()),
    }
}

fn check_metadata(m: &Option<serde_json::Value>) -> Result<(), ApiError> {
    match m {
        Some(v) if !v.is_object() => {
            Err(ApiError::invalid("metadata", "metadata must be an object"))
        }
        _ => Ok(()),
    }
}

#[utoipa::path(post, path = "/v1/apps", tag = "apps", request_body = AppIn,
    responses((status = 201, body = AppOut), (status = 409, body = crate::error::ErrorBody)))]
async fn create_app(
    State(state): State<AppState>,
    who: Principal,
    body: RawJson,
) -> Result<(StatusCode, Json<AppOut>), ApiError> {
    who.require_admin()?;
    let input: AppIn = body.parse()?;
    if input.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "name must not be empty"));
    }
    check_uid(&input.uid)?;
    check_metadata(&input.metadata)?;
    let now = now_ms();
    let app = App {
        id: new_id(Kind::App),
        uid: input.uid,
        name: input.name,
        metadata: input.metadata.unwrap_or_else(|| serde_json::json!({})),
        created_at: now,
        updated_at: now,
    };
    state.store.insert_app(&app).await?;
    Ok((StatusCode::CREATED, Json(AppOut::from(&app))))
}

#[utoipa::path(get, path = "/v1/apps", tag = "apps",
    params(("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = AppList)))]
async fn list_apps(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<PageQuery>,
) -> Result<Json<AppList>, ApiError> {
    let page = state
        .store
        .list_apps(who.app_id.as_deref(), q.req(false)?)
        .await?;
    Ok(Json(AppList {
        data: page.items.iter().map(AppOut::from).collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

#[utoipa::path(get, path = "/v1/apps/{app}", tag = "apps",
    params(("app" = String, Path, description = "application id or uid")),
    responses((status = 200, body = AppOut), (status = 404, body = crate::error::ErrorBody)))]
async fn get_app(
    State(state): State<AppState>,
    who: Principal,
    Path(app): Path<String>,
) -> Result<Json<AppOut>, ApiError> {
    let app = who.app(&state, &app).await?;
    Ok(Json(AppOut::from(&app)))
}

#[utoipa::path(patch, path = "/v1/apps/{app}", tag = "apps", request_body = AppPatch,
    params(("app" = String, Path, description = "application id or uid")),
    responses((status = 200, body = AppOut), (status = 404, body = crate::error::ErrorBody)))]
async fn update_app(
    State(state): State<AppState>,
    who: Principal,
    Path(app): Path<String>,
    body: RawJson,
) -> Result<Json<AppOut>, ApiError> {
    let mut app = who.app(&state, &app).await?;
    who.require_admin()?;
    let patch: AppPatch = body.parse()?;
    if let Some(name) = patch.name {
        if name.trim().is_empty() {
            return Err(ApiError::invalid("name", "name must not be empty"));
        }
        app.name = name;
    }
    if let Some(uid) = patch.uid {
        check_uid(&uid)?;
        app.uid = uid;
    }
    check_metadata(&patch.metadata)?;
    if let Some(m) = patch.metadata {
        app.metadata = m;
    }
    app.updated_at = now_ms();
    state.store.update_app(&app).await?;
    Ok(Json(AppOut::from(&app)))
}

#[utoipa::path(delete, path = "/v1/apps/{app}", tag = "apps",
    params(("app" = String, Path, description = "application id or uid")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
async fn delete_app(
    State(state): State<AppState>,
    who: Principal,
    Path(app): Path<String>,
) -> Result<StatusCode, ApiError> {
    let app = who.app(&state, &app).await?;
    who.require_admin()?;
    state.store.delete_app(&app.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
