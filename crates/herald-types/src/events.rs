//! Events: sends (single and batch), receipts, reads.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{DeliveryStatus, ErrorDetail};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    #[serde(rename = "type")]
    pub event_type: String,
    /// Any JSON value; its bytes are stored and delivered exactly as received.
    /// (Taken from the raw request bytes before the other fields are parsed.)
    #[serde(skip_serializing_if = "Option::is_none", skip_deserializing, default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// Batch items only: the item's idempotency key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub idempotency_key: Option<String>,
}

/// A batch request (the server parses it item by item, so one bad item fails alone).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchIn {
    /// 1..=100 event requests, each with an optional `idempotency_key`.
    pub items: Vec<EventIn>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptDeliveryOut {
    pub id: String,
    pub endpoint_id: String,
    pub status: DeliveryStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventAccepted {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub replayed: bool,
    pub deliveries: Vec<ReceiptDeliveryOut>,
}

/// One item of a batch answer: the receipt, or the error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchItemOut {
    pub index: usize,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<EventAccepted>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchOut {
    pub items: Vec<BatchItemOut>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventDeliverySummary {
    pub id: String,
    pub endpoint_id: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventOut {
    pub id: String,
    pub app_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The payload exactly as received.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Box<RawValue>,
    pub source: Option<String>,
    pub subject: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: serde_json::Value,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<EventDeliverySummary>>,
}

impl EventIn {
    /// An event of type `event_type` whose payload is `value` serialised as JSON.
    ///
    /// ```
    /// let e = herald_types::EventIn::json("order.paid", &serde_json::json!({"id": 1})).unwrap();
    /// assert_eq!(e.payload.unwrap().get(), r#"{"id":1}"#);
    /// ```
    pub fn json<T: Serialize>(event_type: &str, value: &T) -> Result<EventIn, serde_json::Error> {
        Ok(EventIn {
            event_type: event_type.to_string(),
            payload: Some(serde_json::value::to_raw_value(value)?),
            ..Default::default()
        })
    }
}
