//! API key rows.

use sqlx::Pool;

use super::query::{query, Sql};
use super::{finish_page, push_page, rows, Backend};
use crate::store::*;

pub async fn count<D: Backend>(pool: &Pool<D>) -> Result<i64> {
    Ok(query::<D>("SELECT COUNT(*) FROM api_keys")
        .scalar(pool)
        .await?)
}

pub async fn insert<D: Backend>(w: &D::Writer, k: &ApiKey) -> Result<()> {
    query::<D>(
        "INSERT INTO api_keys (id, name, scope, app_id, key_hash, read_only, expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&k.id)
    .bind(&k.name)
    .bind(k.scope.as_str())
    .bind(&k.app_id)
    .bind(&k.key_hash)
    .bind(k.read_only)
    .bind(k.expires_at)
    .bind(k.created_at)
    .execute(&mut *D::lock_writer(w).await?)
    .await
    .map_err(|e| super::conflict_on_unique(e, "key already exists"))?;
    Ok(())
}

pub async fn by_hash<D: Backend>(pool: &Pool<D>, hash: &str) -> Result<Option<ApiKey>> {
    let row = query::<D>("SELECT * FROM api_keys WHERE key_hash = $1")
        .bind(hash)
        .fetch_optional(pool)
        .await?;
    row.map(|r| rows::key(&r).map(|(_, k)| k)).transpose()
}

pub async fn list<D: Backend>(pool: &Pool<D>, page: PageReq) -> Result<Page<ApiKey>> {
    // Portal sessions are keys internally but not listed as such.
    let mut qb = Sql::<D>::new("SELECT * FROM api_keys WHERE scope != 'portal'");
    push_page(&mut qb, &page);
    let r = qb.build().fetch_all(pool).await?;
    Ok(finish_page(rows::all(r, rows::key)?, page.limit))
}

/// Deletes a key, unless it is the last admin key that no application scopes: the operator
/// could never get back in (`security.md`). The admin keys are locked first (`LOCK_ROWS`),
/// so two revocations at once cannot each see the other's key and both go through.
pub async fn delete<D: Backend>(w: &D::Writer, id: &str) -> Result<()> {
    let mut conn = D::lock_writer(w).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    query::<D>(&format!(
        "SELECT id FROM api_keys WHERE scope = 'admin' AND app_id IS NULL{}",
        D::LOCK_ROWS
    ))
    .fetch_all(&mut *tx)
    .await?;
    let n = query::<D>(
        "DELETE FROM api_keys WHERE id = $1 AND NOT (
           scope = 'admin' AND app_id IS NULL
           AND (SELECT COUNT(*) FROM api_keys WHERE scope = 'admin' AND app_id IS NULL) <= 1)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if n > 0 {
        tx.commit().await?;
        return Ok(());
    }
    let exists: i64 = query::<D>("SELECT COUNT(*) FROM api_keys WHERE id = $1")
        .bind(id)
        .scalar(&mut *tx)
        .await?;
    Err(if exists > 0 {
        StoreError::Conflict {
            code: "last_admin_key",
            message: "this is the last admin key: create another admin key before revoking it"
                .into(),
        }
    } else {
        StoreError::NotFound("key")
    })
}
