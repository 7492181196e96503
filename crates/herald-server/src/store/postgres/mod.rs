//! The PostgreSQL backend: the same tables as SQLite, shared by any number of `herald serve`
//! processes. Work is distributed with row locks (`FOR UPDATE SKIP LOCKED`) and leases;
//! wake-ups cross processes with `LISTEN`/`NOTIFY` (see `queue`).

// Queries that are the same on both backends live once, in `store/sql`, and are compiled
// here for this backend's `Db` and `Pool`; only the queue (claiming, leases, wake-ups)
// differs.
#[path = "../sql/apps.rs"]
mod apps;
#[path = "../sql/deliveries.rs"]
mod deliveries;
#[path = "../sql/due_hints.rs"]
mod due_hints;
#[path = "../sql/endpoints.rs"]
mod endpoints;
#[path = "../sql/event_types.rs"]
mod event_types;
#[path = "../sql/events.rs"]
mod events;
#[path = "../sql/ingest.rs"]
mod ingest;
#[path = "../sql/keys.rs"]
mod keys;
#[path = "../sql/outcomes.rs"]
mod outcomes;
mod queue;
mod rows;
#[path = "../sql/script.rs"]
mod script;

/// A prepared statement holds one statement (see `sql/script.rs`).
const MULTI_STATEMENT: bool = false;
/// Conflict clause of the hot multi-row writes: SQLite's only (see `sqlite/mod.rs`).
const OR_FAIL: &str = "";
/// Many rows' values go in a VALUES list (see `sqlite/mod.rs` for the other way).
const JSON_ROWS: bool = false;
/// The database the shared query modules are compiled for.
type Db = sqlx::Postgres;
/// Its connection pool.
type Pool = sqlx::PgPool;
/// Where writes go: any connection of the pool.
type Writer = sqlx::PgPool;
type WriteConn<'a> = sqlx::pool::PoolConnection<Db>;

/// A connection for one write or one transaction.
async fn lock_writer(w: &Writer) -> Result<WriteConn<'_>> {
    Ok(w.acquire().await?)
}

/// Commits a [`script::Script::transaction`]: one statement at a time. Returns the rows
/// its statements returned.
async fn commit_script(
    conn: &mut WriteConn<'_>,
    script: script::Script<'_>,
) -> Result<Vec<sqlx::postgres::PgRow>> {
    let mut tx = sqlx::Connection::begin(&mut **conn).await?;
    let rows = script.fetch(&mut tx).await?;
    tx.commit().await?;
    Ok(rows)
}

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::PgPool;
use tokio::sync::Notify;

use crate::handoff::IngestSide;

use super::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A node counts as alive when it beat within this window.
const HEARTBEAT_WINDOW_MS: i64 = 15_000;

/// Herald's store in a PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    ingest: ingest::GroupCommit,
}

impl PgStore {
    /// Connects (failing fast when the server is unreachable) and applies the migrations.
    pub async fn open(url: &str, max_connections: u32, handoff: IngestSide) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            // Short, so that requests during a database outage get 503 instead of hanging.
            .acquire_timeout(Duration::from_secs(3))
            .connect(url)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))?;
        let ingest = ingest::GroupCommit::start(Arc::new(pool.clone()), handoff, None, None);
        Ok(PgStore { pool, ingest })
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn count_keys(&self) -> Result<i64> {
        keys::count(&self.pool).await
    }
    async fn insert_key(&self, key: &ApiKey) -> Result<()> {
        keys::insert(&self.pool, key).await
    }
    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        keys::by_hash(&self.pool, hash).await
    }
    async fn list_keys(&self, page: PageReq) -> Result<Page<ApiKey>> {
        keys::list(&self.pool, page).await
    }
    async fn delete_key(&self, id: &str) -> Result<()> {
        keys::delete(&self.pool, id).await
    }

    async fn insert_app(&self, app: &App) -> Result<()> {
        apps::insert(&self.pool, app).await
    }
    async fn app(&self, id_or_uid: &str) -> Result<Option<App>> {
        apps::get(&self.pool, id_or_uid).await
    }
    async fn list_apps(&self, only: Option<&str>, page: PageReq) -> Result<Page<App>> {
        apps::list(&self.pool, only, page).await
    }
    async fn update_app(&self, app: &App) -> Result<()> {
        apps::update(&self.pool, app).await
    }
    async fn delete_app(&self, id: &str) -> Result<()> {
        apps::delete(&self.pool, id).await
    }

    async fn insert_event_type(&self, et: &EventType) -> Result<()> {
        event_types::insert(&self.pool, et).await
    }
    async fn event_type(&self, name: &str) -> Result<Option<EventType>> {
        event_types::get(&self.pool, name).await
    }
    async fn list_event_types(&self, page: PageReq) -> Result<Page<EventType>> {
        event_types::list(&self.pool, page).await
    }
    async fn update_event_type(&self, et: &EventType) -> Result<()> {
        event_types::update(&self.pool, et).await
    }
    async fn delete_event_type(&self, name: &str) -> Result<()> {
        event_types::delete(&self.pool, name).await
    }

    async fn insert_endpoint(&self, ep: &Endpoint) -> Result<()> {
        endpoints::insert(&self.pool, ep).await
    }
    async fn endpoint(&self, app_id: &str, id: &str) -> Result<Option<Endpoint>> {
        endpoints::get(&self.pool, app_id, id).await
    }
    async fn list_endpoints(&self, app_id: &str, page: PageReq) -> Result<Page<Endpoint>> {
        endpoints::list(&self.pool, app_id, page).await
    }
    async fn update_endpoint(&self, ep: &Endpoint) -> Result<()> {
        endpoints::update(&self.pool, ep).await
    }
    async fn delete_endpoint(&self, app_id: &str, id: &str) -> Result<()> {
        endpoints::delete(&self.pool, app_id, id).await
    }
    async fn active_endpoints(&self, app_id: &str) -> Result<Vec<Endpoint>> {
        endpoints::active(&self.pool, app_id).await
    }
    async fn endpoint_stats(&self, endpoint_id: &str, since_ms: i64) -> Result<EndpointStats> {
        endpoints::stats(&self.pool, endpoint_id, since_ms).await
    }

    async fn ingest(&self, app_id: &str, items: Vec<NewEvent>) -> Result<Vec<IngestResult>> {
        self.ingest.ingest(app_id, items).await
    }
    async fn event(&self, app_id: &str, id: &str) -> Result<Option<Event>> {
        events::get(&self.pool, app_id, id).await
    }
    async fn list_events(
        &self,
        app_id: &str,
        f: &EventFilter,
        page: PageReq,
    ) -> Result<Page<Event>> {
        events::list(&self.pool, app_id, f, page).await
    }
    async fn event_deliveries(&self, event_id: &str) -> Result<Vec<Delivery>> {
        deliveries::of_event(&self.pool, event_id).await
    }

    async fn delivery(&self, app_id: &str, id: &str) -> Result<Option<Delivery>> {
        deliveries::get(&self.pool, app_id, id).await
    }
    async fn list_deliveries(
        &self,
        app_id: &str,
        f: &DeliveryFilter,
        page: PageReq,
    ) -> Result<Page<Delivery>> {
        deliveries::list(&self.pool, app_id, f, page).await
    }
    async fn list_attempts(&self, delivery_id: &str, page: PageReq) -> Result<Page<Attempt>> {
        deliveries::attempts(&self.pool, delivery_id, page).await
    }
    async fn retry_delivery(&self, id: &str, now: i64) -> Result<()> {
        deliveries::retry(&self.pool, id, now).await
    }
    async fn recover_endpoint(&self, endpoint_id: &str, since_ms: i64, now: i64) -> Result<u64> {
        deliveries::recover(&self.pool, endpoint_id, since_ms, now).await
    }

    async fn recover_after_restart(&self, now: i64) -> Result<()> {
        // Other nodes may be alive: only expired leases are stale.
        queue::reap(&self.pool, now).await.map(|_| ())
    }
    async fn reap_expired_leases(&self, now: i64) -> Result<u64> {
        queue::reap(&self.pool, now).await
    }
    async fn heartbeat(&self, node: &str, now: i64) -> Result<i64> {
        queue::heartbeat(&self.pool, node, now, HEARTBEAT_WINDOW_MS).await
    }
    async fn listen(&self, wake: Arc<Notify>) -> Result<()> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(queue::CHANNEL).await?;
        tokio::spawn(async move {
            loop {
                // `recv` reconnects by itself after a lost connection; wake anyway then,
                // since notifications sent meanwhile are lost.
                match listener.recv().await {
                    Ok(_) => wake.notify_one(),
                    Err(e) => {
                        tracing::warn!(error = %e, "LISTEN connection lost; retrying");
                        wake.notify_one();
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        Ok(())
    }
    async fn claim_due(&self, claim: &Claim<'_>) -> Result<Vec<Job>> {
        queue::claim(&self.pool, claim).await
    }
    async fn next_due_at(&self, skip: &HashSet<String>) -> Result<Option<i64>> {
        outcomes::next_due_at(&self.pool, skip).await
    }
    async fn record_outcomes(&self, outcomes: &[RecordedOutcome]) -> Result<Vec<EndpointChange>> {
        outcomes::record(&self.pool, outcomes, None).await
    }
    async fn release_leases(&self, delivery_ids: &[String]) -> Result<()> {
        queue::release(&self.pool, delivery_ids).await
    }
    async fn count_pending(&self) -> Result<i64> {
        outcomes::count_pending(&self.pool).await
    }

    async fn sweep_events(&self, cutoff: i64, batch: i64) -> Result<u64> {
        events::sweep(&self.pool, cutoff, batch).await
    }
    async fn sweep_idempotency(&self, cutoff: i64) -> Result<u64> {
        events::sweep_idempotency(&self.pool, cutoff).await
    }
}

/// Maps a unique-constraint violation to a 409, leaving other errors alone.
fn conflict_on_unique(e: sqlx::Error, message: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Conflict {
                code: "duplicate",
                message: message.to_string(),
            };
        }
    }
    StoreError::from(e)
}

/// Appends the cursor condition, order and limit to a query whose WHERE clause is open.
fn push_page(qb: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>, page: &PageReq) {
    if let Some(before) = page.before {
        qb.push(if page.ascending {
            " AND seq > "
        } else {
            " AND seq < "
        });
        qb.push_bind(before);
    }
    qb.push(if page.ascending {
        " ORDER BY seq ASC LIMIT "
    } else {
        " ORDER BY seq DESC LIMIT "
    });
    qb.push_bind(page.limit + 1);
}

use super::sqlite::finish_page;
