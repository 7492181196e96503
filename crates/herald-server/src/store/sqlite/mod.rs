//! The embedded SQLite backend: one file under `data_dir`, WAL mode, migrations embedded in
//! the binary. Writes go through a single connection (SQLite has one writer anyway, and
//! this avoids `SQLITE_BUSY` retries); reads use a small pool of their own.

pub(crate) mod active_endpoints;
mod backend;
pub(crate) mod carpool;
mod checkpoint;
pub(crate) mod lookups;
mod queue;
pub(crate) mod secrets;
mod writer;

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

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Sqlite;

use super::data_key::DataKey;
use super::sql::store::Memory;
use super::sql::{self, SqlStore};
use super::{ApiKey, Result, StoreError};
use crate::handoff::IngestSide;
use writer::Writer;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Herald's store in one SQLite file.
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens (creating if needed) `dir/herald.db` and applies the migrations. Secrets are
    /// sealed under `encryption_key`, or the key of the key file in `dir` (`secrets`).
    pub async fn open(
        dir: &Path,
        synchronous_full: bool,
        encryption_key: Option<&SecretString>,
        handoff: IngestSide,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
        })?;
        let lock = lock_dir(dir)?;
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
        let (key, source) = secrets::data_key(dir, encryption_key)?;
        secrets::prepare(&write, &key, &source).await?;
        let write = Arc::new(write);
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
        let memory = Memory {
            lookups: Default::default(),
            active: Default::default(),
            carpool: Default::default(),
            ride_min: RIDE_MIN_BATCH,
            ride_patience: RIDE_PATIENCE,
        };
        // One process per data directory (the lock) is what makes `memory` exact.
        let held: Arc<dyn Send + Sync> = Arc::new((lock, stop.drop_guard()));
        Ok(SqlStore::start(
            read,
            write,
            key,
            None,
            handoff,
            Some(memory),
            Some(held),
        ))
    }
}

/// Writes an API key into the store in `dir`, whether or not a server holds that store
/// (`herald recovery-key`): as a second SQLite writer, each waiting for the other's
/// transaction up to the busy timeout. A store that does not exist yet is created (its data
/// key is left to the first server, which may be given one).
pub async fn insert_key_beside_server(dir: &Path, key: &ApiKey) -> Result<()> {
    let writer = direct_writer(dir, true).await?;
    crate::store::sql::keys::insert::<Sqlite>(&writer, key).await
}

/// Reseals every secret of the store in `dir` under `new` (`herald rotate-encryption-key`);
/// refused while a server holds the store. A key file is replaced by `new_text`.
pub async fn rotate_key(
    dir: &Path,
    old: &DataKey,
    new: &DataKey,
    new_text: &SecretString,
) -> Result<u64> {
    let _lock = lock_dir(dir).map_err(|_| {
        StoreError::Unavailable(format!(
            "a server is running on {}: stop it first (the secrets are resealed on a stopped store)",
            dir.display()
        ))
    })?;
    let writer = direct_writer(dir, false).await?;
    let n = sql::secrets::rotate::<Sqlite>(&writer, old, new, new_text.expose_secret()).await?;
    let key_file = secrets::key_file(dir);
    if key_file.exists() {
        secrets::write_key_file(&key_file, new_text)?;
    }
    secrets::rewrite_file(&writer).await?;
    Ok(n)
}

/// A writer connection of its own on `dir/herald.db`, migrations applied (`create`: make
/// the store if there is none).
async fn direct_writer(dir: &Path, create: bool) -> Result<Writer> {
    let path = dir.join("herald.db");
    if create {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
        })?;
    } else if !path.exists() {
        return Err(StoreError::Unavailable(format!(
            "there is no store in {}",
            dir.display()
        )));
    }
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(false);
    let writer = Writer::connect(&opts).await?;
    MIGRATOR
        .run(&mut *writer.lock().await?)
        .await
        .map_err(|e| StoreError::Unavailable(format!("migrations failed: {e}")))?;
    Ok(writer)
}

/// Takes the data directory's lock: one process per SQLite store.
fn lock_dir(dir: &Path) -> std::result::Result<std::fs::File, StoreError> {
    let lock = std::fs::File::create(dir.join("herald.lock"))
        .map_err(|e| StoreError::Unavailable(format!("cannot create the lock file: {e}")))?;
    lock.try_lock().map_err(|_| {
        StoreError::Unavailable(format!(
            "{} is in use by another herald process (one process per SQLite data dir; use PostgreSQL for several)",
            dir.display()
        ))
    })?;
    Ok(lock)
}

#[cfg(test)]
mod tests;
