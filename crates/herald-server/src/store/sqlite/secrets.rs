//! SQLite's data key (`security.md`, "Secrets at rest"): `encryption_key` when set, otherwise
//! a key file beside the database, so that a copy of the database file alone reveals no
//! secret; and the first start over a store whose secrets an earlier release kept in clear.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use sqlx::Sqlite;

use super::writer::Writer;
use crate::store::data_key::DataKey;
use crate::store::sql::secrets;
use crate::store::{Result, StoreError};

/// The key file of the store in `dir`.
pub fn key_file(dir: &Path) -> PathBuf {
    dir.join("encryption.key")
}

/// The data key: `configured` (`encryption_key`), or the key file's, made (mode 0600) on
/// first start; and where it came from, for messages.
pub fn data_key(dir: &Path, configured: Option<&SecretString>) -> Result<(DataKey, String)> {
    if let Some(text) = configured {
        let key = DataKey::from_base64(text.expose_secret())
            .map_err(|e| StoreError::Unavailable(format!("encryption_key: {e}")))?;
        return Ok((key, "encryption_key".into()));
    }
    let path = key_file(dir);
    let source = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = DataKey::from_base64(&text)
                .map_err(|e| StoreError::Unavailable(format!("{source}: {e}")))?;
            Ok((key, source))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (key, text) = DataKey::generate();
            write_key_file(&path, &text)?;
            tracing::info!(file = %source, "created the data key that stored secrets are encrypted with: keep it with the database (a copy of the database without it reveals no secret)");
            Ok((key, source))
        }
        Err(e) => Err(StoreError::Unavailable(format!("reading {source}: {e}"))),
    }
}

/// Writes a key file readable by its owner only; an existing one is replaced.
pub fn write_key_file(path: &Path, text: &SecretString) -> Result<()> {
    let fail =
        |e: std::io::Error| StoreError::Unavailable(format!("writing {}: {e}", path.display()));
    let fresh = path.with_extension("key.new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&fresh)
        .map_err(fail)?;
    file.write_all(text.expose_secret().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(fail)?;
    std::fs::rename(&fresh, path).map_err(fail)
}

/// Checks the key against the store's, then seals the secrets an earlier release stored in
/// clear. When there were some, the file is rebuilt (`VACUUM`) and the WAL emptied, so that
/// their old bytes are in no free page and no WAL frame of a copy.
pub async fn prepare(write: &Writer, key: &DataKey, source: &str) -> Result<()> {
    secrets::check_key::<Sqlite>(write, key, source).await?;
    let sealed = secrets::seal_clear::<Sqlite>(write, key).await?;
    if sealed > 0 {
        tracing::info!(
            endpoints = sealed,
            "encrypted the secrets stored in clear; rewriting the database file"
        );
        rewrite_file(write).await?;
    }
    Ok(())
}

/// Rebuilds the database file (`VACUUM`) and empties the WAL, so that bytes of rows since
/// rewritten are in no free page and no WAL frame.
pub async fn rewrite_file(write: &Writer) -> Result<()> {
    let mut conn = write.lock().await?;
    sqlx::query("VACUUM").execute(&mut *conn).await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut *conn)
        .await?;
    Ok(())
}
