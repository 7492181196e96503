//! API key rows.

use sqlx::QueryBuilder;

use super::{finish_page, push_page, rows, Pool, Writer};
use crate::store::*;

pub async fn count(pool: &Pool) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
        .fetch_one(pool)
        .await?)
}

pub async fn insert(w: &Writer, k: &ApiKey) -> Result<()> {
    sqlx::query(
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
    .execute(&mut *super::lock_writer(w).await?)
    .await
    .map_err(|e| super::conflict_on_unique(e, "key already exists"))?;
    Ok(())
}

pub async fn by_hash(pool: &Pool, hash: &str) -> Result<Option<ApiKey>> {
    let row = sqlx::query("SELECT * FROM api_keys WHERE key_hash = $1")
        .bind(hash)
        .fetch_optional(pool)
        .await?;
    row.map(|r| rows::key(&r).map(|(_, k)| k)).transpose()
}

pub async fn list(pool: &Pool, page: PageReq) -> Result<Page<ApiKey>> {
    // Portal sessions are keys internally but not listed as such.
    let mut qb = QueryBuilder::new("SELECT * FROM api_keys WHERE scope != 'portal'");
    push_page(&mut qb, &page);
    let r = qb.build().fetch_all(pool).await?;
    Ok(finish_page(rows::all(r, rows::key)?, page.limit))
}

/// Deletes a key, unless it is the last admin key that no application scopes: the operator
/// could never get back in (`security.md`). One statement, so the check and the delete see
/// the same keys.
pub async fn delete(w: &Writer, id: &str) -> Result<()> {
    let mut conn = super::lock_writer(w).await?;
    let n = sqlx::query(
        "DELETE FROM api_keys WHERE id = $1 AND NOT (
           scope = 'admin' AND app_id IS NULL
           AND (SELECT COUNT(*) FROM api_keys WHERE scope = 'admin' AND app_id IS NULL) <= 1)",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n > 0 {
        return Ok(());
    }
    let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
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
