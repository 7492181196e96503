//! The JSON shapes of the API: requests (unknown fields rejected) and responses.
//! These types also generate the OpenAPI document's schemas.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::store::{self, DeliveryStatus, EndpointStatus, Format, SignatureScheme};
use crate::timefmt::format_ms;

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`) in PATCH.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn ts(ms: i64) -> String {
    format_ms(ms)
}

fn ts_opt(ms: Option<i64>) -> Option<String> {
    ms.map(format_ms)
}

// ---------------------------------------------------------------- lists

macro_rules! list_type {
    ($name:ident, $item:ty) => {
        /// A page of a cursor-paginated list.
        #[derive(Serialize, ToSchema)]
        pub struct $name {
            pub data: Vec<$item>,
            /// Pass as `cursor` to get the next page; null on the last page.
            pub next_cursor: Option<String>,
        }
    };
}

list_type!(KeyList, KeyOut);
list_type!(AppList, AppOut);
list_type!(EventTypeList, EventTypeOut);
list_type!(EndpointList, EndpointOut);
list_type!(EventList, EventOut);
list_type!(DeliveryList, DeliveryOut);
list_type!(AttemptList, AttemptOut);

// ---------------------------------------------------------------- keys

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyIn {
    pub name: String,
    /// `admin` or `producer`.
    pub scope: String,
    /// Restricts the key to one application.
    pub app_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct KeyOut {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub app_id: Option<String>,
    pub created_at: String,
}

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

/// A new key: the only time its secret is shown.
#[derive(Serialize, ToSchema)]
pub struct KeyCreated {
    #[serde(flatten)]
    pub info: KeyOut,
    /// The secret (`hrd_…`). Store it now: it is never shown again.
    pub key: String,
}

// ---------------------------------------------------------------- apps

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppIn {
    pub name: String,
    pub uid: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub uid: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct AppOut {
    pub id: String,
    pub uid: Option<String>,
    pub name: String,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
}

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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventTypeIn {
    pub name: String,
    pub description: Option<String>,
    /// A JSON Schema (draft 2020-12) every event of this type must satisfy.
    #[schema(value_type = Option<Object>)]
    pub schema: Option<serde_json::Value>,
    pub archived: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventTypePatch {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Object>)]
    pub schema: Option<Option<serde_json::Value>>,
    pub archived: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct EventTypeOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub schema: Option<serde_json::Value>,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointIn {
    pub url: String,
    pub description: Option<String>,
    /// Names or prefix wildcards (`order.*`); absent or null = every type.
    pub event_types: Option<Vec<String>>,
    pub disabled: Option<bool>,
    /// Deliveries per second.
    pub rate_limit: Option<i64>,
    /// Concurrent attempts (default 16).
    pub max_in_flight: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub headers: Option<serde_json::Map<String, serde_json::Value>>,
    pub format: Option<Format>,
    pub ordered: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// `whsec_` + base64 of 24..=64 bytes; generated when absent.
    pub secret: Option<String>,
    pub signature_scheme: Option<SignatureScheme>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    pub url: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    pub event_types: Option<Option<Vec<String>>>,
    pub disabled: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub rate_limit: Option<Option<i64>>,
    pub max_in_flight: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub headers: Option<serde_json::Map<String, serde_json::Value>>,
    pub format: Option<Format>,
    pub ordered: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct EndpointOut {
    pub id: String,
    pub app_id: String,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub status: EndpointStatus,
    pub disabled_reason: Option<String>,
    pub rate_limit: Option<i64>,
    pub max_in_flight: i64,
    #[schema(value_type = Object)]
    pub headers: serde_json::Map<String, serde_json::Value>,
    pub format: Format,
    pub ordered: bool,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub signature_scheme: SignatureScheme,
    pub created_at: String,
    pub updated_at: String,
}

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
            created_at: ts(e.created_at),
            updated_at: ts(e.updated_at),
        }
    }
}

/// The signing secret (`v1`) or the public key (`v1a`).
#[derive(Serialize, ToSchema)]
pub struct SecretOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateIn {
    pub secret: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverIn {
    /// RFC 3339 time: deliveries created at or after it are requeued.
    pub since: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoverOut {
    pub requeued: u64,
}

#[derive(Serialize, ToSchema)]
pub struct StatsOut {
    /// Counts by delivery status over the last 24 h.
    pub period_hours: u32,
    pub pending: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub last_attempt_at: Option<String>,
    pub last_status_code: Option<i64>,
    /// `succeeded`, or the error kind of the last attempt.
    pub last_outcome: Option<String>,
}

// ---------------------------------------------------------------- events

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    #[serde(rename = "type")]
    pub event_type: String,
    /// Any JSON value; its bytes are stored and delivered exactly as received.
    /// (Taken from the raw request bytes before the other fields are parsed.)
    #[serde(skip_deserializing, default)]
    #[schema(value_type = Object)]
    pub payload: Option<Box<RawValue>>,
    pub endpoint_ids: Option<Vec<String>>,
    pub source: Option<String>,
    pub subject: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// Batch items only: the item's idempotency key.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Documentation shape of a batch request (parsed item by item, see `api::events`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BatchIn {
    /// 1..=100 event requests, each with an optional `idempotency_key`.
    pub items: Vec<EventIn>,
}

#[derive(Serialize, ToSchema, Clone)]
pub struct ReceiptDeliveryOut {
    pub id: String,
    pub endpoint_id: String,
    pub status: DeliveryStatus,
}

#[derive(Serialize, ToSchema)]
pub struct EventAccepted {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub replayed: bool,
    pub deliveries: Vec<ReceiptDeliveryOut>,
}

impl EventAccepted {
    pub fn new(r: &store::Receipt, replayed: bool) -> Self {
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
}

/// One item of a batch answer: the receipt, or the error.
#[derive(Serialize, ToSchema)]
pub struct BatchItemOut {
    pub index: usize,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<EventAccepted>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::ErrorDetail>,
}

#[derive(Serialize, ToSchema)]
pub struct BatchOut {
    pub items: Vec<BatchItemOut>,
}

#[derive(Serialize, ToSchema)]
pub struct EventDeliverySummary {
    pub id: String,
    pub endpoint_id: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EventOut {
    pub id: String,
    pub app_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The payload exactly as received.
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    pub source: Option<String>,
    pub subject: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<EventDeliverySummary>>,
}

/// The stored payload bytes as a raw JSON value (they were valid JSON when accepted).
pub fn raw_payload(bytes: &[u8]) -> Box<RawValue> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    RawValue::from_string(text)
        .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("null is JSON"))
}

impl EventOut {
    pub fn new(e: &store::Event, deliveries: Option<&[store::Delivery]>) -> Self {
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
}

// ---------------------------------------------------------------- deliveries

#[derive(Serialize, ToSchema)]
pub struct DeliveryOut {
    pub id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub last_attempt_at: Option<String>,
    pub last_status_code: Option<i64>,
    pub created_at: String,
    /// The event's payload as received (with `include_payload=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Box<RawValue>>,
}

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

#[derive(Serialize, ToSchema)]
pub struct AttemptError {
    /// `timeout|connect|dns|tls|blocked_address|http_status|body_too_large|other`
    pub kind: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptOut {
    pub id: String,
    pub delivery_id: String,
    pub number: i64,
    pub started_at: String,
    pub created_at: String,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    /// The first 4 KiB of the response body.
    pub response_body: Option<String>,
    pub error: Option<AttemptError>,
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

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PortalSessionIn {
    /// Seconds, 1..=604800 (default 3600).
    pub expires_in: Option<i64>,
    pub read_only: Option<bool>,
    /// Portal theming (extension): accent colour as `#rgb` or `#rrggbb`.
    pub accent_color: Option<String>,
    /// Portal theming (extension): an absolute http(s) URL of the logo to show.
    pub logo_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PortalSessionOut {
    pub url: String,
    pub token: String,
    pub expires_at: String,
    pub read_only: bool,
}

/// The credential making the request (`GET /v1/session`, an extension).
#[derive(Serialize, ToSchema)]
pub struct SessionOut {
    pub key_id: String,
    /// `admin`, `producer` or `portal`.
    pub scope: &'static str,
    /// Set for app-scoped keys and portal sessions: the only application they see.
    pub app_id: Option<String>,
    pub read_only: bool,
    /// Portal sessions only.
    pub expires_at: Option<String>,
}
