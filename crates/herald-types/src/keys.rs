//! API keys.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyIn {
    pub name: String,
    /// `admin` or `producer`.
    pub scope: String,
    /// Restricts the key to one application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyOut {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub app_id: Option<String>,
    pub created_at: String,
}

/// A new key: the only time its secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyCreated {
    #[serde(flatten)]
    pub info: KeyOut,
    /// The secret (`hrd_…`). Store it now: it is never shown again.
    pub key: String,
}
