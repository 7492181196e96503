//! Delivery and attempt reads, manual retry and endpoint recovery.

use sqlx::Pool;

use super::query::{query, Sql};
use super::rows::Get;
use super::{finish_page, push_page, rows, Backend};
use crate::store::*;

pub async fn get<D: Backend>(pool: &Pool<D>, app_id: &str, id: &str) -> Result<Option<Delivery>> {
    let row = query::<D>("SELECT * FROM deliveries WHERE id = $1 AND app_id = $2")
        .bind(id)
        .bind(app_id)
        .fetch_optional(pool)
        .await?;
    row.map(|r| rows::delivery(&r).map(|(_, d)| d)).transpose()
}

pub async fn of_event<D: Backend>(pool: &Pool<D>, event_id: &str) -> Result<Vec<Delivery>> {
    let r = query::<D>("SELECT * FROM deliveries WHERE event_id = $1 ORDER BY seq")
        .bind(event_id)
        .fetch_all(pool)
        .await?;
    Ok(rows::all(r, rows::delivery)?
        .into_iter()
        .map(|(_, d)| d)
        .collect())
}

pub async fn list<D: Backend>(
    pool: &Pool<D>,
    app_id: &str,
    f: &DeliveryFilter,
    page: PageReq,
) -> Result<Page<Delivery>> {
    let mut qb = Sql::<D>::new("SELECT * FROM deliveries WHERE app_id = ");
    qb.push_bind(app_id.to_string());
    if let Some(v) = &f.endpoint_id {
        qb.push(" AND endpoint_id = ").push_bind(v.clone());
    }
    if let Some(v) = &f.event_id {
        qb.push(" AND event_id = ").push_bind(v.clone());
    }
    if let Some(v) = &f.status {
        qb.push(" AND status = ").push_bind(v.as_str());
    }
    push_page(&mut qb, &page);
    let r = qb.build().fetch_all(pool).await?;
    Ok(finish_page(rows::all(r, rows::delivery)?, page.limit))
}

pub async fn attempts<D: Backend>(
    pool: &Pool<D>,
    delivery_id: &str,
    page: PageReq,
) -> Result<Page<Attempt>> {
    let mut qb = Sql::<D>::new("SELECT * FROM attempts WHERE delivery_id = ");
    qb.push_bind(delivery_id.to_string());
    push_page(&mut qb, &page);
    let r = qb.build().fetch_all(pool).await?;
    Ok(finish_page(rows::all(r, rows::attempt)?, page.limit))
}

pub async fn retry<D: Backend>(w: &D::Writer, id: &str, now: i64) -> Result<()> {
    let mut conn = D::lock_writer(w).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let endpoint: Option<String> = query::<D>(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = $1, lease_until = NULL WHERE id = $2
         RETURNING endpoint_id",
    )
    .bind(now)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| r.col(0))
    .transpose()?;
    if let Some(ep) = endpoint {
        super::due_hints::refresh::<D>(&mut tx, &ep).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn recover<D: Backend>(
    w: &D::Writer,
    endpoint_id: &str,
    since: i64,
    now: i64,
) -> Result<u64> {
    let mut conn = D::lock_writer(w).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let n = query::<D>(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = $1, lease_until = NULL
         WHERE endpoint_id = $2 AND status IN ('failed', 'cancelled') AND created_at >= $3",
    )
    .bind(now)
    .bind(endpoint_id)
    .bind(since)
    .execute(&mut *tx)
    .await?;
    super::due_hints::refresh::<D>(&mut tx, endpoint_id).await?;
    tx.commit().await?;
    Ok(n)
}
