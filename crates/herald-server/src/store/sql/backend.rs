//! The backend contract: everything the shared SQL (`store/sql`) and the one [`Store`]
//! implementation (`sql/store.rs`) ask of a database. It is implemented once per backend, on
//! sqlx's database type: `sqlite/backend.rs` and `postgres/backend.rs`.
//!
//! [`Store`]: crate::store::Store

use std::future::Future;
use std::ops::DerefMut;
use std::sync::Arc;

use sqlx::error::BoxDynError;
use tokio::sync::Notify;

use super::query::{Column, Index, On, Query, Value};
use super::script::Script;
use super::store::SqlStore;
use crate::store::{Claim, Job, Result};

pub trait Backend: sqlx::Database + Sized {
    // --- how the shared SQL is written and sent ------------------------------------
    /// One query may carry several statements (see `sql/script.rs`).
    const MULTI_STATEMENT: bool;
    /// Conflict clause of the hot multi-row writes, before the table name (`"OR FAIL "` on
    /// SQLite, see `sqlite/backend.rs`; empty elsewhere).
    const OR_FAIL: &'static str;
    /// Many rows' values go in one JSON argument read with `json_each` (the statement's SQL
    /// is the same for any number of rows); otherwise in a VALUES list.
    const JSON_ROWS: bool;
    /// Appended to a SELECT whose rows the transaction must hold until it ends (`" FOR
    /// UPDATE"`; nothing on SQLite, whose one writer already runs transactions in turn).
    const LOCK_ROWS: &'static str;

    // --- sqlx, for the shared queries (see `sql/query.rs`) --------------------------
    /// Adds a bound value to `args`.
    fn add<'q, T: Value<'q>>(args: &mut Self::Arguments<'q>, value: T) -> Result<(), BoxDynError>;
    /// Reads column `index` of `row`.
    fn get<T: Column, I: Index>(row: &Self::Row, index: I) -> sqlx::Result<T>;
    /// Runs `q`; returns the rows it changed.
    fn execute(
        q: Query<'_, Self>,
        on: On<'_, Self>,
    ) -> impl Future<Output = sqlx::Result<u64>> + Send;
    fn fetch_all(
        q: Query<'_, Self>,
        on: On<'_, Self>,
    ) -> impl Future<Output = sqlx::Result<Vec<Self::Row>>> + Send;
    fn fetch_optional(
        q: Query<'_, Self>,
        on: On<'_, Self>,
    ) -> impl Future<Output = sqlx::Result<Option<Self::Row>>> + Send;

    // --- writes ---------------------------------------------------------------------
    /// Where writes go: SQLite's one writer connection, PostgreSQL's pool.
    type Writer: Send + Sync + 'static;
    /// The writer, held for one write or one transaction.
    type WriteConn<'w>: DerefMut<Target = Self::Connection> + Send;
    fn lock_writer(w: &Self::Writer) -> impl Future<Output = Result<Self::WriteConn<'_>>> + Send;
    /// Commits a [`Script::transaction`]; returns the rows its statements returned.
    fn commit_script<'w>(
        conn: &mut Self::WriteConn<'w>,
        script: Script<'_, Self>,
    ) -> impl Future<Output = Result<Vec<Self::Row>>> + Send;
    /// Adds to a transaction's script what tells other processes that work became due
    /// (nothing for a single process).
    fn push_notify(script: &mut Script<'_, Self>);

    // --- the delivery queue: claiming and leases differ ------------------------------
    /// Makes leases left by a dead process claimable again, at start.
    fn recover_after_restart(
        store: &SqlStore<Self>,
        now: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Clears expired leases; returns how many.
    fn reap(w: &Self::Writer, now: i64) -> impl Future<Output = Result<u64>> + Send;
    /// Records this process as alive; returns how many processes share the store.
    fn heartbeat(
        store: &SqlStore<Self>,
        node: &str,
        now: i64,
    ) -> impl Future<Output = Result<i64>> + Send;
    /// Wakes `wake` whenever another process makes work due.
    fn listen(store: &SqlStore<Self>, wake: Arc<Notify>)
        -> impl Future<Output = Result<()>> + Send;
    fn claim(
        store: &SqlStore<Self>,
        claim: &Claim<'_>,
    ) -> impl Future<Output = Result<Vec<Job>>> + Send;
    /// Gives leases up without recording anything.
    fn release(w: &Self::Writer, ids: &[String]) -> impl Future<Output = Result<()>> + Send;
}
