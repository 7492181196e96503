//! `herald recovery-key`: an admin key created directly in the store (`security.md`), for
//! when no admin key is left. It needs access to the store, not to a server.

use std::path::PathBuf;

use herald_server::recovery::{create_recovery_key, StoreAt};

/// Which store to write the key into.
#[derive(clap::Args, Debug)]
pub struct RecoveryKeyArgs {
    /// Directory of the SQLite store (default ./herald-data).
    #[arg(long, conflicts_with = "database_url")]
    pub data_dir: Option<PathBuf>,
    /// postgres://… of the PostgreSQL store.
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Creates the key and prints its secret on stdout (once: only its hash is stored).
pub async fn run(args: RecoveryKeyArgs) -> Result<(), String> {
    let dir = args
        .data_dir
        .unwrap_or_else(|| PathBuf::from("./herald-data"));
    let at = match &args.database_url {
        Some(url) => StoreAt::Postgres(url),
        None => StoreAt::Sqlite(&dir),
    };
    let secret = create_recovery_key(at)
        .await
        .map_err(|e| format!("creating the recovery key: {e}"))?;
    eprintln!("herald: created an admin key (shown once; revoke it when you are back in)");
    println!("{secret}");
    Ok(())
}
