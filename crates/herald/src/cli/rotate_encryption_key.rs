//! `herald rotate-encryption-key`: every stored secret resealed under a new data key, on a
//! stopped store (`security.md`).

use std::path::PathBuf;

use herald_server::recovery::StoreAt;
use herald_server::rekey::rotate_encryption_key;
use secrecy::SecretString;

/// The two keys and the store.
#[derive(clap::Args)]
pub struct RotateEncryptionKeyArgs {
    /// The store's current data key (base64, 32 bytes): its `encryption_key`, or the content
    /// of `<data_dir>/encryption.key`.
    #[arg(long)]
    pub old: String,
    /// The new data key (base64, 32 bytes; e.g. `openssl rand -base64 32`).
    #[arg(long)]
    pub new: String,
    /// Directory of the SQLite store (default ./herald-data).
    #[arg(long, conflicts_with = "database_url")]
    pub data_dir: Option<PathBuf>,
    /// postgres://… of the PostgreSQL store.
    #[arg(long)]
    pub database_url: Option<String>,
}

pub async fn run(args: RotateEncryptionKeyArgs) -> Result<(), String> {
    let dir = args
        .data_dir
        .unwrap_or_else(|| PathBuf::from("./herald-data"));
    let at = match &args.database_url {
        Some(url) => StoreAt::Postgres(url),
        None => StoreAt::Sqlite(&dir),
    };
    let (old, new) = (SecretString::from(args.old), SecretString::from(args.new));
    let n = rotate_encryption_key(at, &old, &new)
        .await
        .map_err(|e| format!("rotating the encryption key: {e}"))?;
    println!("resealed the secrets of {n} endpoints under the new key");
    eprintln!(
        "herald: start every server with the new key (encryption_key / HERALD_ENCRYPTION_KEY; a key file was rewritten in place)"
    );
    Ok(())
}
