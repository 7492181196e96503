//! The producer and management client.
//!
//! Every request is retried on transport errors, timeouts, 408, 425, 429 and 5xx with
//! full-jitter capped exponential backoff (`Retry-After` as a floor); never on
//! 400/401/403/404/409/413. Sends carry an idempotency key (generated unless given) and every
//! retry sends the byte-identical body with the same key, so a retried send never creates a
//! second event.
//!
//! ```no_run
//! # async fn demo() -> Result<(), herald_sdk::client::Error> {
//! use herald_sdk::client::{Client, NewEvent};
//! let client = Client::builder("http://127.0.0.1:8080", "hrd_…").build()?;
//! let receipt = client.send_event("acme", NewEvent::json("order.paid", &serde_json::json!({"id": 1})).unwrap(), None).await?;
//! println!("{} → {} deliveries", receipt.id, receipt.deliveries.len());
//! # Ok(()) }
//! ```

mod backoff;
#[cfg(feature = "blocking")]
pub mod blocking;
mod dead_letter;
mod error;
mod models;
mod redact;

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

#[derive(serde::Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    param: Option<String>,
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
                Err(e) if e.is_retryable() && attempt <= self.retry.max_retries => {
                    let delay = self.retry.delay(attempt, e.retry_after());
                    tracing::debug!(%path, attempt, ?delay, error = %e, "retrying");
                    tokio::time::sleep(delay).await;
                }
                Err(e) if e.is_retryable() && self.retry.max_retries > 0 => {
                    return Err(Error::RetriesExhausted {
                        attempts: attempt,
                        last: Box::new(e),
                    })
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn once<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<T, Error> {
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
            if e.is_timeout() {
                Error::Timeout(e.to_string())
            } else {
                Error::Connection(e.to_string())
            }
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
            .map_err(|e| Error::Connection(e.to_string()))?;
        if status.is_success() {
            let bytes = if bytes.is_empty() {
                &b"null"[..]
            } else {
                &bytes[..]
            };
            return serde_json::from_slice(bytes).map_err(|e| Error::Decode(e.to_string()));
        }
        let body: Option<ErrorBody> = serde_json::from_slice::<ErrorEnvelope>(&bytes)
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
        Err(match status {
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
        })
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
        self.call(method, path, body, None).await
    }

    /// Sends one event to application `app` (id or uid). Without `idempotency_key` one is
    /// generated, so retries of this call never duplicate the event.
    pub async fn send_event(
        &self,
        app: &str,
        event: NewEvent,
        idempotency_key: Option<&str>,
    ) -> Result<EventReceipt, Error> {
        let generated;
        let key = match idempotency_key {
            Some(k) => k,
            None => {
                generated = format!("sdk_{}", ulid::Ulid::new());
                &generated
            }
        };
        let body = Self::json(&event)?; // serialised once: every retry sends these bytes
        if tracing::enabled!(tracing::Level::DEBUG) {
            let payload = event.payload.get();
            let shown = if self.redact_logs {
                redact(payload)
            } else {
                payload.to_string()
            };
            tracing::debug!(%app, event_type = %event.event_type, payload = %shown, "sending event");
        }
        let result = self
            .call(
                Method::POST,
                &format!("/v1/apps/{app}/events"),
                Some(body),
                Some(key),
            )
            .await;
        if let (Err(e), Some(sink)) = (&result, &self.dead_letters) {
            // Only failures that a later attempt could fix; a 400 would fail again.
            if e.is_retryable() || matches!(e, Error::RetriesExhausted { .. }) {
                sink.put(&DeadLetter {
                    app: app.to_string(),
                    event_type: event.event_type.clone(),
                    payload: event.payload.clone(),
                    idempotency_key: key.to_string(),
                    error: e.to_string(),
                });
            }
        }
        result
    }

    /// Sends again every dead letter of a JSONL file (with its original idempotency key, so
    /// nothing is duplicated) and rewrites the file with those that still fail.
    pub async fn replay_dead_letters(&self, path: &std::path::Path) -> Result<ReplayReport, Error> {
        let letters =
            read_jsonl(path).map_err(|e| Error::Decode(format!("{}: {e}", path.display())))?;
        let mut report = ReplayReport::default();
        let mut still = Vec::new();
        for letter in letters {
            let event = NewEvent {
                event_type: letter.event_type.clone(),
                payload: letter.payload.clone(),
                endpoint_ids: None,
                idempotency_key: None,
            };
            let body = Self::json(&event)?;
            let events_path = format!("/v1/apps/{}/events", letter.app);
            match self
                .call::<EventReceipt>(
                    Method::POST,
                    &events_path,
                    Some(body),
                    Some(&letter.idempotency_key),
                )
                .await
            {
                Ok(_) => report.sent += 1,
                Err(e) => {
                    report.failed += 1;
                    still.push(DeadLetter {
                        error: e.to_string(),
                        ..letter
                    });
                }
            }
        }
        let text: String = still
            .iter()
            .filter_map(|l| serde_json::to_string(l).ok())
            .map(|l| l + "\n")
            .collect();
        std::fs::write(path, text)
            .map_err(|e| Error::Decode(format!("{}: {e}", path.display())))?;
        Ok(report)
    }

    /// Creates an application.
    pub async fn create_app(&self, name: &str, uid: Option<&str>) -> Result<App, Error> {
        let body = Self::json(&serde_json::json!({"name": name, "uid": uid}))?;
        self.call(Method::POST, "/v1/apps", Some(body), None).await
    }

    /// Creates an endpoint in `app`.
    pub async fn create_endpoint(
        &self,
        app: &str,
        endpoint: &NewEndpoint,
    ) -> Result<Endpoint, Error> {
        let body = Self::json(endpoint)?;
        self.call(
            Method::POST,
            &format!("/v1/apps/{app}/endpoints"),
            Some(body),
            None,
        )
        .await
    }

    /// The signing secret of an endpoint (`whsec_…`).
    pub async fn endpoint_secret(&self, app: &str, endpoint: &str) -> Result<String, Error> {
        #[derive(serde::Deserialize)]
        struct Secret {
            secret: String,
        }
        let s: Secret = self
            .call(
                Method::GET,
                &format!("/v1/apps/{app}/endpoints/{endpoint}/secret"),
                None,
                None,
            )
            .await?;
        Ok(s.secret)
    }

    /// One delivery.
    pub async fn delivery(&self, app: &str, delivery: &str) -> Result<Delivery, Error> {
        self.call(
            Method::GET,
            &format!("/v1/apps/{app}/deliveries/{delivery}"),
            None,
            None,
        )
        .await
    }

    /// A page of deliveries of `app`, newest first.
    pub async fn list_deliveries(
        &self,
        app: &str,
        cursor: Option<&str>,
    ) -> Result<Page<Delivery>, Error> {
        let path = match cursor {
            Some(c) => format!("/v1/apps/{app}/deliveries?cursor={c}"),
            None => format!("/v1/apps/{app}/deliveries"),
        };
        self.call(Method::GET, &path, None, None).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.call(Method::GET, path, None, None).await
    }

    async fn post<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        self.call(Method::POST, path, Some(Self::json(body)?), None)
            .await
    }

    async fn delete(&self, path: &str) -> Result<(), Error> {
        self.call::<serde_json::Value>(Method::DELETE, path, None, None)
            .await
            .map(|_| ())
    }

    /// Sends up to 100 events in one request; each item may carry its own idempotency key
    /// (generated when absent, so a retried batch never duplicates).
    pub async fn send_batch(
        &self,
        app: &str,
        mut events: Vec<NewEvent>,
    ) -> Result<BatchReceipt, Error> {
        for e in &mut events {
            e.idempotency_key
                .get_or_insert_with(|| format!("sdk_{}", ulid::Ulid::new()));
        }
        self.post(
            &format!("/v1/apps/{app}/events/batch"),
            &serde_json::json!({ "items": events }),
        )
        .await
    }

    /// One event with its payload.
    pub async fn event(&self, app: &str, event: &str) -> Result<Event, Error> {
        self.get(&format!("/v1/apps/{app}/events/{event}")).await
    }

    /// A page of events, newest first.
    pub async fn list_events(&self, app: &str, cursor: Option<&str>) -> Result<Page<Event>, Error> {
        self.get(&with_cursor(&format!("/v1/apps/{app}/events"), cursor))
            .await
    }

    /// One application by id or uid.
    pub async fn app(&self, app: &str) -> Result<App, Error> {
        self.get(&format!("/v1/apps/{app}")).await
    }

    /// A page of applications.
    pub async fn list_apps(&self, cursor: Option<&str>) -> Result<Page<App>, Error> {
        self.get(&with_cursor("/v1/apps", cursor)).await
    }

    /// Deletes an application with its endpoints.
    pub async fn delete_app(&self, app: &str) -> Result<(), Error> {
        self.delete(&format!("/v1/apps/{app}")).await
    }

    /// Registers an event type, optionally with a JSON Schema for its payloads.
    pub async fn create_event_type(
        &self,
        name: &str,
        schema: Option<serde_json::Value>,
    ) -> Result<EventType, Error> {
        self.post(
            "/v1/event-types",
            &serde_json::json!({"name": name, "schema": schema}),
        )
        .await
    }

    /// A page of event types.
    pub async fn list_event_types(&self, cursor: Option<&str>) -> Result<Page<EventType>, Error> {
        self.get(&with_cursor("/v1/event-types", cursor)).await
    }

    /// One endpoint.
    pub async fn endpoint(&self, app: &str, endpoint: &str) -> Result<Endpoint, Error> {
        self.get(&format!("/v1/apps/{app}/endpoints/{endpoint}"))
            .await
    }

    /// A page of endpoints.
    pub async fn list_endpoints(
        &self,
        app: &str,
        cursor: Option<&str>,
    ) -> Result<Page<Endpoint>, Error> {
        self.get(&with_cursor(&format!("/v1/apps/{app}/endpoints"), cursor))
            .await
    }

    /// Deletes an endpoint (its pending deliveries are cancelled).
    pub async fn delete_endpoint(&self, app: &str, endpoint: &str) -> Result<(), Error> {
        self.delete(&format!("/v1/apps/{app}/endpoints/{endpoint}"))
            .await
    }

    /// Rotates the signing secret; the old one keeps signing during the grace period.
    pub async fn rotate_secret(
        &self,
        app: &str,
        endpoint: &str,
    ) -> Result<serde_json::Value, Error> {
        self.post(
            &format!("/v1/apps/{app}/endpoints/{endpoint}/secret/rotate"),
            &serde_json::json!({}),
        )
        .await
    }

    /// Sends a `herald.ping` to this endpoint only.
    pub async fn test_endpoint(&self, app: &str, endpoint: &str) -> Result<EventReceipt, Error> {
        self.post(
            &format!("/v1/apps/{app}/endpoints/{endpoint}/test"),
            &serde_json::json!({}),
        )
        .await
    }

    /// Requeues failed and cancelled deliveries created since `since` (RFC 3339); returns how many.
    pub async fn recover_endpoint(
        &self,
        app: &str,
        endpoint: &str,
        since: &str,
    ) -> Result<u64, Error> {
        let v: serde_json::Value = self
            .post(
                &format!("/v1/apps/{app}/endpoints/{endpoint}/recover"),
                &serde_json::json!({ "since": since }),
            )
            .await?;
        Ok(v["requeued"].as_u64().unwrap_or(0))
    }

    /// Counts by status over 24 h and the last attempt.
    pub async fn endpoint_stats(
        &self,
        app: &str,
        endpoint: &str,
    ) -> Result<serde_json::Value, Error> {
        self.get(&format!("/v1/apps/{app}/endpoints/{endpoint}/stats"))
            .await
    }

    /// The attempts of a delivery, oldest first (first page).
    pub async fn attempts(&self, app: &str, delivery: &str) -> Result<Page<Attempt>, Error> {
        self.get(&format!("/v1/apps/{app}/deliveries/{delivery}/attempts"))
            .await
    }

    /// One more attempt now, whatever the delivery's status.
    pub async fn retry_delivery(&self, app: &str, delivery: &str) -> Result<Delivery, Error> {
        self.post(
            &format!("/v1/apps/{app}/deliveries/{delivery}/retry"),
            &serde_json::json!({}),
        )
        .await
    }

    /// Creates an API key (`admin` or `producer`), optionally scoped to one application.
    pub async fn create_key(
        &self,
        name: &str,
        scope: &str,
        app_id: Option<&str>,
    ) -> Result<KeyCreated, Error> {
        self.post(
            "/v1/keys",
            &serde_json::json!({"name": name, "scope": scope, "app_id": app_id}),
        )
        .await
    }

    /// A page of keys (never their secrets).
    pub async fn list_keys(&self, cursor: Option<&str>) -> Result<Page<Key>, Error> {
        self.get(&with_cursor("/v1/keys", cursor)).await
    }

    /// Revokes a key; effective at once.
    pub async fn revoke_key(&self, key: &str) -> Result<(), Error> {
        self.delete(&format!("/v1/keys/{key}")).await
    }

    /// A portal link for one application.
    pub async fn portal_session(
        &self,
        app: &str,
        expires_in: Option<u32>,
        read_only: bool,
    ) -> Result<PortalSession, Error> {
        self.post(
            &format!("/v1/apps/{app}/portal-sessions"),
            &serde_json::json!({"expires_in": expires_in, "read_only": read_only}),
        )
        .await
    }

    async fn patch<T: DeserializeOwned>(
        &self,
        path: &str,
        changes: &serde_json::Value,
    ) -> Result<T, Error> {
        self.call(Method::PATCH, path, Some(Self::json(changes)?), None)
            .await
    }

    /// Changes an application: `changes` holds the fields to set (`name`, `uid`, `metadata`).
    pub async fn update_app(&self, app: &str, changes: &serde_json::Value) -> Result<App, Error> {
        self.patch(&format!("/v1/apps/{app}"), changes).await
    }

    /// Changes an endpoint: any of `url`, `description`, `event_types`, `disabled`,
    /// `rate_limit`, `max_in_flight`, `headers`, `format`, `ordered`, `metadata`
    /// (`null` clears the nullable ones).
    pub async fn update_endpoint(
        &self,
        app: &str,
        endpoint: &str,
        changes: &serde_json::Value,
    ) -> Result<Endpoint, Error> {
        self.patch(&format!("/v1/apps/{app}/endpoints/{endpoint}"), changes)
            .await
    }

    /// One event type.
    pub async fn event_type(&self, name: &str) -> Result<EventType, Error> {
        self.get(&format!("/v1/event-types/{name}")).await
    }

    /// Changes an event type (`description`, `schema`, `archived`).
    pub async fn update_event_type(
        &self,
        name: &str,
        changes: &serde_json::Value,
    ) -> Result<EventType, Error> {
        self.patch(&format!("/v1/event-types/{name}"), changes)
            .await
    }

    /// Deletes an event type.
    pub async fn delete_event_type(&self, name: &str) -> Result<(), Error> {
        self.delete(&format!("/v1/event-types/{name}")).await
    }

    /// Every application, fetched page by page as the stream is read.
    pub fn all_apps(&self) -> impl futures_util::Stream<Item = Result<App, Error>> + '_ {
        paginate(move |cursor| async move { self.list_apps(cursor.as_deref()).await })
    }

    /// Every event type, fetched page by page.
    pub fn all_event_types(
        &self,
    ) -> impl futures_util::Stream<Item = Result<EventType, Error>> + '_ {
        paginate(move |cursor| async move { self.list_event_types(cursor.as_deref()).await })
    }

    /// Every endpoint of `app`, fetched page by page.
    pub fn all_endpoints<'a>(
        &'a self,
        app: &'a str,
    ) -> impl futures_util::Stream<Item = Result<Endpoint, Error>> + 'a {
        paginate(move |cursor| async move { self.list_endpoints(app, cursor.as_deref()).await })
    }

    /// Every event of `app`, newest first, fetched page by page.
    pub fn all_events<'a>(
        &'a self,
        app: &'a str,
    ) -> impl futures_util::Stream<Item = Result<Event, Error>> + 'a {
        paginate(move |cursor| async move { self.list_events(app, cursor.as_deref()).await })
    }

    /// Every key, fetched page by page.
    pub fn all_keys(&self) -> impl futures_util::Stream<Item = Result<Key, Error>> + '_ {
        paginate(move |cursor| async move { self.list_keys(cursor.as_deref()).await })
    }

    /// Every attempt of a delivery, oldest first, fetched page by page.
    pub fn all_attempts<'a>(
        &'a self,
        app: &'a str,
        delivery: &'a str,
    ) -> impl futures_util::Stream<Item = Result<Attempt, Error>> + 'a {
        paginate(move |cursor| async move {
            self.get(&with_cursor(
                &format!("/v1/apps/{app}/deliveries/{delivery}/attempts"),
                cursor.as_deref(),
            ))
            .await
        })
    }

    /// Every delivery of `app`, newest first, fetched page by page as the stream is read.
    pub fn all_deliveries<'a>(
        &'a self,
        app: &'a str,
    ) -> impl futures_util::Stream<Item = Result<Delivery, Error>> + 'a {
        paginate(move |cursor| async move { self.list_deliveries(app, cursor.as_deref()).await })
    }
}

fn with_cursor(path: &str, cursor: Option<&str>) -> String {
    match cursor {
        Some(c) => format!("{path}?cursor={c}"),
        None => path.to_string(),
    }
}

/// Turns a page fetcher into a stream of items.
fn paginate<'a, T, F, Fut>(fetch: F) -> impl futures_util::Stream<Item = Result<T, Error>> + 'a
where
    T: 'a,
    F: Fn(Option<String>) -> Fut + 'a,
    Fut: std::future::Future<Output = Result<Page<T>, Error>> + 'a,
{
    use futures_util::StreamExt;
    // State: the next cursor (`None` once the last page was read), and whether we started.
    futures_util::stream::unfold(
        (Some(None::<String>), fetch),
        |(cursor, fetch)| async move {
            let cursor = cursor?;
            match fetch(cursor).await {
                Ok(page) => {
                    let next = page.next_cursor.map(Some);
                    let items: Vec<Result<T, Error>> = page.data.into_iter().map(Ok).collect();
                    Some((futures_util::stream::iter(items), (next, fetch)))
                }
                Err(e) => Some((futures_util::stream::iter(vec![Err(e)]), (None, fetch))),
            }
        },
    )
    .flatten()
}
