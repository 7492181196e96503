//! The PostgreSQL backend: the same tables as SQLite, shared by any number of `herald serve`
//! processes. Work is distributed with row locks (`FOR UPDATE SKIP LOCKED`) and leases;
//! wake-ups cross processes with `LISTEN`/`NOTIFY` (see `queue`).

mod backend;
mod queue;

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

use super::data_key::DataKey;
use super::sql::{secrets, SqlStore};
use super::{ApiKey, Result, StoreError};
use crate::handoff::IngestSide;
use crate::node::NodeId;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Herald's store in a PostgreSQL database.
pub type PgStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects (failing fast when the server is unreachable) and applies the migrations.
    /// Secrets are sealed under `encryption_key`, or else under a key kept in the database
    /// itself (with a warning at every start: a copy of the database then reveals them).
    pub async fn open(
        url: &str,
        max_connections: u32,
        encryption_key: Option<&SecretString>,
        node: NodeId,
        handoff: IngestSide,
    ) -> Result<Self> {
        let pool = connect(url, max_connections).await?;
        let (key, source) = match encryption_key {
            Some(text) => (
                DataKey::from_base64(text.expose_secret())
                    .map_err(|e| StoreError::Unavailable(format!("encryption_key: {e}")))?,
                "encryption_key",
            ),
            None => {
                tracing::warn!(
                    "no encryption_key (HERALD_ENCRYPTION_KEY) is set: the key that stored secrets are encrypted with is kept in the database itself, so a copy of the database reveals them; set encryption_key on every node (herald rotate-encryption-key moves the secrets to it)"
                );
                (
                    secrets::stored_key::<Postgres>(&pool).await?,
                    "the key kept in the database",
                )
            }
        };
        secrets::check_key::<Postgres>(&pool, &key, source).await?;
        secrets::seal_clear::<Postgres>(&pool, &key).await?;
        // Several processes share the database: nothing is kept in memory, and each lease
        // records its node.
        Ok(SqlStore::start(
            pool.clone(),
            Arc::new(pool),
            key,
            Some(node.id.clone()),
            handoff,
            None,
            Some(Arc::new(node)),
        ))
    }
}

/// A pool on `url` with the migrations applied.
async fn connect(url: &str, max_connections: u32) -> Result<PgPool> {
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
    Ok(pool)
}

/// A node counts as alive when it beat within this window.
const HEARTBEAT_WINDOW_MS: i64 = 15_000;

/// Reseals every secret of the database at `url` under `new` (`herald rotate-encryption-key`);
/// refused while a node beats on it.
pub async fn rotate_key(
    url: &str,
    old: &DataKey,
    new: &DataKey,
    new_text: &SecretString,
) -> Result<u64> {
    let pool = connect(url, 1).await?;
    let alive: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nodes WHERE heartbeat_at >= $1")
        .bind(crate::timefmt::now_ms() - HEARTBEAT_WINDOW_MS)
        .fetch_one(&pool)
        .await?;
    if alive > 0 {
        return Err(StoreError::Unavailable(format!(
            "{alive} server(s) run on this database: stop them first (the secrets are resealed on a stopped store)"
        )));
    }
    secrets::rotate::<Postgres>(&pool, old, new, new_text.expose_secret()).await
}

/// Writes an API key into the database at `url`, whether or not servers run on it
/// (`herald recovery-key`).
pub async fn insert_key_beside_server(url: &str, key: &ApiKey) -> Result<()> {
    let pool = connect(url, 1).await?;
    crate::store::sql::keys::insert::<Postgres>(&pool, key).await
}
