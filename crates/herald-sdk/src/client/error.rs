//! The client's one error type, matching the contract's error classes.

use std::time::Duration;

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: a field is missing or invalid (`param` names it), or the payload fails its schema.
    #[error("bad request ({code}): {message}")]
    BadRequest {
        /// The contract's error code, e.g. `schema_violation`.
        code: String,
        /// The offending field, when the server names one.
        param: Option<String>,
        /// The server's message.
        message: String,
    },
    /// 401: missing or unknown API key.
    #[error("authentication failed: {0}")]
    Authentication(String),
    /// 403: the key lacks the scope.
    #[error("permission denied: {0}")]
    Permission(String),
    /// 404: unknown object (or outside the key's scope).
    #[error("not found: {0}")]
    NotFound(String),
    /// 409: idempotency conflict or duplicate.
    #[error("conflict ({code}): {message}")]
    Conflict {
        /// e.g. `idempotency_conflict`.
        code: String,
        /// The server's message.
        message: String,
    },
    /// 413: the request body is over the server's limit.
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    /// 429: slow down; retry after the given delay, if the server said.
    #[error("rate limited: {message}")]
    RateLimited {
        /// The server's message.
        message: String,
        /// From `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// 5xx or another unexpected status.
    #[error("server error {status}: {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
        /// From `Retry-After` (e.g. on 503).
        retry_after: Option<Duration>,
    },
    /// The connection failed.
    #[error("connection failed: {0}")]
    Connection(String),
    /// No answer in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// Every retry failed; the last error is inside.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's error.
        last: Box<Error>,
    },
    /// The answer did not parse, or the request could not be built.
    #[error("invalid response: {0}")]
    Decode(String),
}

impl Error {
    /// Whether sending the same request again may succeed: transport errors, timeouts, 408,
    /// 425, 429 and 5xx. Never 400/401/403/404/409/413.
    ///
    /// ```
    /// use herald_sdk::client::Error;
    /// assert!(Error::Timeout("t".into()).is_retryable());
    /// assert!(!Error::NotFound("x".into()).is_retryable());
    /// assert!(Error::Server { status: 503, message: String::new(), retry_after: None }.is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connection(_) | Error::Timeout(_) | Error::RateLimited { .. } => true,
            Error::Server { status, .. } => *status >= 500 || *status == 408 || *status == 425,
            _ => false,
        }
    }

    /// The delay the server asked for (`Retry-After`), if any.
    ///
    /// ```
    /// use herald_sdk::client::Error;
    /// assert_eq!(Error::Timeout("t".into()).retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } | Error::Server { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}
