//! `/v1/apps/{app}/endpoints`: subscriptions, their secrets, test pings, recovery, stats.

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::events::{accept_one, EventRequest};
use super::extract::{encode_cursor, PageQuery, Path, Principal, Query, RawJson};
use super::routing::{checked_filter, checked_transformation};
use super::wire::*;
use super::AppState;
use crate::domain::{reserved_header, valid_filter};
use crate::error::ApiError;
use crate::ids::{new_id, Kind};
use crate::store::{
    App, Endpoint, EndpointStatus, Format, Scope, SignatureScheme, Targets, MAX_VALID_SECRETS,
};
use crate::timefmt::{now_ms, parse_rfc3339_ms};
use secrecy::{ExposeSecret, SecretString};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(get_secret))
        .routes(routes!(rotate_secret))
        .routes(routes!(test_endpoint))
        .routes(routes!(recover_endpoint))
        .routes(routes!(endpoint_stats))
}

const DEFAULT_MAX_IN_FLIGHT: i64 = 16;

fn check_url(url: &str) -> Result<(), ApiError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| ApiError::invalid("url", format!("url is not an absolute URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ApiError::invalid(
            "url",
            "url must be an absolute http:// or https:// URL",
        ));
    }
    Ok(())
}

fn check_filters(filters: &Option<Vec<String>>) -> Result<(), ApiError> {
    if let Some(list) = filters {
        for f in list {
            if !valid_filter(f) {
                return Err(ApiError::invalid(
                    "event_types",
                    format!(
                        "{f:?} is neither an event type name nor a prefix wildcard like order.*"
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_headers(headers: &serde_json::Map<String, serde_json::Value>) -> Result<(), ApiError> {
    for (name, value) in headers {
        let param = format!("headers.{name}");
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(ApiError::invalid(
                param,
                format!("{name:?} is not a valid header name"),
            ));
        }
        if reserved_header(name) {
            return Err(ApiError::invalid(
                param,
                format!("header {name:?} is reserved and set by Herald"),
            ));
        }
        let ok = value
            .as_str()
            .is_some_and(|v| HeaderValue::from_str(v).is_ok());
        if !ok {
            return Err(ApiError::invalid(
                param,
                "header values must be strings of visible ASCII",
            ));
        }
    }
    Ok(())
}

fn check_limits(rate_limit: Option<i64>, max_in_flight: Option<i64>) -> Result<(), ApiError> {
    if rate_limit.is_some_and(|r| !(1..=100_000).contains(&r)) {
        return Err(ApiError::invalid(
            "rate_limit",
            "rate_limit must be from 1 to 100000 per second",
        ));
    }
    if max_in_flight.is_some_and(|m| !(1..=1000).contains(&m)) {
        return Err(ApiError::invalid(
            "max_in_flight",
            "max_in_flight must be from 1 to 1000",
        ));
    }
    Ok(())
}

/// Loads `{ep}` of `{app}` for a caller who may see endpoints (producer keys may not:
/// `security.md`).
/// The secret an endpoint signs with: `given` (checked) or a generated one for `v1`; always a
/// generated ed25519 key for `v1a`, which refuses a given one with `v1a_refusal`.
fn signing_secret(
    scheme: SignatureScheme,
    given: Option<String>,
    v1a_refusal: &str,
) -> Result<SecretString, ApiError> {
    let secret = match (scheme, given) {
        (SignatureScheme::V1, Some(s)) => {
            herald_signature::validate_secret(&s)
                .map_err(|e| ApiError::invalid("secret", e.to_string()))?;
            s
        }
        (SignatureScheme::V1, None) => herald_signature::generate_secret(),
        (SignatureScheme::V1a, Some(_)) => return Err(ApiError::invalid("secret", v1a_refusal)),
        (SignatureScheme::V1a, None) => herald_signature::generate_ed25519().0,
    };
    Ok(SecretString::from(secret))
}

/// An endpoint as `who` may see it: custom header values (credentials, often) go to admin
/// keys only; anyone else sees the names with `***` (`security.md`).
fn shown(ep: &Endpoint, who: &Principal) -> EndpointOut {
    let mut out = EndpointOut::from(ep);
    if who.scope != Scope::Admin {
        for value in out.headers.values_mut() {
            *value = serde_json::Value::String("***".into());
        }
    }
    out
}

/// A header sent back as `***` (the value [`shown`] hides from all but admin keys) keeps
/// the value it has: a portal that edits an endpoint must not overwrite its credentials
/// with the mask. `***` for a header the endpoint does not have is refused.
fn keep_hidden_values(
    mut wanted: serde_json::Map<String, serde_json::Value>,
    stored: &serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    for (name, value) in wanted.iter_mut() {
        if value.as_str() == Some("***") {
            *value = stored.get(name).cloned().ok_or_else(|| {
                ApiError::invalid(
                    format!("headers.{name}"),
                    format!(
                        "`***` keeps the value header {name} has, and it has none: give its value"
                    ),
                )
            })?;
        }
    }
    Ok(wanted)
}

pub(super) async fn load(
    state: &AppState,
    who: &Principal,
    app: &str,
    ep: &str,
) -> Result<(App, Endpoint), ApiError> {
    let app = who.app(state, app).await?;
    who.require_manage()?;
    let ep = state
        .store
        .endpoint(&app.id, ep)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint"))?;
    Ok((app, ep))
}

#[utoipa::path(post, path = "/v1/apps/{app}/endpoints", tag = "endpoints", request_body = EndpointIn,
    params(("app" = String, Path, description = "application id or uid")),
    responses((status = 201, body = EndpointOut), (status = 400, body = crate::error::ErrorBody)))]
async fn create_endpoint(
    State(state): State<AppState>,
    who: Principal,
    Path(app): Path<String>,
    body: RawJson,
) -> Result<(StatusCode, Json<EndpointOut>), ApiError> {
    let app = who.app(&state, &app).await?;
    who.require_manage()?;
    let input: EndpointIn = body.parse()?;
    check_url(&input.url)?;
    check_filters(&input.event_types)?;
    check_limits(input.rate_limit, input.max_in_flight)?;
    let headers = input.headers.unwrap_or_default();
    check_headers(&headers)?;
    if input.metadata.as_ref().is_some_and(|m| !m.is_object()) {
        return Err(ApiError::invalid("metadata", "metadata must be an object"));
    }
    let filter = checked_filter(input.filter)?;
    let transformation = checked_transformation(input.transformation).await?;
    let scheme = input.signature_scheme.unwrap_or(SignatureScheme::V1);
    let secret = signing_secret(
        scheme,
        input.secret,
        "v1a endpoints have generated ed25519 keys; secret is not accepted",
    )?;
    let now = now_ms();
    let disabled = input.disabled.unwrap_or(false);
    let ep = Endpoint {
        id: new_id(Kind::Endpoint),
        app_id: app.id,
        url: input.url,
        description: input.description,
        event_types: input.event_types,
        status: if disabled {
            EndpointStatus::Disabled
        } else {
            EndpointStatus::Active
        },
        disabled_reason: disabled.then(|| "disabled by a user".to_string()),
        rate_limit: input.rate_limit,
        max_in_flight: input.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        headers,
        format: input.format.unwrap_or(Format::StandardWebhooks),
        ordered: input.ordered.unwrap_or(false),
        metadata: input.metadata.unwrap_or_else(|| serde_json::json!({})),
        signature_scheme: scheme,
        secret,
        previous_secrets: Vec::new(),
        first_failure_at: None,
        filter,
        transformation,
        created_at: now,
        updated_at: now,
    };
    state.store.insert_endpoint(&ep).await?;
    Ok((StatusCode::CREATED, Json(shown(&ep, &who))))
}

#[utoipa::path(get, path = "/v1/apps/{app}/endpoints", tag = "endpoints",
    params(("app" = String, Path, description = "application id or uid"),
           ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = EndpointList)))]
async fn list_endpoints(
    State(state): State<AppState>,
    who: Principal,
    Path(app): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<EndpointList>, ApiError> {
    let app = who.app(&state, &app).await?;
    who.require_manage()?;
    let page = state.store.list_endpoints(&app.id, q.req(false)?).await?;
    Ok(Json(EndpointList {
        data: page.items.iter().map(|ep| shown(ep, &who)).collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

#[utoipa::path(get, path = "/v1/apps/{app}/endpoints/{ep}", tag = "endpoints",
    params(("app" = String, Path, description = "application id or uid"), ("ep" = String, Path, description = "endpoint id")),
    responses((status = 200, body = EndpointOut), (status = 404, body = crate::error::ErrorBody)))]
async fn get_endpoint(
    State(state): State<AppState>,
    who: Principal,
    Path((app, ep)): Path<(String, String)>,
) -> Result<Json<EndpointOut>, ApiError> {
    let (_, ep) = load(&state, &who, &app, &ep).await?;
    Ok(Json(shown(&ep, &who)))
}

#[utoipa::path(patch, path = "/v1/apps/{app}/endpoints/{ep}", tag = "endpoints", request_body = EndpointPatch,
    params(("app" = String, Path, description = "application id or uid"), ("ep" = String, Path, description = "endpoint id")),
    responses((status = 200, body = EndpointOut), (status = 404, body = crate::error::ErrorBody)))]
async fn update_endpoint(
    State(state): State<AppState>,
    who: Principal,
    Path((app, ep)): Path<(String, String)>,
    body: RawJson,
) -> Result<Json<EndpointOut>, ApiError> {
    let (_, mut ep) = load(&state, &who, &app, &ep).await?;
    let p: EndpointPatch = body.parse()?;
    if let Some(url) = p.url {
        check_url(&url)?;
        ep.url = url;
    }
    if let Some(d) = p.description {
        ep.description = d;
    }
    if let Some(f) = p.event_types {
        check_filters(&f)?;
        ep.event_types = f;
    }
    check_limits(p.rate_limit.flatten(), p.max_in_flight)?;
    if let Some(r) = p.rate_limit {
        ep.rate_limit = r;
    }
    if let Some(m) = p.max_in_flight {
        ep.max_in_flight = m;
    }
    if let Some(h) = p.headers {
        check_headers(&h)?;
        ep.headers = keep_hidden_values(h, &ep.headers)?;
    }
    if let Some(f) = p.format {
        ep.format = f;
    }
    if let Some(o) = p.ordered {
        ep.ordered = o;
    }
    if let Some(m) = p.metadata {
        if !m.is_object() {
            return Err(ApiError::invalid("metadata", "metadata must be an object"));
        }
        ep.metadata = m;
    }
    if let Some(f) = p.filter {
        ep.filter = checked_filter(f)?;
    }
    if let Some(t) = p.transformation {
        ep.transformation = checked_transformation(t).await?;
    }
    match p.disabled {
        Some(true) if ep.status == EndpointStatus::Active => {
            ep.status = EndpointStatus::Disabled;
            ep.disabled_reason = Some("disabled by a user".into());
        }
        Some(false) if ep.status != EndpointStatus::Active => {
            ep.status = EndpointStatus::Active;
            ep.disabled_reason = None;
            ep.first_failure_at = None;
        }
        _ => {}
    }
    ep.updated_at = now_ms();
    state.store.update_endpoint(&ep).await?;
    state.engine.endpoint_changed(&ep.id);
    Ok(Json(shown(&ep, &who)))
}

#[utoipa::path(delete, path = "/v1/apps/{app}/endpoints/{ep}", tag = "endpoints",
    params(("app" = String, Path, description = "application id or uid"), ("ep" = String, Path, description = "endpoint id")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    who: Principal,
    Path((app, ep)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (app, ep) = load(&state, &who, &app, &ep).await?;
    state.store.delete_endpoint(&app.id, &ep.id).await?;
    state.engine.endpoint_changed(&ep.id);
    Ok(StatusCode::NO_CONTENT)
}

fn secret_out(secret: &str) -> Result<SecretOut, ApiError> {
    if secret.starts_with(herald_signature::SIGNING_KEY_PREFIX) {
        let key = herald_signature::SigningKey::parse(secret)
            .map_err(|e| ApiError::Internal(format!("stored signing key: {e}")))?;
        Ok(SecretOut {
            secret: None,
            public_key: key.public_key(),
        })
    } else {
        Ok(SecretOut {
            secret: Some(secret.to_string()),
            public_key: None,
        })
    }
}

#[utoipa::path(get, path = "/v1/apps/{app}/endpoints/{ep}/secret", tag = "endpoints",
    params(("app" = String, Path, description = "application id or uid"), ("ep" = String, Path, description = "endpoint id")),
    responses((status = 200, body = SecretOut)))]
async fn get_secret(
    State(state): State<AppState>,
    who: Principal,
    Path((app, ep)): Path<(String, String)>,
) -> Result<Json<SecretOut>, ApiError> {
    let (_, ep) = load(&state, &who, &app, &ep).await?;
    if who.read_only {
        return Err(ApiError::forbidden(
            "read_only",
            "a read-only portal session cannot read the signing secret",
        ));
    }
    Ok(Json(secret_out(ep.secret.expose_secret())?))
}

#[utoipa::path(post, path = "/v1/apps/{app}/endpoints/{ep}/secret/rotate", tag = "endpoints", request_body = RotateIn,
    params(("app" = String, Path, description = "application id or uid"), ("ep" = String, Path, description = "endpoint id")),
    responses((status = 200, body = SecretOut), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "`too_many_rotations`: five secrets are valid already", body = crate::error::ErrorBody)))]
async fn rotate_secret(
    State(state): State<AppState>,
    who: Principal,
    Path((app, ep)): Path<(String, String)>,
    body: RawJson,
) -> Result<Json<SecretOut>, ApiError> {
    let (_, mut ep) = load(&state, &who, &app, &ep).await?;
    let input: RotateIn = body.parse()?;
    let new_secret = signing_secret(
        ep.signature_scheme,
        input.secret,
        "v1a endpoints rotate to a generated key; secret is not accepted",
    )?;
    let now = now_ms();
    let grace = state.config.secret_grace_period.as_millis() as i64;
    if !ep.rotate_secret(new_secret, now, grace) {
        return Err(ApiError::conflict(
            "too_many_rotations",
            format!(
                "{MAX_VALID_SECRETS} secrets are valid at once (the current one and {} previous, each until its grace period ends): wait for the oldest to expire",
                MAX_VALID_SECRETS - 1
            ),
        ));
    }
    ep.updated_at = now;
    state.store.update_endpoint(&ep).await?;
    Ok(Json(secret_out(ep.secret.expose_secret())?))
}

#[utoipa::path(post, path = "/v1/apps/{app}/endpoints/{ep}/test", tag = "endpoints",
    params(("app" = String, Path, description = "application id or uid"), ("ep" = String, Path, description = "endpoint id")),
    responses((status = 202, body = EventAccepted)))]
async fn test_endpoint(
    State(state): State<AppState>,
    who: Principal,
    Path((app, ep)): Path<(String, String)>,
) -> Result<(StatusCode, Json<EventAccepted>), ApiError> {
    let (app, ep) = load(&state, &who, &app, &ep).await?;
    let payload = serde_json::json!({
        "endpoint_id": ep.id,
        "message": "This is a test event sent by Herald.",
    });
    let ping = EventRequest {
        event_type: "herald.ping".into(),
        payload: payload.to_string().into_bytes(),
        targets: Targets::Explicit(vec![ep.id.clone()]),
        source: None,
        subject: None,
        metadata: serde_json::json!({}),
        idempotency: None,
    };
    let accepted = accept_one(&state, &app, ping).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

#[utoipa::path(post, path = "/v1/apps/{app}/endpoints/{ep}/recover", tag = "endpoints", request_body = RecoverIn,
    params(("app" = String, Path, description = "application id or uid"), ("ep" = String, Path, description = "endpoint id")),
    responses((status = 202, body = RecoverOut)))]
async fn recover_endpoint(
    State(state): State<AppState>,
    who: Principal,
    Path((app, ep)): Path<(String, String)>,
    body: RawJson,
) -> Result<(StatusCode, Json<RecoverOut>), ApiError> {
    let (_, ep) = load(&state, &who, &app, &ep).await?;
    let input: RecoverIn = body.parse()?;
    let since = parse_rfc3339_ms(&input.since)
        .ok_or_else(|| ApiError::invalid("since", "since must be an RFC 3339 timestamp"))?;
    let requeued = state
        .store
        .recover_endpoint(&ep.id, since, now_ms())
        .await?;
    state.engine.wake();
    Ok((StatusCode::ACCEPTED, Json(RecoverOut { requeued })))
}

#[utoipa::path(get, path = "/v1/apps/{app}/endpoints/{ep}/stats", tag = "endpoints",
    params(("app" = String, Path, description = "application id or uid"), ("ep" = String, Path, description = "endpoint id")),
    responses((status = 200, body = StatsOut)))]
async fn endpoint_stats(
    State(state): State<AppState>,
    who: Principal,
    Path((app, ep)): Path<(String, String)>,
) -> Result<Json<StatsOut>, ApiError> {
    let (_, ep) = load(&state, &who, &app, &ep).await?;
    let s = state
        .store
        .endpoint_stats(&ep.id, now_ms() - 24 * 3600 * 1000)
        .await?;
    let last_outcome = s.last_attempt_at.map(|_| {
        s.last_error_kind
            .clone()
            .unwrap_or_else(|| "succeeded".to_string())
    });
    Ok(Json(StatsOut {
        period_hours: 24,
        pending: s.pending,
        succeeded: s.succeeded,
        failed: s.failed,
        cancelled: s.cancelled,
        last_attempt_at: s.last_attempt_at.map(crate::timefmt::format_ms),
        last_status_code: s.last_status_code,
        last_outcome,
    }))
}
