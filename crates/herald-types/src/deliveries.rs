//! Deliveries and their attempts.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::DeliveryStatus;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub payload: Option<Box<RawValue>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttemptError {
    /// `timeout|connect|dns|tls|blocked_address|http_status|body_too_large|other`
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
