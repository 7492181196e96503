//! The embedded SQLite backend: one file under `data_dir`, WAL mode, migrations embedded in
//! the binary. Writes go through a single connection (SQLite has one writer anyway, and
//! this avoids `SQLITE_BUSY` retries); reads use a small pool of their own.

// Queries that are the same on both backends live once, in `store/sql`, and are compiled
// here for this backend's `Db` and `Pool`; only the queue (claiming, leases, wake-ups)
// differs.
pub(crate) mod active_endpoints;
#[path = "../sql/apps.rs"]
mod apps;
pub(crate) mod carpool;
mod checkpoint;
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
mod lookups;
#[path = "../sql/outcomes.rs"]
mod outcomes;
mod queue;
mod rows;
#[path = "../sql/script.rs"]
mod script;
mod writer;

/// One query may carry several statements (see `sql/script.rs`).
const MULTI_STATEMENT: bool = true;
/// Conflict clause of the hot multi-row writes. SQLite's default (ABORT) undoes a failed
/// statement alone, so inside a transaction each such statement first copies every page it
/// touches to a statement journal (a temporary file past 64 KiB): a tenth of the writer's
/// CPU. A failed statement fails its whole script, which is rolled back anyway, so FAIL
/// (keep the statement's partial changes until that rollback) needs no journal.
const OR_FAIL: &str = "OR FAIL ";
/// Many rows' values go in one JSON argument read with `json_each`: the statement's SQL is
/// then the same for any number of rows, so it is parsed once and stays prepared.
const JSON_ROWS: bool = true;
/// Outcome batches of at least this many ride in the next ingest's transaction
/// (`carpool`); smaller ones are written on their own. Busy (the recorder's batches
/// full at once), riding saves a commit per batch and raises the fan-out rate; at a few
/// hundred events per second it only lengthens every event's commit by the outcomes it
/// carries, which costs the healthy endpoints' latency beside a failing one (figures:
/// docs/benchmarks.md, ninth session).
const RIDE_MIN_BATCH: usize = 32;
/// How long a batch waits for an ingest to carry it before it is written on its own; busy,
/// an ingest group commits every millisecond or two.
const RIDE_PATIENCE: Duration = Duration::from_millis(10);
/// The database the shared query modules are compiled for.
type Db = sqlx::Sqlite;
/// Its connection pool (readers).
type Pool = sqlx::SqlitePool;
/// Where writes go: the one writer connection.
type Writer = writer::Writer;
use writer::WriteConn;

/// The writer, for one write or one transaction.
async fn lock_writer(w: &Writer) -> Result<WriteConn<'_>> {
    w.lock().await
}

/// Commits a [`script::Script::transaction`]: one query (see `writer`). Returns the rows
/// its statements returned.
async fn commit_script(
    conn: &mut WriteConn<'_>,
    script: script::Script<'_>,
) -> Result<Vec<sqlx::sqlite::SqliteRow>> {
    conn.commit(script).await
}

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::*;
use crate::handoff::IngestSide;
use active_endpoints::ActiveEndpoints;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Herald's store in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    write: std::sync::Arc<Writer>,
    read: SqlitePool,
    /// Held for the life of the store: one process per data directory, since leases
    /// left by a previous process are released at start.
    _lock: std::sync::Arc<std::fs::File>,
    /// Stops the background checkpointer when the last clone of the store is dropped.
    _checkpointer: std::sync::Arc<tokio_util::sync::DropGuard>,
    ingest: ingest::GroupCommit,
    lookups: std::sync::Arc<lookups::Lookups>,
    /// Each app's active endpoints for ingest; every write that may change them is
    /// bracketed with `active.writing()`.
    active: std::sync::Arc<ActiveEndpoints>,
    /// Outcome batches waiting to ride in the next ingest's transaction: those of at least
    /// `ride_min` outcomes, each waiting up to `ride_patience` ([`RIDE_MIN_BATCH`],
    /// [`RIDE_PATIENCE`]).
    carpool: std::sync::Arc<ingest::OutcomeCarpool>,
    ride_min: usize,
    ride_patience: Duration,
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/herald.db` and applies the migrations.
    pub async fn open(dir: &Path, synchronous_full: bool, handoff: IngestSide) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
        })?;
        let lock = std::fs::File::create(dir.join("herald.lock"))
            .map_err(|e| StoreError::Unavailable(format!("cannot create the lock file: {e}")))?;
        lock.try_lock().map_err(|_| {
            StoreError::Unavailable(format!(
                "{} is in use by another herald process (one process per SQLite data dir; use PostgreSQL for several)",
                dir.display()
            ))
        })?;
        let path = dir.join("herald.db");
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if synchronous_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false);
        // Page caches are what a big backlog grows (indexes walked by claims and sweeps):
        // about 2 MB for the writer, 1 MB per reader keeps the process small at any backlog.
        let write = Writer::connect(
            &opts
                .clone()
                .pragma("cache_size", "-2000")
                // After a checkpoint, the WAL file is cut back to this size.
                .pragma("journal_size_limit", "67108864")
                // The background checkpointer copies the WAL; the writer's own checkpoint
                // (rarer than SQLite's 1,000 pages) finds it copied and lets the WAL start
                // over (see `checkpoint`).
                .pragma(
                    "wal_autocheckpoint",
                    checkpoint::WRITER_AUTOCHECKPOINT.to_string(),
                ),
        )
        .await?;
        MIGRATOR
            .run(&mut *write.lock().await?)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))?;
        let write = std::sync::Arc::new(write);
        let stop = tokio_util::sync::CancellationToken::new();
        checkpoint::start(&opts, write.clone(), stop.clone()).await?;
        // Readers open the files read-write (a read-only connection beside a second
        // checkpointing connection failed about one read in 1,000 with "database is
        // locked"); `query_only` still refuses any write on them.
        let read = SqlitePoolOptions::new()
            .max_connections(3)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(
                opts.pragma("cache_size", "-1000")
                    .pragma("query_only", "ON"),
            )
            .await?;
        let active = std::sync::Arc::new(ActiveEndpoints::default());
        let carpool = std::sync::Arc::new(ingest::OutcomeCarpool::default());
        Ok(SqliteStore {
            ingest: ingest::GroupCommit::start(
                write.clone(),
                handoff,
                Some(active.clone()),
                Some(carpool.clone()),
            ),
            active,
            carpool,
            ride_min: RIDE_MIN_BATCH,
            ride_patience: RIDE_PATIENCE,
            write,
            read,
            _lock: std::sync::Arc::new(lock),
            _checkpointer: std::sync::Arc::new(stop.drop_guard()),
            lookups: Default::default(),
        })
    }

    /// Runs a write to api_keys, apps or event_types, forgetting the cached copies before
    /// and after it (see `lookups`).
    async fn forgetting<T>(
        &self,
        write: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        self.lookups.forget();
        let r = write.await;
        self.lookups.forget();
        r
    }

    /// The in-memory copy when there is one; otherwise `read` (not started until needed),
    /// remembered under the generation seen before it began (see `lookups`).
    async fn cached<T>(
        &self,
        hit: Option<T>,
        read: impl std::future::Future<Output = Result<Option<T>>>,
        remember: impl FnOnce(u64, &T),
    ) -> Result<Option<T>> {
        if hit.is_some() {
            return Ok(hit);
        }
        let generation = self.lookups.generation();
        let found = read.await?;
        if let Some(row) = &found {
            remember(generation, row);
        }
        Ok(found)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn count_keys(&self) -> Result<i64> {
        keys::count(&self.read).await
    }
    async fn insert_key(&self, key: &ApiKey) -> Result<()> {
        self.forgetting(keys::insert(&self.write, key)).await
    }
    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        self.cached(
            self.lookups.key(hash),
            keys::by_hash(&self.read, hash),
            |g, k| self.lookups.remember_key(g, hash, k),
        )
        .await
    }
    async fn list_keys(&self, page: PageReq) -> Result<Page<ApiKey>> {
        keys::list(&self.read, page).await
    }
    async fn delete_key(&self, id: &str) -> Result<()> {
        self.forgetting(keys::delete(&self.write, id)).await
    }

    async fn insert_app(&self, app: &App) -> Result<()> {
        self.forgetting(apps::insert(&self.write, app)).await
    }
    async fn app(&self, id_or_uid: &str) -> Result<Option<App>> {
        self.cached(
            self.lookups.app(id_or_uid),
            apps::get(&self.read, id_or_uid),
            |g, a| self.lookups.remember_app(g, id_or_uid, a),
        )
        .await
    }
    async fn list_apps(&self, only: Option<&str>, page: PageReq) -> Result<Page<App>> {
        apps::list(&self.read, only, page).await
    }
    async fn update_app(&self, app: &App) -> Result<()> {
        self.forgetting(apps::update(&self.write, app)).await
    }
    async fn delete_app(&self, id: &str) -> Result<()> {
        let _writing = self.active.writing();
        self.forgetting(apps::delete(&self.write, id)).await
    }

    async fn insert_event_type(&self, et: &EventType) -> Result<()> {
        self.forgetting(event_types::insert(&self.write, et)).await
    }
    async fn event_type(&self, name: &str) -> Result<Option<EventType>> {
        if let Some(known) = self.lookups.event_type(name) {
            return Ok(known);
        }
        let generation = self.lookups.generation();
        let found = event_types::get(&self.read, name).await?;
        self.lookups
            .remember_event_type(generation, name, found.as_ref());
        Ok(found)
    }
    async fn list_event_types(&self, page: PageReq) -> Result<Page<EventType>> {
        event_types::list(&self.read, page).await
    }
    async fn update_event_type(&self, et: &EventType) -> Result<()> {
        self.forgetting(event_types::update(&self.write, et)).await
    }
    async fn delete_event_type(&self, name: &str) -> Result<()> {
        self.forgetting(event_types::delete(&self.write, name))
            .await
    }

    async fn insert_endpoint(&self, ep: &Endpoint) -> Result<()> {
        let _writing = self.active.writing();
        endpoints::insert(&self.write, ep).await
    }
    async fn endpoint(&self, app_id: &str, id: &str) -> Result<Option<Endpoint>> {
        endpoints::get(&self.read, app_id, id).await
    }
    async fn list_endpoints(&self, app_id: &str, page: PageReq) -> Result<Page<Endpoint>> {
        endpoints::list(&self.read, app_id, page).await
    }
    async fn update_endpoint(&self, ep: &Endpoint) -> Result<()> {
        let _writing = self.active.writing();
        endpoints::update(&self.write, ep).await
    }
    async fn delete_endpoint(&self, app_id: &str, id: &str) -> Result<()> {
        let _writing = self.active.writing();
        endpoints::delete(&self.write, app_id, id).await
    }
    async fn active_endpoints(&self, app_id: &str) -> Result<Vec<Endpoint>> {
        endpoints::active(&self.read, app_id).await
    }
    async fn endpoint_stats(&self, endpoint_id: &str, since_ms: i64) -> Result<EndpointStats> {
        endpoints::stats(&self.read, endpoint_id, since_ms).await
    }

    async fn ingest(&self, app_id: &str, items: Vec<NewEvent>) -> Result<Vec<IngestResult>> {
        self.ingest.ingest(app_id, items).await
    }
    async fn event(&self, app_id: &str, id: &str) -> Result<Option<Event>> {
        events::get(&self.read, app_id, id).await
    }
    async fn list_events(
        &self,
        app_id: &str,
        f: &EventFilter,
        page: PageReq,
    ) -> Result<Page<Event>> {
        events::list(&self.read, app_id, f, page).await
    }
    async fn event_deliveries(&self, event_id: &str) -> Result<Vec<Delivery>> {
        deliveries::of_event(&self.read, event_id).await
    }

    async fn delivery(&self, app_id: &str, id: &str) -> Result<Option<Delivery>> {
        deliveries::get(&self.read, app_id, id).await
    }
    async fn list_deliveries(
        &self,
        app_id: &str,
        f: &DeliveryFilter,
        page: PageReq,
    ) -> Result<Page<Delivery>> {
        deliveries::list(&self.read, app_id, f, page).await
    }
    async fn list_attempts(&self, delivery_id: &str, page: PageReq) -> Result<Page<Attempt>> {
        deliveries::attempts(&self.read, delivery_id, page).await
    }
    async fn retry_delivery(&self, id: &str, now: i64) -> Result<()> {
        deliveries::retry(&self.write, id, now).await
    }
    async fn recover_endpoint(&self, endpoint_id: &str, since_ms: i64, now: i64) -> Result<u64> {
        deliveries::recover(&self.write, endpoint_id, since_ms, now).await
    }

    async fn recover_after_restart(&self, _now: i64) -> Result<()> {
        // The lock file guarantees no other process: every lease is stale.
        queue::release_all(&self.write).await
    }
    async fn reap_expired_leases(&self, now: i64) -> Result<u64> {
        queue::reap(&self.write, now).await
    }
    async fn heartbeat(&self, _node: &str, _now: i64) -> Result<i64> {
        Ok(1)
    }
    async fn listen(&self, _wake: std::sync::Arc<tokio::sync::Notify>) -> Result<()> {
        Ok(())
    }
    async fn claim_due(&self, claim: &Claim<'_>) -> Result<Vec<Job>> {
        queue::claim(&self.write, &self.read, claim).await
    }
    async fn next_due_at(&self, skip: &HashSet<String>) -> Result<Option<i64>> {
        outcomes::next_due_at(&self.read, skip).await
    }
    async fn record_outcomes(&self, outcomes: &[RecordedOutcome]) -> Result<Vec<EndpointChange>> {
        // An ordered endpoint's next delivery waits for this record: no waiting for a ride.
        if outcomes.len() >= self.ride_min && !outcomes.iter().any(|o| o.ordered) {
            let ride = self
                .carpool
                .ride(outcomes.to_vec(), self.ride_patience)
                .await;
            if let Some(returned) = ride {
                return outcomes::settle_carried(
                    &self.write,
                    outcomes,
                    &returned,
                    Some(&self.active),
                )
                .await;
            }
        }
        outcomes::record(&self.write, outcomes, Some(&self.active)).await
    }
    async fn release_leases(&self, delivery_ids: &[String]) -> Result<()> {
        queue::release(&self.write, delivery_ids).await
    }
    async fn count_pending(&self) -> Result<i64> {
        outcomes::count_pending(&self.read).await
    }

    async fn sweep_events(&self, cutoff: i64, batch: i64) -> Result<u64> {
        events::sweep(&self.write, cutoff, batch).await
    }
    async fn sweep_idempotency(&self, cutoff: i64) -> Result<u64> {
        events::sweep_idempotency(&self.write, cutoff).await
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

/// Appends the cursor condition, order and limit (one extra row, to learn whether another
/// page exists) to a query whose WHERE clause is already open.
fn push_page(qb: &mut sqlx::QueryBuilder<'_, sqlx::Sqlite>, page: &PageReq) {
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

/// Trims the extra row fetched by [`push_page`].
pub(crate) fn finish_page<T>(mut items: Vec<(i64, T)>, limit: i64) -> Page<T> {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next = if more {
        items.last().map(|(s, _)| *s)
    } else {
        None
    };
    Page {
        items: items.into_iter().map(|(_, t)| t).collect(),
        next,
    }
}

#[cfg(test)]
mod tests;
