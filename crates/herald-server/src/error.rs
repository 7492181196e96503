//! The one place where failures become the contract's error body
//! `{"error": {"type", "code", "message", "param"}}` (`http-api.md`, Errors).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

/// An API failure, rendered with the status and `type` the contract gives it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        code: &'static str,
        message: String,
        param: Option<String>,
    },
    #[error("{0}")]
    Authentication(String),
    #[error("{0}")]
    Permission(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    RateLimited { message: String, retry_after: u64 },
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

pub use herald_types::{ErrorBody, ErrorDetail};

impl ApiError {
    /// 400 `invalid_request` naming the field.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code: "invalid_field",
            message: message.into(),
            param: Some(param.into()),
        }
    }

    /// 400 `invalid_request` with a specific code.
    pub fn bad(code: &'static str, message: impl Into<String>, param: Option<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
            param,
        }
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("{what} not found"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Authentication(_) => StatusCode::UNAUTHORIZED,
            ApiError::Permission(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error object, as used in responses and in batch items.
    pub fn detail(&self) -> ErrorDetail {
        let (kind, code, param) = match self {
            ApiError::BadRequest { code, param, .. } => {
                ("invalid_request", Some(*code), param.clone())
            }
            ApiError::Authentication(_) => ("authentication", None, None),
            ApiError::Permission(_) => ("permission", None, None),
            ApiError::NotFound(_) => ("not_found", None, None),
            ApiError::Conflict { code, .. } => ("conflict", Some(*code), None),
            ApiError::PayloadTooLarge(_) => ("payload_too_large", None, None),
            ApiError::UnsupportedMediaType(_) => {
                ("invalid_request", Some("unsupported_media_type"), None)
            }
            ApiError::RateLimited { .. } => ("rate_limited", None, None),
            ApiError::Unavailable(_) => ("unavailable", None, None),
            ApiError::Internal(_) => ("internal", None, None),
        };
        let message = match self {
            // Never leak internals: the cause is logged, the client gets a generic text.
            ApiError::Internal(_) => "internal server error".to_string(),
            other => other.to_string(),
        };
        ErrorDetail {
            kind: kind.to_string(),
            code: code.map(str::to_string),
            message,
            param,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let status = self.status();
        let mut resp = (
            status,
            axum::Json(ErrorBody {
                error: self.detail(),
            }),
        )
            .into_response();
        if let ApiError::RateLimited { retry_after, .. } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict { code, message } => ApiError::Conflict { code, message },
            StoreError::Unavailable(m) => ApiError::Unavailable(m),
            StoreError::Database(e) => ApiError::Internal(e.to_string()),
            StoreError::Corrupt(m) | StoreError::Shared(m) => ApiError::Internal(m),
        }
    }
}
