//! Queries the shared SQL builds for either backend: the few things of sqlx it needs, in a
//! form that compiles once for any [`Backend`].
//!
//! sqlx's own `bind`, `push_bind`, `execute` and `try_get` need bounds such as
//! `i64: Encode<'q, DB>` that a generic `DB` cannot carry in one place (Rust does not imply a
//! trait's where-clauses at its users). Here a value is bound if *both* backends encode it
//! ([`Value`]), a column read if both decode it ([`Column`]): bounds on concrete types, which
//! every use site can prove. The backend does the binding and running with sqlx itself
//! (`sqlite/backend.rs`, `postgres/backend.rs`); the SQL text and argument order are exactly
//! what sqlx's `query` and `QueryBuilder` would send.

use std::fmt::{Display, Write};

use sqlx::error::BoxDynError;
use sqlx::{Arguments, ColumnIndex, Database, Decode, Encode, Pool, Postgres, Sqlite, Type};

use super::Backend;

/// A value the shared queries bind: one both backends encode.
pub trait Value<'q>:
    Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres> + Send + 'q
{
}

impl<'q, T> Value<'q> for T where
    T: Encode<'q, Sqlite> + Type<Sqlite> + Encode<'q, Postgres> + Type<Postgres> + Send + 'q
{
}

/// A column type the shared queries read: one both backends decode.
pub trait Column:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

impl<T> Column for T where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

/// A way to name a column (its position or its name) on both backends.
pub trait Index:
    ColumnIndex<sqlx::sqlite::SqliteRow> + ColumnIndex<sqlx::postgres::PgRow> + std::fmt::Debug
{
}

impl<T> Index for T where
    T: ColumnIndex<sqlx::sqlite::SqliteRow> + ColumnIndex<sqlx::postgres::PgRow> + std::fmt::Debug
{
}

/// Where a query runs: the pool (any connection) or one connection (a transaction's, or the
/// writer's).
pub enum On<'e, D: Database> {
    Pool(&'e Pool<D>),
    Conn(&'e mut D::Connection),
}

/// What a query can run on (see [`On`]).
pub trait Target<'e, D: Database> {
    fn on(self) -> On<'e, D>;
}

impl<'e, D: Database> Target<'e, D> for &'e Pool<D> {
    fn on(self) -> On<'e, D> {
        On::Pool(self)
    }
}

impl<'e, D: Database> Target<'e, D> for &'e mut <D as Database>::Connection {
    fn on(self) -> On<'e, D> {
        On::Conn(self)
    }
}

/// A query and its arguments, as `sqlx::query(sql).bind(…)` builds them.
pub struct Query<'q, D: Database> {
    pub(crate) sql: std::borrow::Cow<'q, str>,
    pub(crate) args: D::Arguments<'q>,
    /// A bind that failed to encode, reported when the query runs (as sqlx does).
    pub(crate) failed: Option<BoxDynError>,
    /// Keep the statement prepared (sqlx's `persistent`, true by default).
    pub(crate) persistent: bool,
}

/// A query whose SQL is `sql`, with `$1`… placeholders.
pub fn query<D: Backend>(sql: &str) -> Query<'_, D> {
    Query {
        sql: sql.into(),
        args: Default::default(),
        failed: None,
        persistent: true,
    }
}

impl<'q, D: Backend> Query<'q, D> {
    /// Binds the next placeholder.
    pub fn bind<T: Value<'q>>(mut self, value: T) -> Self {
        if let Err(e) = D::add(&mut self.args, value) {
            self.failed.get_or_insert(e);
        }
        self
    }

    pub fn persistent(mut self, keep: bool) -> Self {
        self.persistent = keep;
        self
    }

    /// Runs it; returns how many rows it changed.
    pub async fn execute<'e>(self, on: impl Target<'e, D>) -> sqlx::Result<u64> {
        D::execute(self, on.on()).await
    }

    pub async fn fetch_all<'e>(self, on: impl Target<'e, D>) -> sqlx::Result<Vec<D::Row>> {
        D::fetch_all(self, on.on()).await
    }

    pub async fn fetch_optional<'e>(self, on: impl Target<'e, D>) -> sqlx::Result<Option<D::Row>> {
        D::fetch_optional(self, on.on()).await
    }

    pub async fn fetch_one<'e>(self, on: impl Target<'e, D>) -> sqlx::Result<D::Row> {
        self.fetch_optional(on)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// The first column of the one row it returns (`sqlx::query_scalar(…).fetch_one`).
    pub async fn scalar<'e, T: Column>(self, on: impl Target<'e, D>) -> sqlx::Result<T> {
        D::get(&self.fetch_one(on).await?, 0)
    }
}

/// A query built piece by piece, as with sqlx's `QueryBuilder`: [`push`](Sql::push) adds SQL,
/// [`push_bind`](Sql::push_bind) a placeholder and its argument.
pub struct Sql<'a, D: Database> {
    text: String,
    args: D::Arguments<'a>,
    failed: Option<BoxDynError>,
}

impl<'a, D: Backend> Sql<'a, D> {
    pub fn new(init: impl Into<String>) -> Self {
        Sql {
            text: init.into(),
            args: Default::default(),
            failed: None,
        }
    }

    pub fn push(&mut self, sql: impl Display) -> &mut Self {
        write!(self.text, "{sql}").expect("writing to a String cannot fail");
        self
    }

    pub fn push_bind<T: Value<'a>>(&mut self, value: T) -> &mut Self {
        if let Err(e) = D::add(&mut self.args, value) {
            self.failed.get_or_insert(e);
        }
        self.args
            .format_placeholder(&mut self.text)
            .expect("writing to a String cannot fail");
        self
    }

    /// `VALUES (…), (…)`: one parenthesised tuple per item, filled by `tuple`.
    pub fn push_values<I: IntoIterator>(
        &mut self,
        items: I,
        mut tuple: impl FnMut(Separated<'_, 'a, D>, I::Item),
    ) -> &mut Self {
        self.push("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push("(");
            tuple(self.separated(", "), item);
            self.push(")");
        }
        self
    }

    /// Values (or SQL) separated by `separator`, as sqlx's `QueryBuilder::separated`.
    pub fn separated(&mut self, separator: &'static str) -> Separated<'_, 'a, D> {
        Separated {
            sql: self,
            separator,
            first: true,
        }
    }

    /// Its SQL so far.
    pub fn sql(&self) -> &str {
        &self.text
    }

    /// The finished query.
    pub fn build(self) -> Query<'a, D> {
        Query {
            sql: self.text.into(),
            args: self.args,
            failed: self.failed,
            persistent: true,
        }
    }
}

/// Pieces of SQL or values with a separator between them ([`Sql::separated`]).
pub struct Separated<'s, 'a, D: Database> {
    sql: &'s mut Sql<'a, D>,
    separator: &'static str,
    first: bool,
}

impl<'a, D: Backend> Separated<'_, 'a, D> {
    fn separate(&mut self) {
        if !self.first {
            self.sql.push(self.separator);
        }
        self.first = false;
    }

    /// The next value, after a separator.
    pub fn push_bind<T: Value<'a>>(&mut self, value: T) -> &mut Self {
        self.separate();
        self.sql.push_bind(value);
        self
    }

    /// The next piece of SQL, after a separator.
    pub fn push(&mut self, sql: impl Display) -> &mut Self {
        self.separate();
        self.sql.push(sql);
        self
    }

    /// SQL with no separator before it.
    pub fn push_unseparated(&mut self, sql: impl Display) -> &mut Self {
        self.sql.push(sql);
        self
    }

    /// A value with no separator before it.
    pub fn push_bind_unseparated<T: Value<'a>>(&mut self, value: T) -> &mut Self {
        self.sql.push_bind(value);
        self
    }
}

/// The sqlx calls of a backend's [`Backend`] implementation (`add`, `get`, `execute`,
/// `fetch_all`, `fetch_optional`) for its row type `$row`: the same code for each backend,
/// compiled where the database type is concrete.
macro_rules! sqlx_calls {
    ($row:ty) => {
        fn add<'q, T: $crate::store::sql::query::Value<'q>>(
            args: &mut <Self as sqlx::Database>::Arguments<'q>,
            value: T,
        ) -> std::result::Result<(), sqlx::error::BoxDynError> {
            sqlx::Arguments::add(args, value)
        }

        fn get<T: $crate::store::sql::query::Column, I: $crate::store::sql::query::Index>(
            row: &$row,
            index: I,
        ) -> sqlx::Result<T> {
            sqlx::Row::try_get(row, index)
        }

        async fn execute(
            q: $crate::store::sql::query::Query<'_, Self>,
            on: $crate::store::sql::query::On<'_, Self>,
        ) -> sqlx::Result<u64> {
            $crate::store::sql::query::run!(q, on, execute).map(|r| r.rows_affected())
        }

        async fn fetch_all(
            q: $crate::store::sql::query::Query<'_, Self>,
            on: $crate::store::sql::query::On<'_, Self>,
        ) -> sqlx::Result<Vec<$row>> {
            $crate::store::sql::query::run!(q, on, fetch_all)
        }

        async fn fetch_optional(
            q: $crate::store::sql::query::Query<'_, Self>,
            on: $crate::store::sql::query::On<'_, Self>,
        ) -> sqlx::Result<Option<$row>> {
            $crate::store::sql::query::run!(q, on, fetch_optional)
        }
    };
}

/// Runs `$q` (a [`Query`]) with sqlx's `$method` on its target.
macro_rules! run {
    ($q:ident, $on:ident, $method:ident) => {{
        if let Some(e) = $q.failed {
            return Err(sqlx::Error::Encode(e));
        }
        let query = sqlx::query_with(&$q.sql, $q.args).persistent($q.persistent);
        match $on {
            $crate::store::sql::query::On::Pool(pool) => query.$method(pool).await,
            $crate::store::sql::query::On::Conn(conn) => query.$method(conn).await,
        }
    }};
}

pub(crate) use {run, sqlx_calls};
