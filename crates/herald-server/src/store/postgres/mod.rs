//! The PostgreSQL backend: the same tables as SQLite, shared by any number of `herald serve`
//! processes. Work is distributed with row locks (`FOR UPDATE SKIP LOCKED`) and leases;
//! wake-ups cross processes with `LISTEN`/`NOTIFY` (see `queue`).

mod backend;
mod queue;

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::Postgres;

use super::sql::SqlStore;
use super::{Result, StoreError};
use crate::handoff::IngestSide;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Herald's store in a PostgreSQL database.
pub type PgStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
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
        // Several processes share the database: nothing is kept in memory.
        Ok(SqlStore::start(
            pool.clone(),
            Arc::new(pool),
            handoff,
            None,
            None,
        ))
    }
}
