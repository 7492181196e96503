//! Filters and transformations (`routing.md`): the endpoint's `transformation` field and the
//! two test routes.

use serde::{Deserialize, Serialize};

/// JavaScript run at each attempt: `function handler(webhook)` returns the request to send.
///
/// ```
/// let t: herald_types::Transformation =
///     serde_json::from_str(r#"{"code": "function handler(w) { return w; }"}"#).unwrap();
/// assert!(t.enabled);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Transformation {
    /// Defines `function handler(webhook)`; at most 64 KiB.
    pub code: String,
    /// Off keeps the code but sends the plain request (default on).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// `POST /v1/apps/{app}/endpoints/{ep}/filter/test`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FilterTestIn {
    /// A CEL expression; absent = the endpoint's own filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(rename = "type")]
    pub event_type: String,
    /// Any JSON value.
    pub payload: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FilterTestOut {
    pub matches: bool,
    /// The runtime error that made it not match (a missing field, a non-boolean result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /v1/apps/{app}/endpoints/{ep}/transformation/test`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TransformationTestIn {
    /// JavaScript; absent = the endpoint's saved code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(rename = "type")]
    pub event_type: String,
    /// Any JSON value.
    pub payload: serde_json::Value,
}

/// The request the endpoint would get, or `cancelled: true`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransformationTestOut {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Every header that would be sent, signature headers included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    /// The body exactly as it would be sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}
