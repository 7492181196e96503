//! From the store's rows to the API's JSON shapes. The shapes themselves are the
//! `herald-types` crate's (shared with the SDK), re-exported here for the routes.

pub use herald_types::*;

use serde_json::value::RawValue;

use crate::store;
use crate::timefmt::format_ms;

fn ts(ms: i64) -> String {
    format_ms(ms)
}

fn ts_opt(ms: Option<i64>) -> Option<String> {
    ms.map(format_ms)
}

// ---------------------------------------------------------------- keys

impl From<&store::ApiKey> for KeyOut {
    fn from(k: &store::ApiKey) -> Self {
        KeyOut {
            id: k.id.clone(),
            name: k.name.clone(),
            scope: k.scope.as_str().into(),
            app_id: k.app_id.clone(),
            created_at: ts(k.created_at),
        }
    }
}

// ---------------------------------------------------------------- apps

impl From<&store::App> for AppOut {
    fn from(a: &store::App) -> Self {
        AppOut {
            id: a.id.clone(),
            uid: a.uid.clone(),
            name: a.name.clone(),
            metadata: a.metadata.clone(),
            created_at: ts(a.created_at),
            updated_at: ts(a.updated_at),
        }
    }
}

// ---------------------------------------------------------------- event types

impl From<&store::EventType> for EventTypeOut {
    fn from(t: &store::EventType) -> Self {
        EventTypeOut {
            id: t.id.clone(),
            name: t.name.clone(),
            description: t.description.clone(),
            schema: t.schema.clone(),
            archived: t.archived,
            created_at: ts(t.created_at),
            updated_at: ts(t.updated_at),
        }
    }
}

// ---------------------------------------------------------------- endpoints

impl From<&store::Endpoint> for EndpointOut {
    fn from(e: &store::Endpoint) -> Self {
        EndpointOut {
            id: e.id.clone(),
            app_id: e.app_id.clone(),
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: e.event_types.clone(),
            status: e.status,
            disabled_reason: e.disabled_reason.clone(),
            rate_limit: e.rate_limit,
            max_in_flight: e.max_in_flight,
            headers: e.headers.clone(),
            format: e.format,
            ordered: e.ordered,
            metadata: e.metadata.clone(),
            signature_scheme: e.signature_scheme,
            filter: e.filter.as_ref().map(|f| f.source().to_string()),
            transformation: e.transformation.as_ref().map(|t| Transformation {
                code: t.code.to_string(),
                enabled: t.enabled,
            }),
            created_at: ts(e.created_at),
            updated_at: ts(e.updated_at),
        }
    }
}

// ---------------------------------------------------------------- events

/// The answer to an accepted event.
pub fn event_accepted(r: &store::Receipt, replayed: bool) -> EventAccepted {
    EventAccepted {
        id: r.id.clone(),
        event_type: r.event_type.clone(),
        replayed,
        deliveries: r
            .deliveries
            .iter()
            .map(|d| ReceiptDeliveryOut {
                id: d.id.clone(),
                endpoint_id: d.endpoint_id.clone(),
                status: d.status,
            })
            .collect(),
    }
}

/// The stored payload bytes as a raw JSON value (they were valid JSON when accepted).
pub fn raw_payload(bytes: &[u8]) -> Box<RawValue> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    RawValue::from_string(text)
        .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("null is JSON"))
}

/// An event as the API shows it, with a summary of its deliveries when given.
pub fn event_out(e: &store::Event, deliveries: Option<&[store::Delivery]>) -> EventOut {
    EventOut {
        id: e.id.clone(),
        app_id: e.app_id.clone(),
        event_type: e.event_type.clone(),
        payload: raw_payload(&e.payload),
        source: e.source.clone(),
        subject: e.subject.clone(),
        metadata: e.metadata.clone(),
        created_at: ts(e.created_at),
        deliveries: deliveries.map(|ds| {
            ds.iter()
                .map(|d| EventDeliverySummary {
                    id: d.id.clone(),
                    endpoint_id: d.endpoint_id.clone(),
                    status: d.status,
                    attempts: d.attempts,
                    next_attempt_at: ts_opt(d.next_attempt_at),
                })
                .collect()
        }),
    }
}

// ---------------------------------------------------------------- deliveries

impl From<&store::Delivery> for DeliveryOut {
    fn from(d: &store::Delivery) -> Self {
        DeliveryOut {
            id: d.id.clone(),
            event_id: d.event_id.clone(),
            endpoint_id: d.endpoint_id.clone(),
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: ts_opt(d.next_attempt_at),
            last_attempt_at: ts_opt(d.last_attempt_at),
            last_status_code: d.last_status_code,
            created_at: ts(d.created_at),
            payload: None,
        }
    }
}

impl From<&store::Attempt> for AttemptOut {
    fn from(a: &store::Attempt) -> Self {
        AttemptOut {
            id: a.id.clone(),
            delivery_id: a.delivery_id.clone(),
            number: a.number,
            started_at: ts(a.started_at),
            created_at: ts(a.started_at),
            duration_ms: a.duration_ms,
            status_code: a.status_code,
            response_body: a.response_body.clone(),
            error: a.error_kind.as_ref().map(|k| AttemptError {
                kind: k.clone(),
                message: a.error_message.clone().unwrap_or_default(),
            }),
        }
    }
}

// ---------------------------------------------------------------- portal sessions
