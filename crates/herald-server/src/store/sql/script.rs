//! The statements of one transaction, sent in as few round trips as the backend allows.
//!
//! Each statement sent to a SQLite connection is a round trip to that connection's thread,
//! and on a server that is not busy each one wakes a sleeping thread; SQLite runs several
//! statements of one query in turn (their `?` arguments taken in order), so there the whole
//! script is one round trip. PostgreSQL prepares one statement per query: one each.
//!
//! A script built with [`Script::transaction`] is committed as a transaction of its own; on
//! SQLite its `BEGIN` and `COMMIT` travel in the same query (see `sqlite/writer.rs`).

use super::query::{On, Sql};
use super::Backend;
use crate::store::Result;

pub struct Script<'a, D: Backend> {
    pub(crate) parts: Vec<Sql<'a, D>>,
    statements: usize,
    /// Built to be committed on its own: on SQLite the first statement is `BEGIN`.
    pub(crate) transaction: bool,
    /// Its SQL is the same every time, whatever its arguments: worth keeping prepared.
    pub(crate) fixed: bool,
}

impl<D: Backend> Default for Script<'_, D> {
    fn default() -> Self {
        Script {
            parts: Vec::new(),
            statements: 0,
            transaction: false,
            fixed: false,
        }
    }
}

impl<'a, D: Backend> Script<'a, D> {
    /// A script to be committed as one transaction of its own (the backend's
    /// `commit_script`).
    pub fn transaction() -> Self {
        Script {
            transaction: true,
            ..Script::default()
        }
    }

    /// Marks the script's SQL as the same at every call (only its arguments change), so
    /// that its prepared form is kept however long it is.
    pub fn fixed(mut self) -> Self {
        self.fixed = true;
        self
    }

    /// Starts the next statement; push its SQL and arguments to the builder returned (with
    /// `push_bind`, never a literal `$1`, which would not follow the statements before it).
    pub fn statement(&mut self) -> &mut Sql<'a, D> {
        self.statements += 1;
        if D::MULTI_STATEMENT && !self.parts.is_empty() {
            let last = self.parts.len() - 1;
            self.parts[last].push("; ");
        } else if D::MULTI_STATEMENT && self.transaction {
            self.parts.push(Sql::new("BEGIN; "));
        } else {
            self.parts.push(Sql::new(""));
        }
        let last = self.parts.len() - 1;
        &mut self.parts[last]
    }

    /// Runs every statement, in order.
    pub async fn run(self, conn: &mut D::Connection) -> Result<()> {
        self.fetch(conn).await.map(drop)
    }

    /// Runs every statement, in order; returns the rows they returned. Only `RETURNING`
    /// clauses may return rows in a script (a `SELECT`'s would mix with them).
    pub async fn fetch(self, conn: &mut D::Connection) -> Result<Vec<D::Row>> {
        let merged = D::MULTI_STATEMENT && self.statements > 1;
        let mut rows = Vec::new();
        for q in self.parts {
            // A merged script's text changes with every statement's row count, so caching its
            // prepared form would mostly keep programs that never run again.
            let q = q.build().persistent(!merged);
            rows.extend(D::fetch_all(q, On::Conn(&mut *conn)).await?);
        }
        Ok(rows)
    }
}
