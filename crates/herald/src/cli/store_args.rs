//! The store a local command opens directly (`recovery-key`, `rotate-encryption-key`): a
//! SQLite data directory or a PostgreSQL URL.

use std::path::PathBuf;

use herald_server::recovery::StoreAt;

#[derive(clap::Args, Debug)]
pub struct StoreArgs {
    /// Directory of the SQLite store.
    #[arg(long, default_value = "./herald-data", conflicts_with = "database_url")]
    pub data_dir: PathBuf,
    /// postgres://… of the PostgreSQL store (instead of --data-dir).
    #[arg(long)]
    pub database_url: Option<String>,
}

impl StoreArgs {
    pub fn at(&self) -> StoreAt<'_> {
        match &self.database_url {
            Some(url) => StoreAt::Postgres(url),
            None => StoreAt::Sqlite(&self.data_dir),
        }
    }
}
