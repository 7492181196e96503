//! The API's objects as the client returns them. Unknown fields are ignored, so newer servers
//! stay compatible.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// An application (tenant).
#[derive(Debug, Clone, Deserialize)]
pub struct App {
    /// `app_…`
    pub id: String,
    /// The client-chosen slug, if any.
    pub uid: Option<String>,
    /// Display name.
    pub name: String,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// An endpoint (subscription). It never carries the secret.
#[derive(Debug, Clone, Deserialize)]
pub struct Endpoint {
    /// `ep_…`
    pub id: String,
    /// Where deliveries go.
    pub url: String,
    /// `active`, `disabled` or `auto_disabled`.
    pub status: String,
    /// The subscription filter; `None` = every type.
    pub event_types: Option<Vec<String>>,
}

/// What to create an endpoint with.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NewEndpoint {
    /// Absolute http(s) URL.
    pub url: String,
    /// Types or prefix wildcards (`order.*`); `None` = every type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    /// `whsec_…`; generated when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// One delivery in an event receipt.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReceiptDelivery {
    /// `del_…`
    pub id: String,
    /// The endpoint it goes to.
    pub endpoint_id: String,
    /// `pending` when just created.
    pub status: String,
}

/// The answer to a send: the event id and its deliveries.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EventReceipt {
    /// `evt_…`
    pub id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// True when the server answered from its idempotency record.
    pub replayed: bool,
    /// One per target endpoint.
    pub deliveries: Vec<ReceiptDelivery>,
}

/// A delivery of an event to an endpoint.
#[derive(Debug, Clone, Deserialize)]
pub struct Delivery {
    /// `del_…`
    pub id: String,
    /// `evt_…`
    pub event_id: String,
    /// `ep_…`
    pub endpoint_id: String,
    /// `pending`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// The last answer's status code.
    pub last_status_code: Option<i64>,
}

/// A page of a list.
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    /// The items, newest first (attempts: oldest first).
    pub data: Vec<T>,
    /// Pass back to get the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// An event to send.
///
/// ```
/// let e = herald_sdk::client::NewEvent::json("order.paid", &serde_json::json!({"id": 1})).unwrap();
/// assert_eq!(e.payload.get(), r#"{"id":1}"#);
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct NewEvent {
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The payload, sent (and delivered) byte for byte.
    pub payload: Box<RawValue>,
    /// Only these endpoints (their filters not applied).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_ids: Option<Vec<String>>,
    /// Batch items only: the item's idempotency key (single sends use a header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl NewEvent {
    /// An event whose payload is `value` serialised as JSON.
    ///
    /// ```
    /// assert!(herald_sdk::client::NewEvent::json("a.b", &1).is_ok());
    /// ```
    pub fn json<T: Serialize>(event_type: &str, value: &T) -> Result<NewEvent, serde_json::Error> {
        Ok(NewEvent {
            event_type: event_type.to_string(),
            payload: serde_json::value::to_raw_value(value)?,
            endpoint_ids: None,
            idempotency_key: None,
        })
    }
}

/// An event as stored, with its payload.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// `evt_…`
    pub id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The payload exactly as sent.
    pub payload: Box<RawValue>,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// An event type of the catalogue.
#[derive(Debug, Clone, Deserialize)]
pub struct EventType {
    /// The name, e.g. `order.paid`.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The JSON Schema payloads must satisfy.
    pub schema: Option<serde_json::Value>,
    /// Archived types are rejected on send.
    pub archived: bool,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Deserialize)]
pub struct Attempt {
    /// `att_…`
    pub id: String,
    /// 1 for the first attempt.
    pub number: i64,
    /// The answer's status, if one came.
    pub status_code: Option<i64>,
    /// The first 4 KiB of the answer.
    pub response_body: Option<String>,
    /// `{kind, message}` when the attempt failed.
    pub error: Option<serde_json::Value>,
}

/// An API key (the secret only in [`KeyCreated`]).
#[derive(Debug, Clone, Deserialize)]
pub struct Key {
    /// `key_…`
    pub id: String,
    /// Display name.
    pub name: String,
    /// `admin` or `producer`.
    pub scope: String,
    /// Set for app-scoped keys.
    pub app_id: Option<String>,
}

/// A new key with its secret, shown once.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyCreated {
    /// `key_…`
    pub id: String,
    /// The secret (`hrd_…`).
    pub key: String,
}

/// A portal link for one application.
#[derive(Debug, Clone, Deserialize)]
pub struct PortalSession {
    /// The link to hand to the customer.
    pub url: String,
    /// The credential inside the link.
    pub token: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
}

/// One item of a batch answer.
#[derive(Debug, Clone, Deserialize)]
pub struct BatchItem {
    /// The item's position in the request.
    pub index: usize,
    /// Set when the item was accepted.
    pub id: Option<String>,
    /// Set when the item was accepted.
    pub replayed: Option<bool>,
    /// Set when the item failed: the contract's error object.
    pub error: Option<serde_json::Value>,
}

/// A batch answer.
#[derive(Debug, Clone, Deserialize)]
pub struct BatchReceipt {
    /// One per request item, in order.
    pub items: Vec<BatchItem>,
}
