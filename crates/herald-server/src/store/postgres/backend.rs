//! PostgreSQL's side of the backend contract (`store/sql/backend.rs`).

use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgListener, PgRow};
use sqlx::{PgPool, Postgres};
use tokio::sync::Notify;

use super::{queue, HEARTBEAT_WINDOW_MS};
use crate::store::sql::query::sqlx_calls;
use crate::store::sql::script::Script;
use crate::store::sql::{Backend, SqlStore};
use crate::store::{Claim, Job, Result};

impl Backend for Postgres {
    /// A prepared statement holds one statement (see `sql/script.rs`).
    const MULTI_STATEMENT: bool = false;
    /// SQLite's only (see `sqlite/backend.rs`).
    const OR_FAIL: &'static str = "";
    const JSON_ROWS: bool = false;
    const LOCK_ROWS: &'static str = " FOR UPDATE";

    sqlx_calls!(PgRow);

    /// Any connection of the pool.
    type Writer = PgPool;
    type WriteConn<'w> = PoolConnection<Postgres>;

    async fn lock_writer(w: &PgPool) -> Result<PoolConnection<Postgres>> {
        Ok(w.acquire().await?)
    }

    /// One statement at a time, in a transaction.
    async fn commit_script<'w>(
        conn: &mut PoolConnection<Postgres>,
        script: Script<'_, Self>,
    ) -> Result<Vec<PgRow>> {
        let mut tx = sqlx::Connection::begin(&mut **conn).await?;
        let rows = script.fetch(&mut tx).await?;
        tx.commit().await?;
        Ok(rows)
    }

    fn push_notify(script: &mut Script<'_, Self>) {
        queue::push_notify(script)
    }

    async fn recover_after_restart(store: &SqlStore<Self>, now: i64) -> Result<()> {
        // This node's own leases are stale (it just started); other nodes may be alive, so
        // of theirs only the expired ones.
        let own = queue::release_own(&store.write, &store.node).await?;
        if own > 0 {
            tracing::info!(
                released = own,
                "took back the leases this node held before it stopped"
            );
        }
        queue::reap(&store.write, now).await.map(|_| ())
    }

    async fn reap(w: &PgPool, now: i64) -> Result<u64> {
        queue::reap(w, now).await
    }

    async fn heartbeat(store: &SqlStore<Self>, node: &str, now: i64) -> Result<i64> {
        queue::heartbeat(&store.read, node, now, HEARTBEAT_WINDOW_MS).await
    }

    async fn listen(store: &SqlStore<Self>, wake: Arc<Notify>) -> Result<()> {
        let mut listener = PgListener::connect_with(&store.read).await?;
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

    async fn claim(store: &SqlStore<Self>, claim: &Claim<'_>) -> Result<Vec<Job>> {
        queue::claim(&store.read, &store.key, &store.node, claim).await
    }

    async fn release(w: &PgPool, ids: &[String]) -> Result<()> {
        queue::release(w, ids).await
    }
}
