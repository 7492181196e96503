//! Rows as the store hands them out. Times are epoch milliseconds.

use serde::{Deserialize, Serialize};

pub use herald_types::{DeliveryStatus, EndpointStatus, Format, SignatureScheme};
use secrecy::SecretString;

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub scope: Scope,
    pub app_id: Option<String>,
    pub key_hash: String,
    pub read_only: bool,
    pub expires_at: Option<i64>,
    pub created_at: i64,
}

/// What a key may do (`http-api.md`, API keys and scopes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Admin,
    Producer,
    /// A portal session: an app-scoped credential, possibly read-only, that expires.
    Portal,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Producer => "producer",
            Scope::Portal => "portal",
        }
    }
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "admin" => Some(Scope::Admin),
            "producer" => Some(Scope::Producer),
            "portal" => Some(Scope::Portal),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct App {
    pub id: String,
    pub uid: Option<String>,
    pub name: String,
    pub metadata: serde_json::Value,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct EventType {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub schema: Option<serde_json::Value>,
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub app_id: String,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub status: EndpointStatus,
    pub disabled_reason: Option<String>,
    pub rate_limit: Option<i64>,
    pub max_in_flight: i64,
    pub headers: serde_json::Map<String, serde_json::Value>,
    pub format: Format,
    pub ordered: bool,
    pub metadata: serde_json::Value,
    pub signature_scheme: SignatureScheme,
    /// `whsec_…` (or the ed25519 private key): never printed by `Debug`.
    pub secret: SecretString,
    /// Secrets replaced by rotations, each still signing until its `until` (oldest first).
    pub previous_secrets: Vec<PreviousSecret>,
    pub first_failure_at: Option<i64>,
    /// Deliveries are made only for events it matches (`routing.md`).
    pub filter: Option<crate::routing::Filter>,
    pub transformation: Option<Transformation>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An endpoint's JavaScript (`routing.md`); the code is shared by every copy of the
/// endpoint and keys the engine's compiled scripts.
#[derive(Debug, Clone, PartialEq)]
pub struct Transformation {
    pub code: std::sync::Arc<str>,
    pub enabled: bool,
}

impl Transformation {
    /// The code to run at an attempt, when it is on.
    pub fn active(t: &Option<Transformation>) -> Option<&std::sync::Arc<str>> {
        t.as_ref().filter(|t| t.enabled).map(|t| &t.code)
    }
}

/// A secret replaced by a rotation, valid until `until` (ms): receivers still on it keep
/// verifying deliveries during the grace period (`security.md`, "Secret rotation").
#[derive(Debug, Clone)]
pub struct PreviousSecret {
    pub secret: SecretString,
    pub until: i64,
}

/// Secrets valid at once, at most: the current one and this many minus one previous.
pub const MAX_VALID_SECRETS: usize = 5;

impl Endpoint {
    /// The secrets that sign at `now_ms`: the current one first, then each previous one
    /// still in its grace period.
    pub fn signing_secrets(&self, now_ms: i64) -> impl Iterator<Item = &SecretString> {
        std::iter::once(&self.secret).chain(
            self.previous_secrets
                .iter()
                .filter(move |p| p.until > now_ms)
                .map(|p| &p.secret),
        )
    }

    /// Replaces the secret with `new`; the old one stays valid for `grace_ms`. Refused
    /// (`false`, nothing changed) when that would make more than [`MAX_VALID_SECRETS`]
    /// valid at once.
    pub fn rotate_secret(&mut self, new: SecretString, now_ms: i64, grace_ms: i64) -> bool {
        self.previous_secrets.retain(|p| p.until > now_ms);
        if grace_ms > 0 && self.previous_secrets.len() + 2 > MAX_VALID_SECRETS {
            return false;
        }
        let old = std::mem::replace(&mut self.secret, new);
        if grace_ms > 0 {
            self.previous_secrets.push(PreviousSecret {
                secret: old,
                until: now_ms + grace_ms,
            });
        }
        true
    }
}

#[derive(Debug, Clone, Default)]
pub struct EndpointStats {
    pub pending: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub last_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_error_kind: Option<String>,
}

/// Where an event's deliveries go.
#[derive(Debug, Clone)]
pub enum Targets {
    /// Every active endpoint of the app whose filter matches the type.
    Subscribed,
    /// Exactly these endpoints (filter not applied); each must belong to the app.
    Explicit(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub event_type: String,
    pub payload: Vec<u8>,
    pub source: Option<String>,
    pub subject: Option<String>,
    pub metadata: serde_json::Value,
    pub created_at: i64,
    pub targets: Targets,
    /// (key, sha256 of the request bytes)
    pub idempotency: Option<(String, String)>,
    /// Idempotency records older than this are ignored.
    pub idempotency_cutoff: i64,
}

/// The receipt of one accepted event, as answered (and replayed) by the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Receipt {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub deliveries: Vec<ReceiptDelivery>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiptDelivery {
    pub id: String,
    pub endpoint_id: String,
    pub status: DeliveryStatus,
}

#[derive(Debug, Clone)]
pub enum IngestResult {
    Accepted { receipt: Receipt, replayed: bool },
    IdempotencyConflict,
    UnknownEndpoint(String),
}

#[derive(Debug, Clone)]
pub struct Event {
    pub seq: i64,
    pub id: String,
    pub app_id: String,
    pub event_type: String,
    pub payload: Vec<u8>,
    pub source: Option<String>,
    pub subject: Option<String>,
    pub metadata: serde_json::Value,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub event_type: Option<String>,
    pub after: Option<i64>,
    pub before: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub app_id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub endpoint_id: Option<String>,
    pub event_id: Option<String>,
    pub status: Option<DeliveryStatus>,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub id: String,
    pub delivery_id: String,
    pub number: i64,
    pub started_at: i64,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub response_body: Option<String>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
}

/// A claimed delivery with everything its attempt needs.
#[derive(Debug, Clone)]
pub struct Job {
    pub delivery_id: String,
    pub attempts: i64,
    pub app_id: String,
    pub event_id: String,
    pub event_type: String,
    /// Shared by every delivery of the event held in memory.
    pub payload: bytes::Bytes,
    pub source: Option<String>,
    pub subject: Option<String>,
    pub event_created_at: i64,
    pub due_at: i64,
    /// Shared by every job of the endpoint from one claim or one ingest group.
    pub endpoint: std::sync::Arc<Endpoint>,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NextStep {
    Succeeded,
    RetryAt(i64),
    /// Exhausted.
    Failed,
    /// 410: failed at once, endpoint auto-disabled.
    Gone,
    /// A transformation cancelled it: no attempt is recorded.
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct RecordedOutcome {
    pub attempt: Attempt,
    pub endpoint_id: String,
    /// The endpoint delivers in order (a success makes its next delivery due).
    pub ordered: bool,
    pub next: NextStep,
    pub now: i64,
    pub auto_disable_after_ms: i64,
}

/// An endpoint the store disabled while recording outcomes.
#[derive(Debug, Clone)]
pub struct EndpointChange {
    pub endpoint_id: String,
    pub cancelled: u64,
}

/// A POST's idempotency key, as [`Store::reserve_request`](super::Store::reserve_request)
/// takes it (`api/idempotency.rs`).
#[derive(Debug)]
pub struct RequestKey<'a> {
    /// The credential's hash: keys are scoped to it.
    pub scope: &'a str,
    pub key: &'a str,
    /// Of the route and the body bytes.
    pub hash: &'a str,
    pub now: i64,
    /// Records created before this are forgotten (`idempotency_retention`).
    pub expired_before: i64,
    /// A first request still unanswered since before this is taken over.
    pub abandoned_before: i64,
}

/// What a request with an idempotency key does.
#[derive(Debug, PartialEq, Eq)]
pub enum Reserved {
    /// It is the first (or the key was free again): run it.
    Fresh,
    /// It repeats one that succeeded: answer this.
    Replay { status: u16, body: Vec<u8> },
    /// The key was used with another request.
    Conflict,
    /// The first request with this key has not been answered yet.
    InProgress,
}
