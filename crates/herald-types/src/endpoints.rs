//! Endpoints, their secrets, recovery and stats.

use serde::{Deserialize, Serialize};

use crate::{integer, nullable, EndpointStatus, Format, SignatureScheme, Transformation};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EndpointIn {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Names or prefix wildcards (`order.*`); absent or null = every type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Deliveries per second.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "integer::option"
    )]
    pub rate_limit: Option<i64>,
    /// Concurrent attempts (default 16).
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "integer::option"
    )]
    pub max_in_flight: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ordered: Option<bool>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// `whsec_` + base64 of 24..=64 bytes; generated when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_scheme: Option<SignatureScheme>,
    /// A CEL expression over `type`, `data`, `source`, `subject`, `metadata`: a delivery is
    /// made only when it is `true` (`routing.md`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transformation: Option<Transformation>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "nullable"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub description: Option<Option<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "nullable"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub event_types: Option<Option<Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "integer::nullable"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>))]
    pub rate_limit: Option<Option<i64>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "integer::option"
    )]
    pub max_in_flight: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ordered: Option<bool>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// `null` removes the filter.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "nullable"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub filter: Option<Option<String>>,
    /// `null` removes the transformation.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "nullable"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Transformation>))]
    pub transformation: Option<Option<Transformation>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub headers: serde_json::Map<String, serde_json::Value>,
    pub format: Format,
    pub ordered: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub metadata: serde_json::Value,
    pub signature_scheme: SignatureScheme,
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default)]
    pub transformation: Option<Transformation>,
    pub created_at: String,
    pub updated_at: String,
}

/// The signing secret (`v1`) or the public key (`v1a`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RotateIn {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecoverIn {
    /// RFC 3339 time: deliveries created at or after it are requeued.
    pub since: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoverOut {
    pub requeued: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
