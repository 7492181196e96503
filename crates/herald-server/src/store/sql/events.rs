//! Events: reads and the retention sweep (ingest is in `ingest.rs`). Shared by both
//! backends (see `store::sql`).

use sqlx::QueryBuilder;

use super::{finish_page, push_page, rows, Pool, Writer};
use crate::store::*;

pub async fn get(pool: &Pool, app_id: &str, id: &str) -> Result<Option<Event>> {
    let row = sqlx::query("SELECT * FROM events WHERE id = $1 AND app_id = $2")
        .bind(id)
        .bind(app_id)
        .fetch_optional(pool)
        .await?;
    row.map(|r| rows::event(&r).map(|(_, e)| e)).transpose()
}

pub async fn list(
    pool: &Pool,
    app_id: &str,
    f: &EventFilter,
    page: PageReq,
) -> Result<Page<Event>> {
    let mut qb = QueryBuilder::new("SELECT * FROM events WHERE app_id = ");
    qb.push_bind(app_id.to_string());
    if let Some(t) = &f.event_type {
        qb.push(" AND type = ").push_bind(t.clone());
    }
    if let Some(a) = f.after {
        qb.push(" AND created_at > ").push_bind(a);
    }
    if let Some(b) = f.before {
        qb.push(" AND created_at < ").push_bind(b);
    }
    push_page(&mut qb, &page);
    let r = qb.build().fetch_all(pool).await?;
    Ok(finish_page(rows::all(r, rows::event)?, page.limit))
}

/// Deletes a batch of expired events none of whose deliveries is pending.
pub async fn sweep(w: &Writer, cutoff: i64, batch: i64) -> Result<u64> {
    let mut conn = super::lock_writer(w).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT e.id FROM events e WHERE e.created_at < $1
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
         ORDER BY e.created_at LIMIT $2",
    )
    .bind(cutoff)
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    for id in &ids {
        sqlx::query(
            "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM deliveries WHERE event_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM events WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(ids.len() as u64)
}

pub async fn sweep_idempotency(w: &Writer, cutoff: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM idempotency WHERE created_at < $1")
        .bind(cutoff)
        .execute(&mut *super::lock_writer(w).await?)
        .await?
        .rows_affected())
}
