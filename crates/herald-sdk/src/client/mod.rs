//! The producer and management client.
//!
//! Every request is retried on transport errors, timeouts, 408, 425, 429 and 5xx with
//! full-jitter capped exponential backoff (`Retry-After` as a floor); never on
//! 400/401/403/404/409/413. Every POST carries an idempotency key (generated unless given)
//! and every retry sends the byte-identical body with the same key, so a retried send never
//! creates a second event, endpoint or key, nor rotates twice: the server answers a repeat
//! with the first answer.
//!
//! ```no_run
//! # async fn demo() -> Result<(), herald_sdk::client::Error> {
//! use herald_sdk::client::{Client, NewEvent};
//! let client = Client::builder("http://127.0.0.1:8080", "hrd_…").build()?;
//! let receipt = client.send_event("acme", NewEvent::json("order.paid", &serde_json::json!({"id": 1})).unwrap(), None).await?;
//! println!("{} → {} deliveries", receipt.id, receipt.deliveries.len());
//! # Ok(()) }
//! ```

mod apps;
mod backoff;
#[cfg(feature = "blocking")]
pub mod blocking;
mod dead_letter;
mod deliveries;
mod endpoints;
mod error;
mod event_types;
mod events;
mod keys;
mod models;
mod pages;
mod redact;
mod routing;

use std::time::Duration;

pub use reqwest::Method;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use backoff::RetryPolicy;
pub use dead_letter::{read_jsonl, DeadLetter, DeadLetterSink};
pub use error::Error;
pub use models::*;
pub use redact::redact;

/// Builds a [`Client`].
///
/// ```
/// let c = herald_sdk::client::Client::builder("http://127.0.0.1:8080", "hrd_x")
///     .timeout(std::time::Duration::from_secs(5))
///     .max_retries(0)
///     .user_agent("my-app/1.0")
///     .build();
/// assert!(c.is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    api_key: String,
    timeout: Duration,
    retry: RetryPolicy,
    user_agent: String,
    dead_letters: Option<DeadLetterSink>,
    redact_logs: bool,
}

impl ClientBuilder {
    /// Where sends that finally fail go (a JSONL file or a callback).
    pub fn dead_letters(mut self, sink: DeadLetterSink) -> Self {
        self.dead_letters = Some(sink);
        self
    }
    /// Redact e-mail addresses and phone numbers in payloads logged at debug level
    /// (default: on).
    pub fn redact_logged_payloads(mut self, on: bool) -> Self {
        self.redact_logs = on;
        self
    }
    /// Per-request timeout (default 30 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    /// Retries after the first attempt (default 3; 0 disables retrying).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.retry.max_retries = n;
        self
    }
    /// The whole retry policy.
    pub fn retry_policy(mut self, p: RetryPolicy) -> Self {
        self.retry = p;
        self
    }
    /// The `user-agent` header.
    pub fn user_agent(mut self, ua: &str) -> Self {
        self.user_agent = ua.to_string();
        self
    }
    /// Builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .user_agent(self.user_agent)
            .build()
            .map_err(|e| Error::Decode(e.to_string()))?;
        Ok(Client {
            http,
            base: self.base_url.trim_end_matches('/').to_string(),
            api_key: self.api_key,
            retry: self.retry,
            dead_letters: self.dead_letters,
            redact_logs: self.redact_logs,
        })
    }
}

/// A Herald API client (cheap to clone; clones share the connection pool).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    api_key: String,
    retry: RetryPolicy,
    dead_letters: Option<DeadLetterSink>,
    redact_logs: bool,
}

/// What [`Client::replay_dead_letters`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Re-sent successfully (or replayed by the server's idempotency record).
    pub sent: usize,
    /// Still failing; kept in the file.
    pub failed: usize,
}

impl Client {
    /// Starts a builder for the server at `base_url` with `api_key`.
    ///
    /// ```
    /// let b = herald_sdk::client::Client::builder("http://127.0.0.1:8080", "hrd_x");
    /// # let _ = b;
    /// ```
    pub fn builder(base_url: &str, api_key: &str) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.to_string(),
            api_key: api_key.to_string(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            user_agent: concat!("herald-sdk-rust/", env!("CARGO_PKG_VERSION")).to_string(),
            dead_letters: None,
            redact_logs: true,
        }
    }

    /// Sends one request (with retries) and decodes the answer.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<T, Error> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self
                .once(method.clone(), path, body.clone(), idempotency_key)
                .await
            {
                Ok(v) => return Ok(v),
                Err((e, sent)) if !may_repeat(&method, idempotency_key, &e, sent) => return Err(e),
                Err((e, _)) if e.is_retryable() && attempt <= self.retry.max_retries => {
                    let delay = self.retry.delay(attempt, e.retry_after());
                    tracing::debug!(%path, attempt, ?delay, error = %e, "retrying");
                    tokio::time::sleep(delay).await;
                }
                Err((e, _)) if e.is_retryable() && self.retry.max_retries > 0 => {
                    return Err(Error::RetriesExhausted {
                        attempts: attempt,
                        last: Box::new(e),
                    })
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// One attempt. A failure says whether the request may have reached the server (false
    /// only when the connection was never made).
    async fn once<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<T, (Error, bool)> {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.api_key);
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.map_err(|e| {
            let error = if e.is_timeout() {
                Error::Timeout(e.to_string())
            } else {
                Error::Connection(e.to_string())
            };
            (error, !e.is_connect())
        })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| (Error::Connection(e.to_string()), true))?;
        if status.is_success() {
            let bytes = if bytes.is_empty() {
                &b"null"[..]
            } else {
                &bytes[..]
            };
            return serde_json::from_slice(bytes).map_err(|e| (Error::Decode(e.to_string()), true));
        }
        let body: Option<ErrorDetail> = serde_json::from_slice::<ErrorBody>(&bytes)
            .ok()
            .map(|e| e.error);
        let message = body
            .as_ref()
            .map(|b| b.message.clone())
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        let code = body
            .as_ref()
            .and_then(|b| b.code.clone())
            .unwrap_or_default();
        let error = match status {
            StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => Error::BadRequest {
                code,
                param: body.and_then(|b| b.param),
                message,
            },
            StatusCode::UNAUTHORIZED => Error::Authentication(message),
            StatusCode::FORBIDDEN => Error::Permission(message),
            StatusCode::NOT_FOUND => Error::NotFound(message),
            StatusCode::CONFLICT => Error::Conflict { code, message },
            StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge(message),
            StatusCode::TOO_MANY_REQUESTS => Error::RateLimited {
                message,
                retry_after,
            },
            s => Error::Server {
                status: s.as_u16(),
                message,
                retry_after,
            },
        };
        Err((error, true))
    }

    fn json<B: Serialize>(body: &B) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(body).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Any API call, answered as raw JSON (for tools that print the server's exact answer).
    /// Retries and errors as for every other call.
    pub async fn request_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, Error> {
        let body = body.map(Self::json).transpose()?;
        let key = (method == Method::POST).then(new_idempotency_key);
        self.call(method, path, body, key.as_deref()).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.call(Method::GET, path, None, None).await
    }

    async fn post<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        let key = new_idempotency_key();
        self.call(Method::POST, path, Some(Self::json(body)?), Some(&key))
            .await
    }

    async fn patch<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        changes: &B,
    ) -> Result<T, Error> {
        self.call(Method::PATCH, path, Some(Self::json(changes)?), None)
            .await
    }

    async fn delete(&self, path: &str) -> Result<(), Error> {
        self.call::<serde_json::Value>(Method::DELETE, path, None, None)
            .await
            .map(|_| ())
    }
}

/// A fresh idempotency key, one per call (its retries reuse it).
pub(crate) fn new_idempotency_key() -> String {
    format!("sdk_{}", ulid::Ulid::new())
}

/// Whether sending a request again cannot do its work twice: reads, deletes and updates;
/// writes that carry an idempotency key (every POST this client makes); and any request the
/// server did not act on (a connection never made, a 429). A create without a key whose
/// answer was lost would not be sent again: it may have happened, and a second endpoint
/// would double every delivery.
fn may_repeat(method: &Method, idempotency_key: Option<&str>, error: &Error, sent: bool) -> bool {
    let safe = [Method::GET, Method::HEAD, Method::DELETE, Method::PATCH];
    safe.contains(method)
        || idempotency_key.is_some()
        || !sent
        || matches!(error, Error::RateLimited { .. })
}
