//! Events: ingest (event + deliveries + idempotency record in one transaction), reads and
//! the retention sweep. Shared by both backends (see `store::sql`).

use std::collections::{HashMap, HashSet};

use sqlx::QueryBuilder;

use super::{finish_page, push_page, rows, Pool};
use crate::domain::filter_matches;
use crate::ids::{new_id, Kind};
use crate::store::*;

pub async fn ingest(pool: &Pool, app_id: &str, items: Vec<NewEvent>) -> Result<Vec<IngestResult>> {
    let mut tx = pool.begin().await?;
    // Read inside the write transaction so that a concurrent disable/delete is either
    // fully before or fully after this fan-out.
    let endpoint_rows =
        sqlx::query("SELECT * FROM endpoints WHERE app_id = $1 AND status = 'active' ORDER BY seq")
            .bind(app_id)
            .fetch_all(&mut *tx)
            .await?;
    let active: Vec<Endpoint> = rows::all(endpoint_rows, |r| rows::endpoint(r, ""))?
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let mut out = Vec::with_capacity(items.len());
    let mut touched: HashSet<String> = HashSet::new();
    for item in items {
        if let Some((key, hash)) = &item.idempotency {
            // Reserve the key first: the primary key makes a concurrent request on another
            // node wait for this transaction, then see its record.
            let reserved: Option<i32> = sqlx::query_scalar(
                "INSERT INTO idempotency (app_id, key, request_hash, response, created_at)
                 VALUES ($1, $2, $3, '', $4) ON CONFLICT (app_id, key) DO NOTHING RETURNING 1",
            )
            .bind(app_id)
            .bind(key)
            .bind(hash)
            .bind(item.created_at)
            .fetch_optional(&mut *tx)
            .await?;
            if reserved.is_none() {
                let (seen_hash, response, created_at): (String, String, i64) = sqlx::query_as(
                    "SELECT request_hash, response, created_at FROM idempotency WHERE app_id = $1 AND key = $2",
                )
                .bind(app_id)
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
                if created_at >= item.idempotency_cutoff {
                    if &seen_hash != hash {
                        out.push(IngestResult::IdempotencyConflict);
                    } else {
                        let receipt: Receipt = serde_json::from_str(&response)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        out.push(IngestResult::Accepted {
                            receipt,
                            replayed: true,
                        });
                    }
                    continue;
                }
            }
        }
        let targets: Vec<&Endpoint> = match &item.targets {
            Targets::Subscribed => active
                .iter()
                .filter(|e| filter_matches(e.event_types.as_deref(), &item.event_type))
                .collect(),
            Targets::Explicit(ids) => {
                let by_id: HashMap<&str, &Endpoint> =
                    active.iter().map(|e| (e.id.as_str(), e)).collect();
                let mut chosen = Vec::new();
                let mut unknown = None;
                for id in ids {
                    match by_id.get(id.as_str()) {
                        Some(e) => {
                            if !chosen.iter().any(|c: &&Endpoint| c.id == e.id) {
                                chosen.push(*e)
                            }
                        }
                        None => {
                            // An endpoint of this app that is merely disabled is skipped,
                            // like fan-out skips it; unknown or foreign ids are an error.
                            let exists: Option<i64> = sqlx::query_scalar(
                                "SELECT 1 FROM endpoints WHERE id = $1 AND app_id = $2",
                            )
                            .bind(id)
                            .bind(app_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                            if exists.is_none() {
                                unknown = Some(id.clone());
                                break;
                            }
                        }
                    }
                }
                if let Some(id) = unknown {
                    if let Some((key, _)) = &item.idempotency {
                        // Give back the reservation: a failed request leaves no record.
                        sqlx::query("DELETE FROM idempotency WHERE app_id = $1 AND key = $2 AND response = ''")
                            .bind(app_id)
                            .bind(key)
                            .execute(&mut *tx)
                            .await?;
                    }
                    out.push(IngestResult::UnknownEndpoint(id));
                    continue;
                }
                chosen
            }
        };
        sqlx::query(
            "INSERT INTO events (id, app_id, type, payload, source, subject, metadata, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&item.id)
        .bind(app_id)
        .bind(&item.event_type)
        .bind(&item.payload)
        .bind(&item.source)
        .bind(&item.subject)
        .bind(item.metadata.to_string())
        .bind(item.created_at)
        .execute(&mut *tx)
        .await?;
        let mut deliveries = Vec::with_capacity(targets.len());
        for ep in targets {
            let id = new_id(Kind::Delivery);
            sqlx::query(
                "INSERT INTO deliveries (id, app_id, event_id, endpoint_id, status, attempts, next_attempt_at, created_at)
                 VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6)",
            )
            .bind(&id)
            .bind(app_id)
            .bind(&item.id)
            .bind(&ep.id)
            .bind(item.created_at)
            .bind(item.created_at)
            .execute(&mut *tx)
            .await?;
            touched.insert(ep.id.clone());
            deliveries.push(ReceiptDelivery {
                id,
                endpoint_id: ep.id.clone(),
                status: "pending".into(),
            });
        }
        let receipt = Receipt {
            id: item.id.clone(),
            event_type: item.event_type.clone(),
            deliveries,
        };
        if let Some((key, hash)) = &item.idempotency {
            sqlx::query(
                "UPDATE idempotency SET request_hash = $1, response = $2, created_at = $3
                 WHERE app_id = $4 AND key = $5",
            )
            .bind(hash)
            .bind(serde_json::to_string(&receipt).map_err(|e| StoreError::Corrupt(e.to_string()))?)
            .bind(item.created_at)
            .bind(app_id)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        }
        out.push(IngestResult::Accepted {
            receipt,
            replayed: false,
        });
    }
    for ep in &touched {
        super::queue::refresh_due(&mut tx, ep).await?;
    }
    if !touched.is_empty() {
        super::queue::notify(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(out)
}

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
pub async fn sweep(pool: &Pool, cutoff: i64, batch: i64) -> Result<u64> {
    let mut tx = pool.begin().await?;
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

pub async fn sweep_idempotency(pool: &Pool, cutoff: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM idempotency WHERE created_at < $1")
        .bind(cutoff)
        .execute(pool)
        .await?
        .rows_affected())
}
