//! Row → model mapping for PostgreSQL rows (see `store::rows`).

use sqlx::postgres::PgRow;

crate::store::rows::row_mappers!(PgRow);
