//! `/v1/apps/{app}/events`: ingest (single and batch) and reads.
//!
//! Each event is checked (type name, archived, strict mode, schema, targets) before it
//! reaches the store; the store commits accepted events with their deliveries in one
//! transaction, and only then does the handler answer 202.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::{
    encode_cursor, from_value, split_payload, PageQuery, Path, Principal, Query, RawJson,
};
use super::wire::*;
use super::AppState;
use crate::domain::valid_event_type_name;
use crate::error::ApiError;
use crate::ids::{new_id, Kind};
use crate::store::{App, EventFilter, IngestResult, NewEvent, Targets};
use crate::timefmt::{now_ms, parse_rfc3339_ms};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_event, list_events))
        .routes(routes!(send_batch))
        .routes(routes!(get_event))
}

const MAX_BATCH_ITEMS: usize = 100;

/// Checks one event and turns it into a row to commit.
#[allow(clippy::too_many_arguments)]
/// One event to accept, as parsed from a request (or made by Herald, for a test ping).
pub struct EventRequest {
    pub event_type: String,
    /// The payload's bytes as sent (never re-encoded).
    pub payload: Vec<u8>,
    pub targets: Targets,
    pub source: Option<String>,
    pub subject: Option<String>,
    pub metadata: serde_json::Value,
    /// The idempotency key and the hash of the request it came with.
    pub idempotency: Option<(String, String)>,
}

impl EventRequest {
    /// The parts of a parsed event request body.
    fn from_input(
        input: EventIn,
        payload: Vec<u8>,
        idempotency: Option<(String, String)>,
    ) -> Result<EventRequest, ApiError> {
        Ok(EventRequest {
            event_type: input.event_type,
            payload,
            targets: targets_of(input.endpoint_ids)?,
            source: input.source,
            subject: input.subject,
            metadata: input.metadata.unwrap_or_else(|| serde_json::json!({})),
            idempotency,
        })
    }
}

async fn prepare(
    state: &AppState,
    request: EventRequest,
    internal: bool,
) -> Result<NewEvent, ApiError> {
    let EventRequest {
        event_type,
        payload,
        targets,
        source,
        subject,
        metadata,
        idempotency,
    } = request;
    if !valid_event_type_name(&event_type) {
        return Err(ApiError::invalid(
            "type",
            "type must match ^[a-zA-Z0-9_-]+(\\.[a-zA-Z0-9_-]+)*$ and be at most 256 characters",
        ));
    }
    if !internal {
        match state.store.event_type(&event_type).await? {
            Some(et) if et.archived => {
                return Err(ApiError::bad(
                    "event_type_archived",
                    format!("event type {event_type} is archived"),
                    Some("type".into()),
                ))
            }
            Some(et) => {
                if let Some(schema) = &et.schema {
                    state
                        .schemas
                        .validate(&et.name, et.updated_at, schema, &payload)?;
                }
            }
            None if state.config.strict_event_types => {
                return Err(ApiError::bad(
                    "unknown_event_type",
                    format!("event type {event_type} is not registered"),
                    Some("type".into()),
                ))
            }
            None => {}
        }
    }
    if !metadata.is_object() {
        return Err(ApiError::invalid("metadata", "metadata must be an object"));
    }
    let now = now_ms();
    Ok(NewEvent {
        id: new_id(Kind::Event),
        event_type,
        payload,
        source,
        subject,
        metadata,
        created_at: now,
        targets,
        idempotency,
        idempotency_cutoff: now - state.config.idempotency_retention.as_millis() as i64,
    })
}

fn request_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Turns a store result into the API answer, counting accepted events.
fn answer(app: &App, result: IngestResult) -> Result<EventAccepted, ApiError> {
    match result {
        IngestResult::Accepted { receipt, replayed } => {
            if !replayed {
                metrics::counter!("herald_events_accepted_total", "app" => app.id.clone())
                    .increment(1);
            }
            Ok(event_accepted(&receipt, replayed))
        }
        IngestResult::IdempotencyConflict => Err(ApiError::Conflict {
            code: "idempotency_conflict",
            message: "this idempotency key was used with a different request body".into(),
        }),
        IngestResult::UnknownEndpoint(id) => Err(ApiError::invalid(
            "endpoint_ids",
            format!("endpoint {id} does not exist in this application"),
        )),
    }
}

/// Accepts one event (used by the events route and by endpoint test pings).
pub async fn accept_one(
    state: &AppState,
    app: &App,
    request: EventRequest,
) -> Result<EventAccepted, ApiError> {
    let internal =
        request.event_type == "herald.ping" && matches!(request.targets, Targets::Explicit(_));
    let item = prepare(state, request, internal).await?;
    // Ingest wakes the engine itself for deliveries it could not hand over directly.
    let mut results = state.store.ingest(&app.id, vec![item]).await?;
    let result = results
        .pop()
        .ok_or_else(|| ApiError::Internal("ingest returned no result".into()))?;
    answer(app, result)
}

/// Parses one event request (single body or batch item) into its parts.
fn parse_item(bytes: &[u8]) -> Result<(EventIn, Vec<u8>), ApiError> {
    let (payload, rest) = split_payload(bytes)?;
    let input: EventIn = from_value(rest)?;
    Ok((input, payload))
}

fn targets_of(ids: Option<Vec<String>>) -> Result<Targets, ApiError> {
    match ids {
        None => Ok(Targets::Subscribed),
        Some(ids) if ids.is_empty() => Err(ApiError::invalid(
            "endpoint_ids",
            "endpoint_ids must name at least one endpoint (omit it to fan out)",
        )),
        Some(ids) => Ok(Targets::Explicit(ids)),
    }
}

#[utoipa::path(post, path = "/v1/apps/{app}/events", tag = "events", request_body = EventIn,
    params(("app" = String, Path, description = "application id or uid"),
           ("Idempotency-Key" = Option<String>, Header, description = "1..=255 characters")),
    responses((status = 202, body = EventAccepted), (status = 400, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody)))]
async fn send_event(
    State(state): State<AppState>,
    who: Principal,
    Path(app): Path<String>,
    headers: HeaderMap,
    body: RawJson,
) -> Result<(StatusCode, Json<EventAccepted>), ApiError> {
    let app = who.app(&state, &app).await?;
    let bytes = body.within(state.config.max_event_bytes)?;
    let idempotency =
        super::idempotency::key(&headers)?.map(|key| (key.to_string(), request_hash(bytes)));
    if bytes.is_empty() {
        return Err(ApiError::bad(
            "invalid_body",
            "an event request body is required",
            None,
        ));
    }
    let (input, payload) = parse_item(bytes)?;
    if input.idempotency_key.is_some() {
        return Err(ApiError::invalid(
            "idempotency_key",
            "send the idempotency key in the Idempotency-Key header",
        ));
    }
    let request = EventRequest::from_input(input, payload, idempotency)?;
    let accepted = accept_one(&state, &app, request).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRaw<'a> {
    #[serde(borrow)]
    items: Vec<&'a serde_json::value::RawValue>,
}

#[utoipa::path(post, path = "/v1/apps/{app}/events/batch", tag = "events", request_body = BatchIn,
    params(("app" = String, Path, description = "application id or uid")),
    responses((status = 202, body = BatchOut, description = "every item accepted"),
              (status = 207, body = BatchOut, description = "some items failed"),
              (status = 413, body = crate::error::ErrorBody)))]
async fn send_batch(
    State(state): State<AppState>,
    who: Principal,
    Path(app): Path<String>,
    body: RawJson,
) -> Result<(StatusCode, Json<BatchOut>), ApiError> {
    let app = who.app(&state, &app).await?;
    let bytes = body.within(state.config.max_batch_bytes)?;
    let batch: BatchRaw = serde_json::from_slice(bytes).map_err(|e| {
        let msg = e.to_string();
        if let Some(rest) = msg.strip_prefix("unknown field `") {
            let f = rest.split('`').next().unwrap_or_default().to_string();
            ApiError::bad("unknown_field", format!("unknown field `{f}`"), Some(f))
        } else if msg.starts_with("missing field `items`") {
            ApiError::bad(
                "missing_field",
                "missing required field `items`",
                Some("items".into()),
            )
        } else if e.classify() == serde_json::error::Category::Data {
            ApiError::bad(
                "invalid_body",
                format!("items: {msg}"),
                Some("items".into()),
            )
        } else {
            ApiError::bad("malformed_json", format!("malformed JSON: {msg}"), None)
        }
    })?;
    if batch.items.is_empty() || batch.items.len() > MAX_BATCH_ITEMS {
        return Err(ApiError::invalid(
            "items",
            "items must hold 1 to 100 events",
        ));
    }

    let mut slots: Vec<Result<usize, ApiError>> = Vec::with_capacity(batch.items.len());
    let mut rows = Vec::new();
    for raw in &batch.items {
        let item_bytes = raw.get().as_bytes();
        let prepared = async {
            // Each item is held to the limit of a single event (`security.md`, Limits).
            if item_bytes.len() > state.config.max_event_bytes {
                return Err(ApiError::PayloadTooLarge(format!(
                    "this item is {} bytes; max_event_bytes is {}",
                    item_bytes.len(),
                    state.config.max_event_bytes
                )));
            }
            let (mut input, payload) = parse_item(item_bytes)?;
            let idempotency = match input.idempotency_key.take() {
                Some(k) => {
                    super::idempotency::check(&k)?;
                    Some((k, request_hash(item_bytes)))
                }
                None => None,
            };
            let request = EventRequest::from_input(input, payload, idempotency)?;
            prepare(&state, request, false).await
        }
        .await;
        slots.push(prepared.map(|row| {
            rows.push(row);
            rows.len() - 1
        }));
    }
    let results = if rows.is_empty() {
        Vec::new()
    } else {
        state.store.ingest(&app.id, rows).await?
    };
    let mut results: Vec<Option<IngestResult>> = results.into_iter().map(Some).collect();
    let mut all_ok = true;
    let items = slots
        .into_iter()
        .enumerate()
        .map(|(index, slot)| {
            let outcome = slot.and_then(|i| {
                let r = results
                    .get_mut(i)
                    .and_then(Option::take)
                    .ok_or_else(|| ApiError::Internal("missing batch result".into()))?;
                answer(&app, r)
            });
            match outcome {
                Ok(accepted) => BatchItemOut {
                    index,
                    accepted: Some(accepted),
                    error: None,
                },
                Err(e) => {
                    all_ok = false;
                    BatchItemOut {
                        index,
                        accepted: None,
                        error: Some(e.detail()),
                    }
                }
            }
        })
        .collect();
    let status = if all_ok {
        StatusCode::ACCEPTED
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok((status, Json(BatchOut { items })))
}

#[derive(Debug, Deserialize, Default)]
struct EventQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    after: Option<String>,
    before: Option<String>,
    #[serde(flatten)]
    page: PageQuery,
}

#[utoipa::path(get, path = "/v1/apps/{app}/events", tag = "events",
    params(("app" = String, Path, description = "application id or uid"),
           ("type" = Option<String>, Query), ("after" = Option<String>, Query, description = "RFC 3339"),
           ("before" = Option<String>, Query, description = "RFC 3339"),
           ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = EventList)))]
async fn list_events(
    State(state): State<AppState>,
    who: Principal,
    Path(app): Path<String>,
    Query(q): Query<EventQuery>,
) -> Result<Json<EventList>, ApiError> {
    let app = who.app(&state, &app).await?;
    let time = |name: &str, v: &Option<String>| -> Result<Option<i64>, ApiError> {
        v.as_deref()
            .map(|t| {
                parse_rfc3339_ms(t).ok_or_else(|| {
                    ApiError::invalid(name, format!("{name} must be an RFC 3339 timestamp"))
                })
            })
            .transpose()
    };
    let filter = EventFilter {
        event_type: q.event_type.clone(),
        after: time("after", &q.after)?,
        before: time("before", &q.before)?,
    };
    let page = state
        .store
        .list_events(&app.id, &filter, q.page.req(false)?)
        .await?;
    Ok(Json(EventList {
        data: page.items.iter().map(|e| event_out(e, None)).collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

#[utoipa::path(get, path = "/v1/apps/{app}/events/{evt}", tag = "events",
    params(("app" = String, Path, description = "application id or uid"), ("evt" = String, Path, description = "event id")),
    responses((status = 200, body = EventOut), (status = 404, body = crate::error::ErrorBody)))]
async fn get_event(
    State(state): State<AppState>,
    who: Principal,
    Path((app, evt)): Path<(String, String)>,
) -> Result<Json<EventOut>, ApiError> {
    let app = who.app(&state, &app).await?;
    let ev = state
        .store
        .event(&app.id, &evt)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    let deliveries = state.store.event_deliveries(&ev.id).await?;
    Ok(Json(event_out(&ev, Some(&deliveries))))
}
