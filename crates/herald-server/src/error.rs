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
    #[error("{message}")]
    Authentication { code: &'static str, message: String },
    #[error("{message}")]
    Permission { code: &'static str, message: String },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A route exists for the path, not for the method. The router adds `Allow` itself,
    /// after the layers (see `framework_errors`).
    #[error("{method} is not allowed here")]
    MethodNotAllowed { method: axum::http::Method },
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
        ApiError::NotFound {
            code: "not_found",
            message: format!("{what} not found"),
        }
    }

    /// 401 with its reason's code (`missing_api_key`, `invalid_api_key`, …).
    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Authentication {
            code,
            message: message.into(),
        }
    }

    /// 409 with its reason's code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }

    /// 403 with its reason's code (`insufficient_scope`, `read_only`).
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Permission {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Authentication { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Permission { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
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
            ApiError::Authentication { code, .. } => ("authentication", Some(*code), None),
            ApiError::Permission { code, .. } => ("permission", Some(*code), None),
            ApiError::NotFound { code, .. } => ("not_found", Some(*code), None),
            ApiError::MethodNotAllowed { .. } => {
                ("invalid_request", Some("method_not_allowed"), None)
            }
            ApiError::Conflict { code, .. } => ("conflict", Some(*code), None),
            ApiError::PayloadTooLarge(_) => ("payload_too_large", Some("payload_too_large"), None),
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

/// Error responses the framework makes by itself (a 405 with its `Allow`, a body or path it
/// refused before a handler ran) get the contract's error body like every other error.
pub async fn framework_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // A clone of a standard method allocates nothing: this runs for every request.
    let method = req.method().clone();
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    };
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed { method },
        StatusCode::NOT_FOUND => ApiError::NotFound {
            code: "route_not_found",
            message: "no such route".into(),
        },
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(text),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(text),
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
            ApiError::bad("invalid_request", text, None)
        }
        _ => return Response::from_parts(parts, axum::body::Body::from(text)),
    };
    error.into_response()
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
