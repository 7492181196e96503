//! `herald rotate-encryption-key` (`security.md`): every stored secret resealed under a new
//! data key, in place, on a stopped store.

use secrecy::{ExposeSecret, SecretString};

use crate::recovery::StoreAt;
use crate::store::data_key::DataKey;
use crate::store::{self, StoreError};

/// Reseals every secret of the store at `at` from `old` to `new` (both base64, 32 bytes);
/// returns how many endpoints it resealed. Refused while a server runs on the store, or
/// when `old` is not the store's key.
pub async fn rotate_encryption_key(
    at: StoreAt<'_>,
    old: &SecretString,
    new: &SecretString,
) -> Result<u64, StoreError> {
    let parse = |name: &str, text: &SecretString| {
        DataKey::from_base64(text.expose_secret())
            .map_err(|e| StoreError::Unavailable(format!("{name}: {e}")))
    };
    let (old_key, new_key) = (parse("--old", old)?, parse("--new", new)?);
    match at {
        StoreAt::Sqlite(dir) => store::sqlite::rotate_key(dir, &old_key, &new_key, new).await,
        StoreAt::Postgres(url) => store::postgres::rotate_key(url, &old_key, &new_key, new).await,
    }
}
