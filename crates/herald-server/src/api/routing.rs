//! Filters and transformations of endpoints (`routing.md`): their checks when an endpoint
//! is written, and the two test routes.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::endpoints::load;
use super::extract::{Path, Principal, RawJson};
use super::wire::*;
use super::AppState;
use crate::delivery::request::{self, Prep};
use crate::error::ApiError;
use crate::ids::{new_id, Kind};
use crate::routing::{transform, EventVars, Filter};
use crate::store::{Job, Transformation};
use crate::timefmt::now_ms;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(test_filter))
        .routes(routes!(test_transformation))
}

fn invalid_filter(message: String) -> ApiError {
    ApiError::bad(
        "invalid_filter",
        format!("filter: {message}"),
        Some("filter".into()),
    )
}

fn invalid_transformation(message: String) -> ApiError {
    ApiError::bad(
        "invalid_transformation",
        format!("transformation.code: {message}"),
        Some("transformation.code".into()),
    )
}

/// An endpoint's `filter` as written: compiled, or refused with its position.
pub fn checked_filter(source: Option<String>) -> Result<Option<Filter>, ApiError> {
    source
        .map(|s| Filter::compile(&s).map_err(|e| invalid_filter(e.0)))
        .transpose()
}

/// An endpoint's `transformation` as written: compiled once by the engine, or refused.
pub async fn checked_transformation(
    t: Option<herald_types::Transformation>,
) -> Result<Option<Transformation>, ApiError> {
    let Some(t) = t else {
        return Ok(None);
    };
    transform::check(&t.code)
        .await
        .map_err(invalid_transformation)?;
    Ok(Some(Transformation {
        code: t.code.into(),
        enabled: t.enabled,
    }))
}

#[utoipa::path(post, path = "/v1/apps/{app}/endpoints/{ep}/filter/test", tag = "endpoints",
    request_body = FilterTestIn,
    params(("app" = String, Path, description = "application id or uid"), ("ep" = String, Path, description = "endpoint id")),
    responses((status = 200, body = FilterTestOut), (status = 400, body = crate::error::ErrorBody)))]
async fn test_filter(
    State(state): State<AppState>,
    who: Principal,
    Path((app, ep)): Path<(String, String)>,
    body: RawJson,
) -> Result<Json<FilterTestOut>, ApiError> {
    let (_, ep) = load(&state, &who, &app, &ep).await?;
    let input: FilterTestIn = body.parse()?;
    let filter = match input.filter {
        Some(text) => Some(Filter::compile(&text).map_err(|e| invalid_filter(e.0))?),
        None => ep.filter,
    };
    let Some(filter) = filter else {
        // No filter: every event of the subscribed types is delivered.
        return Ok(Json(FilterTestOut {
            matches: true,
            error: None,
        }));
    };
    let metadata = serde_json::Value::Object(input.metadata.unwrap_or_default());
    let vars = EventVars::parsed(
        &input.event_type,
        &input.payload,
        input.source.as_deref(),
        input.subject.as_deref(),
        &metadata,
    );
    Ok(Json(match filter.matches(&vars) {
        Ok(matches) => FilterTestOut {
            matches,
            error: None,
        },
        Err(e) => FilterTestOut {
            matches: false,
            error: Some(e),
        },
    }))
}

#[utoipa::path(post, path = "/v1/apps/{app}/endpoints/{ep}/transformation/test", tag = "endpoints",
    request_body = TransformationTestIn,
    params(("app" = String, Path, description = "application id or uid"), ("ep" = String, Path, description = "endpoint id")),
    responses((status = 200, body = TransformationTestOut), (status = 400, body = crate::error::ErrorBody)))]
async fn test_transformation(
    State(state): State<AppState>,
    who: Principal,
    Path((app, ep)): Path<(String, String)>,
    body: RawJson,
) -> Result<Json<TransformationTestOut>, ApiError> {
    let (app, mut ep) = load(&state, &who, &app, &ep).await?;
    let input: TransformationTestIn = body.parse()?;
    let code: Arc<str> = match input.code {
        Some(code) => {
            transform::check(&code)
                .await
                .map_err(invalid_transformation)?;
            code.into()
        }
        None => match &ep.transformation {
            Some(t) => t.code.clone(),
            None => {
                return Err(invalid_transformation(
                    "the endpoint has no transformation and the request gives no code".into(),
                ))
            }
        },
    };
    ep.transformation = Some(Transformation {
        code,
        enabled: true,
    });
    let now = now_ms();
    let job = Job {
        delivery_id: new_id(Kind::Delivery),
        attempts: 0,
        app_id: app.id,
        event_id: new_id(Kind::Event),
        event_type: input.event_type,
        payload: input.payload.to_string().into_bytes().into(),
        source: None,
        subject: None,
        event_created_at: now,
        due_at: now,
        endpoint: Arc::new(ep),
    };
    match request::prepare(&job, 1, now, None).await {
        Prep::Send(p) => Ok(Json(TransformationTestOut {
            cancelled: None,
            method: Some(p.method.to_string()),
            url: Some(p.url),
            headers: Some(p.headers.into_iter().collect::<BTreeMap<_, _>>()),
            body: Some(String::from_utf8_lossy(&p.body).into_owned()),
        })),
        Prep::Cancelled => Ok(Json(TransformationTestOut {
            cancelled: Some(true),
            ..Default::default()
        })),
        Prep::Failed(e) => Err(ApiError::bad("transformation_error", e, None)),
    }
}
