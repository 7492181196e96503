//! The one connection that writes to the SQLite file, held by the store itself.
//!
//! Not a pool: sqlx's pool pings a connection each time it is given back (a round trip to
//! the connection's thread, and a task spawned to do it), which was one wake-up of two
//! threads per write on top of the write's own. A fair mutex gives the same one-at-a-time
//! order without it.
//!
//! It also runs a transaction sent as one query (`BEGIN; …; COMMIT`, see
//! `sql/script.rs`): one round trip instead of three. Such a script is marked open before
//! it is sent; if it fails, or its future is dropped part-way, the next holder rolls it
//! back first, so no later write can ever run inside a transaction nobody will commit.

use std::ops::{Deref, DerefMut};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{ConnectOptions, Executor};
use tokio::sync::{Mutex, MutexGuard};

use crate::store::sql::script::Script;
use crate::store::Result;

/// A one-query transaction up to this many characters of SQL keeps its prepared form: a
/// few events or outcomes at a time make few shapes, which then are not parsed again at
/// every commit (at 1,024 an outcome batch of a few deliveries was parsed every time).
/// Bigger scripts (busy fan-out groups) stay unprepared: each cached program costs memory.
/// Figures: docs/benchmarks.md, eighth session.
const CACHED_SQL_CHARS: usize = 8192;

pub struct Writer {
    state: Mutex<State>,
}

struct State {
    conn: SqliteConnection,
    /// A one-query transaction was sent and not seen to end.
    open: bool,
}

/// The writer, held: derefs to its connection.
pub struct WriteConn<'a>(MutexGuard<'a, State>);

impl Writer {
    pub async fn connect(opts: &SqliteConnectOptions) -> Result<Writer> {
        Ok(Writer {
            state: Mutex::new(State {
                conn: opts.connect().await?,
                open: false,
            }),
        })
    }

    /// Waits for the writer (first come, first served).
    pub async fn lock(&self) -> Result<WriteConn<'_>> {
        let mut state = self.state.lock().await;
        state.end_open().await?;
        Ok(WriteConn(state))
    }
}

impl State {
    /// Rolls back a one-query transaction that was not seen to end.
    async fn end_open(&mut self) -> Result<()> {
        if self.open {
            roll_back(&mut self.conn).await?;
            self.open = false;
        }
        Ok(())
    }
}

impl WriteConn<'_> {
    /// Runs `script`, built with [`Script::transaction`], as one transaction in one query;
    /// returns the rows its statements returned (`RETURNING`), in order.
    pub async fn commit(&mut self, script: Script<'_, sqlx::Sqlite>) -> Result<Vec<SqliteRow>> {
        debug_assert!(script.transaction && script.parts.len() <= 1);
        let fixed = script.fixed;
        let Some(mut q) = script.parts.into_iter().next() else {
            return Ok(Vec::new());
        };
        q.push("; COMMIT");
        let persistent = fixed || q.sql().len() <= CACHED_SQL_CHARS;
        let state = &mut *self.0;
        state.open = true;
        let run = q
            .build()
            .persistent(persistent)
            .fetch_all(&mut state.conn)
            .await;
        match run {
            Ok(rows) => {
                state.open = false;
                Ok(rows)
            }
            Err(e) => {
                state.end_open().await?;
                Err(e.into())
            }
        }
    }
}

/// Ends the transaction a failed or abandoned script may have left open.
async fn roll_back(conn: &mut SqliteConnection) -> Result<()> {
    match conn.execute("ROLLBACK").await {
        Ok(_) => Ok(()),
        // It never began, or SQLite already rolled it back (it does on some errors).
        Err(sqlx::Error::Database(e)) if e.message().contains("no transaction is active") => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl Deref for WriteConn<'_> {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.0.conn
    }
}

impl DerefMut for WriteConn<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.0.conn
    }
}

/// A WAL-mode database file `t.db` in `dir`, for tests of the writer and its neighbours.
#[cfg(test)]
pub(super) fn wal_file(dir: &tempfile::TempDir) -> SqliteConnectOptions {
    use std::str::FromStr;
    SqliteConnectOptions::from_str(&format!("sqlite://{}/t.db", dir.path().display()))
        .unwrap()
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, SqliteConnection};

    use super::*;

    async fn writer(dir: &tempfile::TempDir) -> (Writer, SqliteConnectOptions) {
        let opts = wal_file(dir);
        let w = Writer::connect(&opts).await.unwrap();
        w.lock()
            .await
            .unwrap()
            .execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        (w, opts)
    }

    /// The rows another connection sees: only committed ones.
    async fn committed(opts: &SqliteConnectOptions) -> Vec<i64> {
        let mut c = SqliteConnection::connect_with(opts).await.unwrap();
        sqlx::query_scalar("SELECT n FROM t ORDER BY n")
            .fetch_all(&mut c)
            .await
            .unwrap()
    }

    fn insert<'a>(script: &mut Script<'a, sqlx::Sqlite>, n: i64) {
        script
            .statement()
            .push("INSERT INTO t (n) VALUES (")
            .push_bind(n)
            .push(")");
    }

    #[tokio::test]
    async fn a_script_commits_all_or_nothing_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let (w, opts) = writer(&dir).await;
        let mut script = Script::transaction();
        insert(&mut script, 1);
        insert(&mut script, 2);
        w.lock().await.unwrap().commit(script).await.unwrap();
        assert_eq!(committed(&opts).await, [1, 2]);

        // The second statement breaks the primary key: the first must not stay.
        let mut script = Script::transaction();
        insert(&mut script, 3);
        insert(&mut script, 1);
        let err = w.lock().await.unwrap().commit(script).await;
        assert!(err.is_err());
        assert_eq!(committed(&opts).await, [1, 2]);

        // No transaction is left open: a plain write after it is committed at once.
        sqlx::query("INSERT INTO t (n) VALUES (4)")
            .execute(&mut *w.lock().await.unwrap())
            .await
            .unwrap();
        assert_eq!(committed(&opts).await, [1, 2, 4]);
    }

    #[tokio::test]
    async fn a_script_left_open_is_rolled_back_before_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let (w, opts) = writer(&dir).await;
        {
            // What a script dropped between its BEGIN and its COMMIT leaves.
            let mut held = w.lock().await.unwrap();
            held.execute("BEGIN; INSERT INTO t (n) VALUES (1)")
                .await
                .unwrap();
            held.0.open = true;
        }
        sqlx::query("INSERT INTO t (n) VALUES (2)")
            .execute(&mut *w.lock().await.unwrap())
            .await
            .unwrap();
        assert_eq!(committed(&opts).await, [2]);

        // Marked open with no transaction (SQLite had rolled it back itself): no error.
        w.lock().await.unwrap().0.open = true;
        sqlx::query("INSERT INTO t (n) VALUES (3)")
            .execute(&mut *w.lock().await.unwrap())
            .await
            .unwrap();
        assert_eq!(committed(&opts).await, [2, 3]);
    }
}
