//! Endpoint rows. Leaving `active` (disable, auto-disable, delete) cancels the endpoint's
//! pending deliveries in the same transaction, so nothing is attempted afterwards.

use sqlx::{Pool, Transaction};

use super::query::{query, Sql};
use super::rows::Get;
use super::{finish_page, push_page, rows, Backend};
use crate::store::data_key::DataKey;
use crate::store::*;

const COLUMNS: &str =
    "id, app_id, url, description, event_types, status, disabled_reason, rate_limit,
    max_in_flight, headers, format, ordered, metadata, signature_scheme, secret,
    previous_secrets, first_failure_at, filter, transformation, created_at, updated_at";

fn event_types_json(ep: &Endpoint) -> Option<String> {
    ep.event_types
        .as_ref()
        .map(|t| serde_json::to_string(t).unwrap_or_else(|_| "[]".into()))
}

pub async fn insert<D: Backend>(w: &D::Writer, ep: &Endpoint, key: &DataKey) -> Result<()> {
    query::<D>(&format!(
        "INSERT INTO endpoints ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21)"
    ))
    .bind(&ep.id)
    .bind(&ep.app_id)
    .bind(&ep.url)
    .bind(&ep.description)
    .bind(event_types_json(ep))
    .bind(ep.status.as_str())
    .bind(&ep.disabled_reason)
    .bind(ep.rate_limit)
    .bind(ep.max_in_flight)
    .bind(serde_json::Value::Object(ep.headers.clone()).to_string())
    .bind(ep.format.as_str())
    .bind(ep.ordered)
    .bind(ep.metadata.to_string())
    .bind(ep.signature_scheme.as_str())
    .bind(key.seal_secret(&ep.secret))
    .bind(key.seal(&super::rows::previous_secrets_json(&ep.previous_secrets)))
    .bind(ep.first_failure_at)
    .bind(ep.filter.as_ref().map(|f| f.source().to_string()))
    .bind(super::rows::transformation_json(&ep.transformation))
    .bind(ep.created_at)
    .bind(ep.updated_at)
    .execute(&mut *D::lock_writer(w).await?)
    .await?;
    Ok(())
}

pub async fn get<D: Backend>(
    pool: &Pool<D>,
    key: &DataKey,
    app_id: &str,
    id: &str,
) -> Result<Option<Endpoint>> {
    let row = query::<D>("SELECT * FROM endpoints WHERE id = $1 AND app_id = $2")
        .bind(id)
        .bind(app_id)
        .fetch_optional(pool)
        .await?;
    row.map(|r| rows::endpoint(&r, "", key).map(|(_, e)| e))
        .transpose()
}

pub async fn list<D: Backend>(
    pool: &Pool<D>,
    key: &DataKey,
    app_id: &str,
    page: PageReq,
) -> Result<Page<Endpoint>> {
    let mut qb = Sql::<D>::new("SELECT * FROM endpoints WHERE app_id = ");
    qb.push_bind(app_id.to_string());
    push_page(&mut qb, &page);
    let r = qb.build().fetch_all(pool).await?;
    Ok(finish_page(
        rows::all(r, |r| rows::endpoint(r, "", key))?,
        page.limit,
    ))
}

pub async fn active<D: Backend>(
    pool: &Pool<D>,
    key: &DataKey,
    app_id: &str,
) -> Result<Vec<Endpoint>> {
    let r =
        query::<D>("SELECT * FROM endpoints WHERE app_id = $1 AND status = 'active' ORDER BY seq")
            .bind(app_id)
            .fetch_all(pool)
            .await?;
    Ok(rows::all(r, |r| rows::endpoint(r, "", key))?
        .into_iter()
        .map(|(_, e)| e)
        .collect())
}

pub async fn update<D: Backend>(w: &D::Writer, ep: &Endpoint, key: &DataKey) -> Result<()> {
    let mut conn = D::lock_writer(w).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // Delivery rows before the endpoint row, the order the recorder and the reaper lock them
    // in: the other order deadlocked against a concurrent outcome on PostgreSQL.
    if ep.status != EndpointStatus::Active {
        cancel_pending::<D>(&mut tx, &ep.id).await?;
    }
    let n = query::<D>(
        "UPDATE endpoints SET url = $1, description = $2, event_types = $3, status = $4, disabled_reason = $5,
            rate_limit = $6, max_in_flight = $7, headers = $8, format = $9, ordered = $10, metadata = $11,
            secret = $12, previous_secrets = $13, first_failure_at = $14, updated_at = $15,
            filter = $16, transformation = $17
         WHERE id = $18 AND app_id = $19",
    )
    .bind(&ep.url)
    .bind(&ep.description)
    .bind(event_types_json(ep))
    .bind(ep.status.as_str())
    .bind(&ep.disabled_reason)
    .bind(ep.rate_limit)
    .bind(ep.max_in_flight)
    .bind(serde_json::Value::Object(ep.headers.clone()).to_string())
    .bind(ep.format.as_str())
    .bind(ep.ordered)
    .bind(ep.metadata.to_string())
    .bind(key.seal_secret(&ep.secret))
    .bind(key.seal(&super::rows::previous_secrets_json(&ep.previous_secrets)))
    .bind(ep.first_failure_at)
    .bind(ep.updated_at)
    .bind(ep.filter.as_ref().map(|f| f.source().to_string()))
    .bind(super::rows::transformation_json(&ep.transformation))
    .bind(&ep.id)
    .bind(&ep.app_id)
    .execute(&mut *tx)
    .await?
    ;
    if n == 0 {
        return Err(StoreError::NotFound("endpoint"));
    }
    if ep.status == EndpointStatus::Active {
        super::due_hints::refresh::<D>(&mut tx, &ep.id).await?; // `ordered` may have changed
    }
    tx.commit().await?;
    Ok(())
}

pub async fn delete<D: Backend>(w: &D::Writer, app_id: &str, id: &str) -> Result<()> {
    let mut conn = D::lock_writer(w).await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    // Deliveries first (see `update`); a missing endpoint rolls the cancel back.
    cancel_pending::<D>(&mut tx, id).await?;
    let n = query::<D>("DELETE FROM endpoints WHERE id = $1 AND app_id = $2")
        .bind(id)
        .bind(app_id)
        .execute(&mut *tx)
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound("endpoint"));
    }
    tx.commit().await?;
    Ok(())
}

/// Cancels every pending delivery of the endpoint; returns how many.
pub async fn cancel_pending<D: Backend>(
    tx: &mut Transaction<'_, D>,
    endpoint_id: &str,
) -> Result<u64> {
    let n = query::<D>(
        "UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL
         WHERE endpoint_id = $1 AND status = 'pending'",
    )
    .bind(endpoint_id)
    .execute(&mut **tx)
    .await?;
    query::<D>("UPDATE endpoints SET next_due_at = NULL WHERE id = $1")
        .bind(endpoint_id)
        .execute(&mut **tx)
        .await?;
    Ok(n)
}

pub async fn stats<D: Backend>(
    pool: &Pool<D>,
    endpoint_id: &str,
    since: i64,
) -> Result<EndpointStats> {
    let counts = query::<D>(
        "SELECT status, COUNT(*) FROM deliveries WHERE endpoint_id = $1 AND created_at >= $2 GROUP BY status",
    )
    .bind(endpoint_id)
    .bind(since)
    .fetch_all(pool)
    .await?;
    let mut s = EndpointStats::default();
    for row in counts {
        let (status, n): (String, i64) = (row.col(0)?, row.col(1)?);
        match status.as_str() {
            "pending" => s.pending = n,
            "succeeded" => s.succeeded = n,
            "failed" => s.failed = n,
            "cancelled" => s.cancelled = n,
            _ => {}
        }
    }
    let last = query::<D>(
        "SELECT a.started_at, a.status_code, a.error_kind FROM attempts a
         JOIN deliveries d ON d.id = a.delivery_id
         WHERE d.endpoint_id = $1 ORDER BY a.seq DESC LIMIT 1",
    )
    .bind(endpoint_id)
    .fetch_optional(pool)
    .await?;
    if let Some(row) = last {
        s.last_attempt_at = Some(row.col(0)?);
        s.last_status_code = row.col(1)?;
        s.last_error_kind = row.col(2)?;
    }
    Ok(s)
}
