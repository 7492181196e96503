//! Row → model mapping for SQLite rows (see `store::rows`).

use sqlx::sqlite::SqliteRow;

crate::store::rows::row_mappers!(SqliteRow);
