//! `/v1/keys`: API keys. The secret is returned once, at creation; only its hash is kept.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::{encode_cursor, hash_key, PageQuery, Path, Principal, Query, RawJson};
use super::wire::{KeyCreated, KeyIn, KeyList, KeyOut};
use super::AppState;
use crate::error::ApiError;
use crate::ids::{new_id, Kind};
use crate::store::{ApiKey, Scope};
use crate::timefmt::now_ms;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_key, list_keys))
        .routes(routes!(delete_key))
}

/// A new key secret: `hrd_` + base64url of 32 random bytes (43 characters).
pub fn generate_key() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("hrd_{}", B64URL.encode(bytes))
}

/// A new unscoped admin key named `name` whose secret is `secret` (only its hash is kept).
pub fn admin_key(name: &str, secret: &str) -> ApiKey {
    ApiKey {
        id: crate::ids::new_id(crate::ids::Kind::Key),
        name: name.into(),
        scope: Scope::Admin,
        app_id: None,
        key_hash: super::extract::hash_key(secret),
        read_only: false,
        expires_at: None,
        created_at: crate::timefmt::now_ms(),
    }
}

/// Stores a new key and returns its secret.
pub async fn issue_key(
    state: &AppState,
    name: String,
    scope: Scope,
    app_id: Option<String>,
    read_only: bool,
    expires_at: Option<i64>,
) -> Result<(ApiKey, String), ApiError> {
    let secret = generate_key();
    let key = ApiKey {
        id: new_id(Kind::Key),
        name,
        scope,
        app_id,
        key_hash: hash_key(&secret),
        read_only,
        expires_at,
        created_at: now_ms(),
    };
    state.store.insert_key(&key).await?;
    Ok((key, secret))
}

#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = KeyIn,
    responses((status = 201, body = KeyCreated), (status = 400, body = crate::error::ErrorBody)))]
async fn create_key(
    State(state): State<AppState>,
    who: Principal,
    body: RawJson,
) -> Result<(StatusCode, Json<KeyCreated>), ApiError> {
    who.require_admin()?;
    let input: KeyIn = body.parse()?;
    let scope = match input.scope.as_str() {
        "admin" => Scope::Admin,
        "producer" => Scope::Producer,
        _ => {
            return Err(ApiError::invalid(
                "scope",
                "scope must be admin or producer",
            ))
        }
    };
    if input.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "name must not be empty"));
    }
    let app_id = match input.app_id {
        Some(a) => Some(
            state
                .store
                .app(&a)
                .await?
                .ok_or_else(|| ApiError::invalid("app_id", "no such application"))?
                .id,
        ),
        None => None,
    };
    let (key, secret) = issue_key(&state, input.name, scope, app_id, false, None).await?;
    Ok((
        StatusCode::CREATED,
        Json(KeyCreated {
            info: KeyOut::from(&key),
            key: secret,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    params(("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = KeyList)))]
async fn list_keys(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<PageQuery>,
) -> Result<Json<KeyList>, ApiError> {
    who.require_admin()?;
    let page = state.store.list_keys(q.req(false)?).await?;
    Ok(Json(KeyList {
        data: page.items.iter().map(KeyOut::from).collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys",
    params(("id" = String, Path, description = "key id (key_…)")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody, description = "the last admin key (`last_admin_key`)")))]
async fn delete_key(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    who.require_admin()?;
    state.store.delete_key(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
