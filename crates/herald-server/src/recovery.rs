//! `herald recovery-key` (`security.md`): an admin key written straight into the store,
//! whether a server runs on it or not — the way back in when no admin key is left.

use std::path::Path;

use crate::store::StoreError;
use crate::{api, store};

/// Where the store is.
#[derive(Clone, Copy)]
pub enum StoreAt<'a> {
    /// The SQLite store in this data directory.
    Sqlite(&'a Path),
    /// A PostgreSQL database (`postgres://…`).
    Postgres(&'a str),
}

/// Creates an admin key in the store at `at`; returns its secret (shown once, never kept).
/// A server running on that store accepts it at once: API keys are read from the store on a
/// miss, never remembered as unknown.
pub async fn create_recovery_key(at: StoreAt<'_>) -> Result<String, StoreError> {
    let secret = api::keys::generate_key();
    let key = api::keys::admin_key("recovery admin", &secret);
    match at {
        StoreAt::Sqlite(dir) => store::sqlite::insert_key_beside_server(dir, &key).await?,
        StoreAt::Postgres(url) => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(StoreError::Unavailable(
                    "database_url must start with postgres:// or postgresql://".into(),
                ));
            }
            store::postgres::insert_key_beside_server(url, &key).await?;
        }
    }
    Ok(secret)
}
