//! SQLite's side of the backend contract (`store/sql/backend.rs`).

use std::sync::Arc;

use sqlx::sqlite::SqliteRow;
use sqlx::Sqlite;
use tokio::sync::Notify;

use super::queue;
use super::writer::{WriteConn, Writer};
use crate::store::sql::query::sqlx_calls;
use crate::store::sql::script::Script;
use crate::store::sql::{Backend, SqlStore};
use crate::store::{Claim, Job, Result};

impl Backend for Sqlite {
    /// SQLite runs several statements of one query in turn (see `sql/script.rs`).
    const MULTI_STATEMENT: bool = true;
    /// SQLite's default (ABORT) undoes a failed statement alone, so inside a transaction
    /// each hot multi-row statement first copies every page it touches to a statement
    /// journal (a temporary file past 64 KiB): a tenth of the writer's CPU. A failed
    /// statement fails its whole script, which is rolled back anyway, so FAIL (keep the
    /// statement's partial changes until that rollback) needs no journal.
    const OR_FAIL: &'static str = "OR FAIL ";
    const JSON_ROWS: bool = true;
    const LOCK_ROWS: &'static str = "";

    sqlx_calls!(SqliteRow);

    type Writer = Writer;
    type WriteConn<'w> = WriteConn<'w>;

    async fn lock_writer(w: &Writer) -> Result<WriteConn<'_>> {
        w.lock().await
    }

    /// One query: `BEGIN; …; COMMIT` (see `writer`).
    async fn commit_script<'w>(
        // (Written as the trait's projection: the lifetime is then bound the same way.)
        conn: &mut <Self as Backend>::WriteConn<'w>,
        script: Script<'_, Self>,
    ) -> Result<Vec<SqliteRow>> {
        conn.commit(script).await
    }

    /// Nothing: this process's own dispatcher is the only one, and hears of such commits
    /// directly.
    fn push_notify(_script: &mut Script<'_, Self>) {}

    async fn recover_after_restart(store: &SqlStore<Self>, _now: i64) -> Result<()> {
        // The lock file guarantees no other process: every lease is stale.
        queue::release_all(&store.write).await
    }

    async fn reap(w: &Writer, now: i64) -> Result<u64> {
        queue::reap(w, now).await
    }

    async fn heartbeat(_store: &SqlStore<Self>, _node: &str, _now: i64) -> Result<i64> {
        Ok(1)
    }

    async fn listen(_store: &SqlStore<Self>, _wake: Arc<Notify>) -> Result<()> {
        Ok(())
    }

    async fn claim(store: &SqlStore<Self>, claim: &Claim<'_>) -> Result<Vec<Job>> {
        queue::claim(&store.write, &store.read, &store.key, claim).await
    }

    async fn release(w: &Writer, ids: &[String]) -> Result<()> {
        queue::release(w, ids).await
    }
}
