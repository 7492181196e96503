//! Events: reads and the retention sweep (ingest is in `ingest.rs`). Shared by both
//! backends (see `store::sql`).

use sqlx::Pool;

use super::query::{query, Sql};
use super::rows::Get;
use super::{finish_page, push_page, rows, Backend};
use crate::store::*;

pub async fn get<D: Backend>(pool: &Pool<D>, app_id: &str, id: &str) -> Result<Option<Event>> {
    let row = query::<D>("SELECT * FROM events WHERE id = $1 AND app_id = $2")
        .bind(id)
        .bind(app_id)
        .fetch_optional(pool)
        .await?;
    row.map(|r| rows::event(&r).map(|(_, e)| e)).transpose()
}

pub async fn list<D: Backend>(
    pool: &Pool<D>,
    app_id: &str,
    f: &EventFilter,
    page: PageReq,
) -> Result<Page<Event>> {
    let mut qb = Sql::<D>::new("SELECT * FROM events WHERE app_id = ");
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
pub async fn sweep<D: Backend>(w: &D::Writer, cutoff: i64, batch: i64) -> Result<u64> {
    let mut conn = D::lock_writer(w).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let ids: Vec<String> = query::<D>(
        "SELECT e.id FROM events e WHERE e.created_at < $1
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
         ORDER BY e.created_at LIMIT $2",
    )
    .bind(cutoff)
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| r.col(0))
    .collect::<sqlx::Result<_>>()?;
    for id in &ids {
        query::<D>(
            "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        query::<D>("DELETE FROM deliveries WHERE event_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        query::<D>("DELETE FROM events WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(ids.len() as u64)
}

pub async fn sweep_idempotency<D: Backend>(w: &D::Writer, cutoff: i64) -> Result<u64> {
    Ok(query::<D>("DELETE FROM idempotency WHERE created_at < $1")
        .bind(cutoff)
        .execute(&mut *D::lock_writer(w).await?)
        .await?)
}
