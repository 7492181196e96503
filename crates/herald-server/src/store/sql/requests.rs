//! Idempotency records of POSTs other than events (`api/idempotency.rs`): reserved when the
//! first request starts, given its answer when it succeeded, freed when it failed.

use super::query::query;
use super::rows::Get;
use super::Backend;
use crate::store::{RequestKey, Reserved, Result};

pub async fn reserve<D: Backend>(w: &D::Writer, r: &RequestKey<'_>) -> Result<Reserved> {
    let mut conn = D::lock_writer(w).await?;
    let taken = query::<D>(
        "INSERT INTO idempotent_requests (scope, key, request_hash, status, response, created_at)
         VALUES ($1, $2, $3, 0, '', $4) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(r.scope)
    .bind(r.key)
    .bind(r.hash)
    .bind(r.now)
    .execute(&mut *conn)
    .await?;
    if taken > 0 {
        return Ok(Reserved::Fresh);
    }
    let Some(row) = query::<D>(
        "SELECT request_hash, status, response, created_at FROM idempotent_requests
         WHERE scope = $1 AND key = $2",
    )
    .bind(r.scope)
    .bind(r.key)
    .fetch_optional(&mut *conn)
    .await?
    else {
        // Freed in between: the next try reserves it.
        return Ok(Reserved::InProgress);
    };
    let (hash, status, response, created_at): (String, i64, String, i64) =
        (row.col(0)?, row.col(1)?, row.col(2)?, row.col(3)?);
    let stale = created_at < r.expired_before || (status == 0 && created_at < r.abandoned_before);
    if stale {
        // Taken over only if no other request took it over first.
        let taken = query::<D>(
            "UPDATE idempotent_requests SET request_hash = $1, status = 0, response = '',
               created_at = $2 WHERE scope = $3 AND key = $4 AND created_at = $5",
        )
        .bind(r.hash)
        .bind(r.now)
        .bind(r.scope)
        .bind(r.key)
        .bind(created_at)
        .execute(&mut *conn)
        .await?;
        return Ok(if taken > 0 {
            Reserved::Fresh
        } else {
            Reserved::InProgress
        });
    }
    Ok(if hash != r.hash {
        Reserved::Conflict
    } else if status == 0 {
        Reserved::InProgress
    } else {
        Reserved::Replay {
            status: status as u16,
            body: response.into_bytes(),
        }
    })
}

pub async fn finish<D: Backend>(
    w: &D::Writer,
    scope: &str,
    key: &str,
    status: u16,
    body: &[u8],
) -> Result<()> {
    query::<D>(
        "UPDATE idempotent_requests SET status = $1, response = $2 WHERE scope = $3 AND key = $4",
    )
    .bind(status as i64)
    .bind(String::from_utf8_lossy(body).into_owned())
    .bind(scope)
    .bind(key)
    .execute(&mut *D::lock_writer(w).await?)
    .await?;
    Ok(())
}

pub async fn release<D: Backend>(w: &D::Writer, scope: &str, key: &str) -> Result<()> {
    query::<D>("DELETE FROM idempotent_requests WHERE scope = $1 AND key = $2 AND status = 0")
        .bind(scope)
        .bind(key)
        .execute(&mut *D::lock_writer(w).await?)
        .await?;
    Ok(())
}

pub async fn sweep<D: Backend>(w: &D::Writer, cutoff: i64) -> Result<u64> {
    Ok(
        query::<D>("DELETE FROM idempotent_requests WHERE created_at < $1")
            .bind(cutoff)
            .execute(&mut *D::lock_writer(w).await?)
            .await?,
    )
}
