//! The data key's records in the store (`settings`), and sealing or resealing every stored
//! secret (`store::data_key`): at start, secrets an earlier release stored in clear; for
//! `herald rotate-encryption-key`, everything under a new key.

use secrecy::ExposeSecret;

use super::query::query;
use super::rows::Get;
use super::Backend;
use crate::store::data_key::{self, DataKey};
use crate::store::{Result, StoreError};

/// The `settings` row of the data key's check value.
const KEY_CHECK: &str = "key_check";
/// The `settings` row of a data key kept in the database itself (PostgreSQL without
/// `encryption_key`).
const STORED_KEY: &str = "data_key";

async fn setting<D: Backend>(conn: &mut D::Connection, name: &str) -> Result<Option<String>> {
    let row = query::<D>("SELECT value FROM settings WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|r| r.col(0)).transpose()?)
}

/// Writes `value` unless the row exists; returns the row's value either way (a node starting
/// beside another keeps the first one written).
async fn setting_or_insert<D: Backend>(
    conn: &mut D::Connection,
    name: &str,
    value: &str,
) -> Result<String> {
    query::<D>("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(value)
        .execute(&mut *conn)
        .await?;
    setting::<D>(conn, name)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("settings row {name} vanished")))
}

/// The key kept in the database, made on first use.
pub async fn stored_key<D: Backend>(w: &D::Writer) -> Result<DataKey> {
    let mut conn = D::lock_writer(w).await?;
    let (_, fresh) = DataKey::generate();
    let text = setting_or_insert::<D>(&mut conn, STORED_KEY, fresh.expose_secret()).await?;
    DataKey::from_base64(&text)
        .map_err(|e| StoreError::Corrupt(format!("settings row {STORED_KEY}: {e}")))
}

/// Makes sure `key` is the store's: records its check value in a store that has none, or
/// refuses a key that does not open the recorded one (`source` names where the key came
/// from, for the message).
pub async fn check_key<D: Backend>(w: &D::Writer, key: &DataKey, source: &str) -> Result<()> {
    let mut conn = D::lock_writer(w).await?;
    let check = setting_or_insert::<D>(&mut conn, KEY_CHECK, &key.check_value()).await?;
    if key.matches(&check) {
        Ok(())
    } else {
        Err(data_key::mismatch(source))
    }
}

/// Seals every endpoint secret stored in clear (by a release before encryption at rest);
/// returns how many endpoints had one. Each row is rewritten only if it is still as read,
/// so nodes starting together do not seal a value twice.
pub async fn seal_clear<D: Backend>(w: &D::Writer, key: &DataKey) -> Result<u64> {
    reseal::<D>(w, None, key, true).await
}

/// Reseals every stored secret (`from` opens them, `to` seals them) and the check value,
/// in one transaction; returns how many endpoints there were. `from` must be the store's
/// key (checked first). A key kept in the database becomes `to` (`to_text`, its base64).
pub async fn rotate<D: Backend>(
    w: &D::Writer,
    from: &DataKey,
    to: &DataKey,
    to_text: &str,
) -> Result<u64> {
    check_key::<D>(w, from, "--old").await?;
    reseal::<D>(w, Some((from, to_text)), to, false).await
}

async fn reseal<D: Backend>(
    w: &D::Writer,
    from: Option<(&DataKey, &str)>,
    to: &DataKey,
    only_clear: bool,
) -> Result<u64> {
    let mut conn = D::lock_writer(w).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // At start only the rows with a value in clear are read (none, after the first start).
    let clear = format!(
        " WHERE secret NOT LIKE '{p}%' OR previous_secrets NOT LIKE '{p}%'",
        p = data_key::PREFIX
    );
    let rows = query::<D>(&format!(
        "SELECT id, secret, previous_secrets FROM endpoints{}",
        if only_clear { clear.as_str() } else { "" }
    ))
    .fetch_all(&mut *tx)
    .await?;
    let mut changed = 0;
    for row in rows {
        let (id, secret, previous): (String, String, String) =
            (row.col(0)?, row.col(1)?, row.col(2)?);
        // Values in clear open with any key; sealed ones only with `from`.
        let opener = from.map_or(to, |(key, _)| key);
        let plain_secret = opener.open(&secret)?;
        let plain_previous = opener.open(&previous)?;
        let n = query::<D>(
            "UPDATE endpoints SET secret = $1, previous_secrets = $2
             WHERE id = $3 AND secret = $4 AND previous_secrets = $5",
        )
        .bind(to.seal_secret(&plain_secret))
        .bind(to.seal_secret(&plain_previous))
        .bind(&id)
        .bind(&secret)
        .bind(&previous)
        .execute(&mut *tx)
        .await?;
        changed += n;
    }
    if let Some((_, to_text)) = from {
        query::<D>("UPDATE settings SET value = $1 WHERE name = $2")
            .bind(to.check_value())
            .bind(KEY_CHECK)
            .execute(&mut *tx)
            .await?;
        // A key kept in the database is replaced by the new one.
        query::<D>("UPDATE settings SET value = $1 WHERE name = $2")
            .bind(to_text)
            .bind(STORED_KEY)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(changed)
}
