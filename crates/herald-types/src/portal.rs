//! Portal sessions, and the session of the calling key.

use serde::{Deserialize, Serialize};

use crate::integer;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PortalSessionIn {
    /// Seconds, 1..=604800 (default 3600).
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        deserialize_with = "integer::option"
    )]
    pub expires_in: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Portal theming (extension): accent colour as `#rgb` or `#rrggbb`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accent_color: Option<String>,
    /// Portal theming (extension): an absolute http(s) URL of the logo to show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PortalSessionOut {
    pub url: String,
    pub token: String,
    pub expires_at: String,
    pub read_only: bool,
}

/// The credential making the request (`GET /v1/session`, an extension).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionOut {
    pub key_id: String,
    /// `admin`, `producer` or `portal`.
    pub scope: String,
    /// Set for app-scoped keys and portal sessions: the only application they see.
    pub app_id: Option<String>,
    pub read_only: bool,
    /// Portal sessions only.
    pub expires_at: Option<String>,
}
