//! The store: every durable object and the delivery queue, behind one interface
//! ([`Store`]) so that the backends (SQLite, PostgreSQL) share the API and the engine. It is
//! implemented once, in `sql/store.rs`, over the backend contract of `sql/backend.rs`.
//!
//! Models here are what the store returns; `api::wire` turns them into the API's shapes.

pub mod data_key;
mod failure_streak;
mod model;
pub mod postgres;
pub mod sql;
pub mod sqlite;

use std::collections::HashSet;

use async_trait::async_trait;
pub use model::*;

/// A store failure. `NotFound`/`Conflict` are expected outcomes mapped to 404/409.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(sqlx::Error),
    /// A database error shared by several requests (a failed group commit).
    #[error("database error: {0}")]
    Shared(String),
}

impl StoreError {
    /// The same error for another caller (sqlx errors are not `Clone`).
    pub fn duplicate(&self) -> StoreError {
        match self {
            StoreError::NotFound(what) => StoreError::NotFound(what),
            StoreError::Conflict { code, message } => StoreError::Conflict {
                code,
                message: message.clone(),
            },
            StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
            StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
            StoreError::Database(e) => StoreError::Shared(e.to_string()),
            StoreError::Shared(m) => StoreError::Shared(m.clone()),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            // The database is away (down, restarting, connections cut): callers answer 503
            // and the engine retries, instead of treating it as a fault of the request.
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(e.to_string()),
            // Connection exceptions (08), insufficient resources (53), operator intervention
            // such as a terminated backend or a shutdown (57), and a database that does not
            // accept connections now (55000) or does not exist (3D000).
            sqlx::Error::Database(ref db) if db.code().is_some_and(|c| unavailable_code(&c)) => {
                StoreError::Unavailable(e.to_string())
            }
            other => StoreError::Database(other),
        }
    }
}

fn unavailable_code(c: &str) -> bool {
    ["08", "53", "57"].iter().any(|p| c.starts_with(p)) || c == "55000" || c == "3D000"
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A page request: newest first, items strictly older than `before` (a `seq`).
#[derive(Debug, Clone, Copy)]
pub struct PageReq {
    pub limit: i64,
    pub before: Option<i64>,
    /// Oldest first (attempts); `before` then means "after".
    pub ascending: bool,
}

/// A page of items with the `seq` to continue from, if there is more.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<i64>,
}

/// What the dispatcher asks of a claim.
pub struct Claim<'a> {
    /// Decides which leases have lapsed.
    pub now: i64,
    /// Deliveries due by then are taken.
    pub due_by: i64,
    /// The lease of those taken.
    pub lease_until: i64,
    /// At most this many, and this many of one endpoint.
    pub limit: i64,
    pub per_endpoint: i64,
    /// Endpoints left out (their slots are full).
    pub skip: &'a HashSet<String>,
}

/// Everything Herald keeps. Implementations must make each method atomic.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// This process's id among those sharing the store (heartbeats, lease owners).
    fn node(&self) -> &str;

    /// True once migrations ran and the database answers.
    async fn ping(&self) -> Result<()>;

    // --- API keys -------------------------------------------------------------------
    async fn count_keys(&self) -> Result<i64>;
    async fn insert_key(&self, key: &ApiKey) -> Result<()>;
    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>>;
    async fn list_keys(&self, page: PageReq) -> Result<Page<ApiKey>>;
    /// Revokes a key; the last admin key that no application scopes cannot be revoked
    /// (`Conflict` with code `last_admin_key`).
    async fn delete_key(&self, id: &str) -> Result<()>;

    // --- applications ---------------------------------------------------------------
    async fn insert_app(&self, app: &App) -> Result<()>;
    /// By `id` or by `uid`.
    async fn app(&self, id_or_uid: &str) -> Result<Option<App>>;
    async fn list_apps(&self, only: Option<&str>, page: PageReq) -> Result<Page<App>>;
    async fn update_app(&self, app: &App) -> Result<()>;
    /// Deletes the app and its endpoints; cancels their pending deliveries.
    async fn delete_app(&self, id: &str) -> Result<()>;

    // --- event types ----------------------------------------------------------------
    async fn insert_event_type(&self, et: &EventType) -> Result<()>;
    async fn event_type(&self, name: &str) -> Result<Option<EventType>>;
    async fn list_event_types(&self, page: PageReq) -> Result<Page<EventType>>;
    async fn update_event_type(&self, et: &EventType) -> Result<()>;
    async fn delete_event_type(&self, name: &str) -> Result<()>;

    // --- endpoints ------------------------------------------------------------------
    async fn insert_endpoint(&self, ep: &Endpoint) -> Result<()>;
    async fn endpoint(&self, app_id: &str, id: &str) -> Result<Option<Endpoint>>;
    async fn list_endpoints(&self, app_id: &str, page: PageReq) -> Result<Page<Endpoint>>;
    /// Writes every mutable field. When the status leaves `active`, pending deliveries
    /// of the endpoint are cancelled in the same transaction.
    async fn update_endpoint(&self, ep: &Endpoint) -> Result<()>;
    /// Soft-deletes the endpoint and cancels its pending deliveries.
    async fn delete_endpoint(&self, app_id: &str, id: &str) -> Result<()>;
    async fn active_endpoints(&self, app_id: &str) -> Result<Vec<Endpoint>>;
    async fn endpoint_stats(&self, endpoint_id: &str, since_ms: i64) -> Result<EndpointStats>;

    // --- events ---------------------------------------------------------------------
    /// Commits every item in one transaction. Items whose idempotency key was seen
    /// replay or conflict; others insert the event and its deliveries (due now).
    async fn ingest(&self, app_id: &str, items: Vec<NewEvent>) -> Result<Vec<IngestResult>>;
    async fn event(&self, app_id: &str, id: &str) -> Result<Option<Event>>;
    async fn list_events(
        &self,
        app_id: &str,
        f: &EventFilter,
        page: PageReq,
    ) -> Result<Page<Event>>;
    async fn event_deliveries(&self, event_id: &str) -> Result<Vec<Delivery>>;

    // --- deliveries and attempts ----------------------------------------------------
    async fn delivery(&self, app_id: &str, id: &str) -> Result<Option<Delivery>>;
    async fn list_deliveries(
        &self,
        app_id: &str,
        f: &DeliveryFilter,
        page: PageReq,
    ) -> Result<Page<Delivery>>;
    async fn list_attempts(&self, delivery_id: &str, page: PageReq) -> Result<Page<Attempt>>;
    /// Makes the delivery `pending` and due now, whatever its status.
    async fn retry_delivery(&self, id: &str, now: i64) -> Result<()>;
    /// Requeues `failed`/`cancelled` deliveries of the endpoint created at or after `since`.
    async fn recover_endpoint(&self, endpoint_id: &str, since_ms: i64, now: i64) -> Result<u64>;

    // --- the delivery queue ---------------------------------------------------------
    /// Makes leases left by a dead process claimable again, at start. A single-process
    /// store clears every lease; a shared one only the expired ones.
    async fn recover_after_restart(&self, now: i64) -> Result<()>;
    /// Clears expired leases (their process died); returns how many leases it cleared.
    async fn reap_expired_leases(&self, now: i64) -> Result<u64>;
    /// Records this process as alive; returns how many processes share the store.
    async fn heartbeat(&self, node: &str, now: i64) -> Result<i64>;
    /// Wakes `wake` whenever another process makes work due (no-op for a single process).
    async fn listen(&self, wake: std::sync::Arc<tokio::sync::Notify>) -> Result<()>;
    /// Claims the deliveries `claim` asks for, respecting `ordered` endpoints.
    async fn claim_due(&self, claim: &Claim<'_>) -> Result<Vec<Job>>;
    /// The earliest due time of pending, unleased deliveries of active endpoints, leaving
    /// out the endpoints in `skip`.
    async fn next_due_at(&self, skip: &HashSet<String>) -> Result<Option<i64>>;
    /// Records attempts and applies their outcomes (one transaction for the lot).
    async fn record_outcomes(&self, outcomes: &[RecordedOutcome]) -> Result<Vec<EndpointChange>>;
    /// Gives up leases without recording anything (shutdown).
    async fn release_leases(&self, delivery_ids: &[String]) -> Result<()>;
    async fn count_pending(&self) -> Result<i64>;

    // --- background -----------------------------------------------------------------
    /// Deletes up to `batch` finished events created before `cutoff` with their
    /// deliveries and attempts; returns how many events went.
    async fn sweep_events(&self, cutoff: i64, batch: i64) -> Result<u64>;
    /// Forgets idempotency records (events' and other POSTs') created before `cutoff`.
    async fn sweep_idempotency(&self, cutoff: i64) -> Result<u64>;

    // --- idempotent POSTs other than events -------------------------------------------
    /// Reserves a request's idempotency key, or says what to answer instead.
    async fn reserve_request(&self, request: &RequestKey<'_>) -> Result<Reserved>;
    /// Keeps the answer of a reserved request.
    async fn finish_request(&self, scope: &str, key: &str, status: u16, body: &[u8]) -> Result<()>;
    /// Frees a reserved request's key (it failed: nothing is kept).
    async fn release_request(&self, scope: &str, key: &str) -> Result<()>;
}
