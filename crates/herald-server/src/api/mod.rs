//! The HTTP API (`http-api.md`): one module per resource, each exposing `routes()`; the
//! OpenAPI document is collected from the same handlers' annotations.

pub mod apps;
pub mod deliveries;
pub mod endpoints;
pub mod event_types;
pub mod events;
pub mod extract;
pub mod idempotency;
pub mod keys;
pub mod openapi;
pub mod ops;
pub mod portal;
pub mod routing;
pub mod session;
pub mod wire;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::delivery::EngineHandle;
use crate::error::ApiError;
use crate::schemas::SchemaCache;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub schemas: SchemaCache,
    pub engine: EngineHandle,
    pub metrics: PrometheusHandle,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Herald API", description = "Durable, signed webhook delivery."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("hrd_…")
                    .build(),
            ),
        );
    }
}

/// The whole application: API routes, operations routes, the console and portal pages,
/// metrics middleware.
pub fn router(state: AppState) -> Router {
    let (api, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(keys::routes())
        .merge(apps::routes())
        .merge(event_types::routes())
        .merge(endpoints::routes())
        .merge(routing::routes())
        .merge(events::routes())
        .merge(deliveries::routes())
        .merge(portal::routes())
        .merge(session::routes())
        .merge(ops::routes())
        .split_for_parts();
    let doc = Arc::new(openapi::complete(
        serde_json::to_value(&doc).expect("the OpenAPI document serialises"),
    ));
    api.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        idempotency::layer,
    ))
    .route(
        "/openapi.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    )
    .merge(crate::web::routes())
    .fallback(|| async {
        ApiError::NotFound {
            code: "route_not_found",
            message: "no such route".into(),
        }
    })
    .layer(axum::middleware::from_fn(crate::error::framework_errors))
    .layer(axum::middleware::from_fn(track_http))
    .with_state(state)
}

/// Records `herald_http_requests_total{route,status}` and the request duration.
async fn track_http(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("herald_http_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("herald_http_request_duration_seconds", "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}
