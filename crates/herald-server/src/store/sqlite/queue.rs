//! The delivery queue: claiming due deliveries under a lease, and recording outcomes.
//!
//! A delivery is due when it is `pending`, `next_attempt_at <= now` and its lease (if any)
//! has lapsed. Claiming sets `lease_until`; recording clears it. A crash leaves the lease
//! to lapse (or, for this single-process store, to be cleared at the next start), so the
//! delivery is attempted again: at-least-once.

use std::collections::{HashMap, HashSet};

use sqlx::Row;

use sqlx::{Sqlite, SqlitePool};

use super::writer::Writer;
use crate::store::data_key::DataKey;
use crate::store::sql::due_hints::{self, DUE_EXPR};
use crate::store::sql::rows;
use crate::store::sql::script::Script;
use crate::store::sql::Backend;
use crate::store::*;

pub async fn release_all(w: &Writer) -> Result<()> {
    let mut conn = w.lock().await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query("UPDATE deliveries SET lease_until = NULL WHERE status = 'pending' AND lease_until IS NOT NULL")
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("UPDATE endpoints SET next_due_at = {DUE_EXPR}"))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn reap(w: &Writer, now: i64) -> Result<u64> {
    let mut conn = w.lock().await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let endpoints: Vec<String> = sqlx::query_scalar(
        "UPDATE deliveries SET lease_until = NULL
         WHERE lease_until IS NOT NULL AND lease_until < ? AND status = 'pending' RETURNING endpoint_id",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let n = endpoints.len() as u64;
    // Repair pass: any endpoint whose hint is later than one of its unleased pending
    // deliveries (one index probe per endpoint). A safety net under the per-change upkeep.
    sqlx::query(&format!(
        "UPDATE endpoints SET next_due_at = {DUE_EXPR}
         WHERE status = 'active' AND EXISTS (
           SELECT 1 FROM deliveries d WHERE d.endpoint_id = endpoints.id AND d.status = 'pending'
             AND d.lease_until IS NULL AND d.next_attempt_at < COALESCE(endpoints.next_due_at, 9223372036854775807))"
    ))
    .execute(&mut *tx)
    .await?;
    for ep in endpoints.into_iter().collect::<HashSet<_>>() {
        due_hints::refresh::<Sqlite>(&mut tx, &ep).await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// Leases here never lapse by the clock (the reaper clears them): only `due_by` counts.
///
/// What to take is read on a reader connection; the writer only leases it, in one query
/// whose SQL never changes (so it stays prepared). Every write waits behind a claim holding
/// the writer, and a claim of a failing endpoint's retries, done as a transaction of nine
/// statements on the writer, held it for over a millisecond: the p99 of other endpoints'
/// ingest beside it. The reader's snapshot may be a moment old, so the lease re-checks
/// each row: still pending, due, unleased, its endpoint active, and for an ordered
/// endpoint still the oldest pending one.
pub async fn claim(
    w: &Writer,
    read: &SqlitePool,
    key: &DataKey,
    claim: &Claim<'_>,
) -> Result<Vec<Job>> {
    let &Claim {
        due_by,
        lease_until,
        limit,
        per_endpoint,
        skip,
        ..
    } = claim;
    let skip_json = json_list(&skip.iter().collect::<Vec<_>>())?;
    // A barrier: an ingest group that still saw an endpoint of the dispatcher's as full
    // (read with the writer held) has committed the deliveries it left for this claim
    // before the reader looks.
    drop(w.lock().await?);
    let mut conn = read.acquire().await?;
    // Endpoints with due work, oldest first; busy endpoints (`skip`) are left out, so their
    // backlog is never even read.
    let candidates: Vec<(String, bool)> = sqlx::query_as(
        "SELECT id, ordered FROM endpoints
         WHERE next_due_at <= ? AND status = 'active' AND id NOT IN (SELECT value FROM json_each(?))
         ORDER BY next_due_at LIMIT ?",
    )
    .bind(due_by)
    .bind(&skip_json)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let (mut unordered, mut ordered): (Vec<i64>, Vec<i64>) = (Vec::new(), Vec::new());
    for (endpoint_id, is_ordered) in &candidates {
        let room = (limit - (unordered.len() + ordered.len()) as i64).min(per_endpoint);
        if room <= 0 {
            break;
        }
        if *is_ordered {
            ordered.extend(
                sqlx::query_scalar::<_, i64>(
                    "SELECT seq FROM (SELECT seq, next_attempt_at, lease_until FROM deliveries
                       WHERE endpoint_id = ? AND status = 'pending' ORDER BY seq LIMIT 1)
                     WHERE next_attempt_at <= ? AND lease_until IS NULL",
                )
                .bind(endpoint_id)
                .bind(due_by)
                .fetch_all(&mut *conn)
                .await?,
            );
        } else {
            unordered.extend(
                sqlx::query_scalar::<_, i64>(
                    "SELECT seq FROM deliveries
                     WHERE endpoint_id = ? AND status = 'pending' AND next_attempt_at <= ? AND lease_until IS NULL
                     ORDER BY next_attempt_at LIMIT ?",
                )
                .bind(endpoint_id)
                .bind(due_by)
                .bind(room)
                .fetch_all(&mut *conn)
                .await?,
            );
        }
    }
    drop(conn);

    // The lease, and every candidate's due hint (also those where nothing was due after
    // all: their hint was stale).
    let endpoint_ids: Vec<&String> = candidates.iter().map(|(id, _)| id).collect();
    let (unordered, ordered, endpoint_json) = (
        json_list(&unordered)?,
        json_list(&ordered)?,
        json_list(&endpoint_ids)?,
    );
    let mut script = Script::<Sqlite>::transaction().fixed();
    for (seqs, head_only) in [(&unordered, false), (&ordered, true)] {
        let q = script.statement();
        q.push("UPDATE OR FAIL deliveries SET lease_until = ")
            .push_bind(lease_until)
            .push(" WHERE seq IN (SELECT value FROM json_each(")
            .push_bind(seqs.as_str())
            .push(")) AND status = 'pending' AND lease_until IS NULL AND next_attempt_at <= ")
            .push_bind(due_by)
            .push(
                " AND EXISTS (SELECT 1 FROM endpoints e
                     WHERE e.id = deliveries.endpoint_id AND e.status = 'active')",
            );
        if head_only {
            q.push(
                " AND seq = (SELECT d.seq FROM deliveries d WHERE d.endpoint_id = deliveries.endpoint_id
                     AND d.status = 'pending' ORDER BY d.seq LIMIT 1)",
            );
        }
        q.push(" RETURNING id, app_id, event_id, endpoint_id, attempts, next_attempt_at, seq");
    }
    script
        .statement()
        .push(format_args!(
            "UPDATE OR FAIL endpoints SET next_due_at = {DUE_EXPR} WHERE id IN (SELECT value FROM json_each("
        ))
        .push_bind(endpoint_json.as_str())
        .push("))");
    let mut claimed = {
        let mut conn = w.lock().await?;
        Sqlite::commit_script(&mut conn, script).await?
    };
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    claimed.sort_by_key(|r| r.get::<i64, _>("seq"));

    let event_ids: Vec<String> = claimed
        .iter()
        .map(|r| r.get::<String, _>("event_id"))
        .collect();
    let mut conn = read.acquire().await?;
    // Events outlive their pending deliveries, so a claimed one's is there.
    let event_rows =
        sqlx::query("SELECT * FROM events WHERE id IN (SELECT value FROM json_each(?))")
            .bind(json_list(&event_ids)?)
            .fetch_all(&mut *conn)
            .await?;
    // One shared copy of each payload and endpoint for all of this claim's jobs.
    let events: HashMap<String, (Event, bytes::Bytes)> = rows::all(event_rows, rows::event)?
        .into_iter()
        .map(|(_, mut e)| {
            let payload = bytes::Bytes::from(std::mem::take(&mut e.payload));
            (e.id.clone(), (e, payload))
        })
        .collect();
    let ep_rows =
        sqlx::query("SELECT * FROM endpoints WHERE id IN (SELECT value FROM json_each(?))")
            .bind(&endpoint_json)
            .fetch_all(&mut *conn)
            .await?;
    drop(conn);
    let endpoints: HashMap<String, std::sync::Arc<Endpoint>> =
        rows::all(ep_rows, |r| rows::endpoint(r, "", key))?
            .into_iter()
            .map(|(_, e)| (e.id.clone(), std::sync::Arc::new(e)))
            .collect();

    let mut jobs = Vec::with_capacity(claimed.len());
    for r in claimed {
        let event_id: String = r.try_get("event_id")?;
        let endpoint_id: String = r.try_get("endpoint_id")?;
        let (Some((ev, payload)), Some(ep)) = (events.get(&event_id), endpoints.get(&endpoint_id))
        else {
            continue; // deleted concurrently; the lease lapses harmlessly
        };
        jobs.push(Job {
            delivery_id: r.try_get("id")?,
            attempts: r.try_get("attempts")?,
            app_id: r.try_get("app_id")?,
            event_id,
            event_type: ev.event_type.clone(),
            payload: payload.clone(),
            source: ev.source.clone(),
            subject: ev.subject.clone(),
            event_created_at: ev.created_at,
            due_at: r.try_get::<Option<i64>, _>("next_attempt_at")?.unwrap_or(0),
            endpoint: ep.clone(),
        });
    }
    Ok(jobs)
}

fn json_list<T: serde::Serialize>(items: &[T]) -> Result<String> {
    serde_json::to_string(items).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub async fn release(w: &Writer, ids: &[String]) -> Result<()> {
    let mut conn = w.lock().await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let endpoints: Vec<String> = sqlx::query_scalar(
        "UPDATE deliveries SET lease_until = NULL WHERE id IN (SELECT value FROM json_each(?)) RETURNING endpoint_id",
    )
    .bind(json_list(ids)?)
    .fetch_all(&mut *tx)
    .await?;
    for ep in endpoints.into_iter().collect::<HashSet<_>>() {
        due_hints::refresh::<Sqlite>(&mut tx, &ep).await?;
    }
    tx.commit().await?;
    Ok(())
}
