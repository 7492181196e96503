//! The delivery queue on PostgreSQL, shared by several nodes.
//!
//! Claiming locks the candidate endpoint rows with `FOR UPDATE SKIP LOCKED`, so one node at a
//! time claims for an endpoint (which also keeps `ordered` endpoints strictly ordered across
//! nodes), and leases the chosen deliveries. A node that dies leaves leases behind; every node
//! reaps expired leases periodically, so another node takes the work over. Committed changes
//! that make work due send `NOTIFY herald_due`, which wakes every node's dispatcher.

use std::collections::{HashMap, HashSet};

use sqlx::{PgConnection, PgPool, Postgres, Row};

use crate::store::data_key::DataKey;
use crate::store::sql::due_hints::{self, DUE_EXPR};
use crate::store::sql::rows;
use crate::store::sql::script::Script;
use crate::store::*;

/// The channel of `LISTEN`/`NOTIFY` wake-ups.
pub const CHANNEL: &str = "herald_due";

/// Wakes every node's dispatcher once the transaction commits.
pub async fn notify(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}

/// Adds [`notify`]'s statement to a script: `NOTIFY`, which returns no row (a script's rows
/// are its `RETURNING`s).
pub fn push_notify(script: &mut Script<'_, Postgres>) {
    script.statement().push(format_args!("NOTIFY {CHANNEL}"));
}

/// Releases leases that expired (their node died) and makes their endpoints due again;
/// returns how many leases (and repaired hints) there were.
pub async fn reap(pool: &PgPool, now: i64) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let endpoints: Vec<String> = sqlx::query_scalar(
        "UPDATE deliveries SET lease_until = NULL
         WHERE lease_until IS NOT NULL AND lease_until < $1 AND status = 'pending' RETURNING endpoint_id",
    )
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let n = endpoints.len() as u64;
    // Repair pass: any endpoint whose hint is later than one of its unleased pending
    // deliveries (one index probe per endpoint), a safety net under the per-change upkeep.
    // Locked first (skipping busy rows, whose holders refresh them) so that the computing
    // UPDATE reads a snapshot taken after the locks.
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM endpoints WHERE status = 'active' AND EXISTS (
           SELECT 1 FROM deliveries d WHERE d.endpoint_id = endpoints.id AND d.status = 'pending'
             AND d.lease_until IS NULL AND d.next_attempt_at < COALESCE(endpoints.next_due_at, 9223372036854775807))
         FOR UPDATE SKIP LOCKED",
    )
    .fetch_all(&mut *tx)
    .await?;
    if !stale.is_empty() {
        tracing::debug!(endpoints = stale.len(), "repaired due hints");
        sqlx::query(&format!(
            "UPDATE endpoints SET next_due_at = {DUE_EXPR} WHERE id = ANY($1)"
        ))
        .bind(&stale)
        .execute(&mut *tx)
        .await?;
    }
    let unique: HashSet<String> = endpoints.into_iter().collect();
    for ep in &unique {
        due_hints::refresh::<Postgres>(&mut tx, ep).await?;
    }
    if n > 0 || !stale.is_empty() {
        notify(&mut tx).await?;
    }
    tx.commit().await?;
    // The leases cleared, as on SQLite; repaired hints are not leases (the NOTIFY above
    // wakes every node, this one included, for them).
    Ok(n)
}

pub async fn claim(
    pool: &PgPool,
    key: &DataKey,
    node: &str,
    claim: &Claim<'_>,
) -> Result<Vec<Job>> {
    let &Claim {
        now,
        due_by,
        lease_until,
        limit,
        per_endpoint,
        skip,
    } = claim;
    let skip: Vec<String> = skip.iter().cloned().collect();
    let mut tx = pool.begin().await?;
    let candidates: Vec<(String, bool)> = sqlx::query_as(
        "SELECT id, ordered FROM endpoints
         WHERE next_due_at <= $1 AND status = 'active' AND NOT (id = ANY($2))
         ORDER BY next_due_at LIMIT $3 FOR UPDATE SKIP LOCKED",
    )
    .bind(due_by)
    .bind(&skip)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let mut seqs: Vec<i64> = Vec::new();
    for (endpoint_id, ordered) in &candidates {
        let room = (limit - seqs.len() as i64).min(per_endpoint);
        if room <= 0 {
            break;
        }
        let picked: Vec<i64> = if *ordered {
            sqlx::query_scalar(
                "SELECT seq FROM (SELECT seq, next_attempt_at, lease_until FROM deliveries
                   WHERE endpoint_id = $1 AND status = 'pending' ORDER BY seq LIMIT 1) head
                 WHERE next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until < $3)",
            )
            .bind(endpoint_id)
            .bind(due_by)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?
        } else {
            sqlx::query_scalar(
                "SELECT seq FROM deliveries
                 WHERE endpoint_id = $1 AND status = 'pending' AND next_attempt_at <= $2
                   AND (lease_until IS NULL OR lease_until < $4)
                 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED",
            )
            .bind(endpoint_id)
            .bind(due_by)
            .bind(room)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?
        };
        if !picked.is_empty() {
            sqlx::query(
                "UPDATE deliveries SET lease_until = $1, lease_owner = $3 WHERE seq = ANY($2)",
            )
            .bind(lease_until)
            .bind(&picked)
            .bind(node)
            .execute(&mut *tx)
            .await?;
        }
        due_hints::refresh::<Postgres>(&mut tx, endpoint_id).await?;
        seqs.extend(picked);
    }
    if seqs.is_empty() {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let claimed = sqlx::query(
        "SELECT id, app_id, event_id, endpoint_id, attempts, next_attempt_at, seq FROM deliveries
         WHERE seq = ANY($1) ORDER BY seq",
    )
    .bind(&seqs)
    .fetch_all(&mut *tx)
    .await?;
    let event_ids: Vec<String> = claimed
        .iter()
        .map(|r| r.get::<String, _>("event_id"))
        .collect();
    let endpoint_ids: Vec<String> = candidates.iter().map(|(id, _)| id.clone()).collect();
    let event_rows = sqlx::query("SELECT * FROM events WHERE id = ANY($1)")
        .bind(&event_ids)
        .fetch_all(&mut *tx)
        .await?;
    // One shared copy of each payload and endpoint for all of this claim's jobs.
    let events: HashMap<String, (Event, bytes::Bytes)> = rows::all(event_rows, rows::event)?
        .into_iter()
        .map(|(_, mut e)| {
            let payload = bytes::Bytes::from(std::mem::take(&mut e.payload));
            (e.id.clone(), (e, payload))
        })
        .collect();
    let ep_rows = sqlx::query("SELECT * FROM endpoints WHERE id = ANY($1)")
        .bind(&endpoint_ids)
        .fetch_all(&mut *tx)
        .await?;
    let endpoints: HashMap<String, std::sync::Arc<Endpoint>> =
        rows::all(ep_rows, |r| rows::endpoint(r, "", key))?
            .into_iter()
            .map(|(_, e)| (e.id.clone(), std::sync::Arc::new(e)))
            .collect();
    tx.commit().await?;

    let mut jobs = Vec::with_capacity(claimed.len());
    for r in claimed {
        let event_id: String = r.try_get("event_id")?;
        let endpoint_id: String = r.try_get("endpoint_id")?;
        let (Some((ev, payload)), Some(ep)) = (events.get(&event_id), endpoints.get(&endpoint_id))
        else {
            continue;
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

/// Releases every lease `node` holds (it just started: they are its previous life's) and
/// makes their endpoints due again; returns how many.
pub async fn release_own(pool: &PgPool, node: &str) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let endpoints: Vec<String> = sqlx::query_scalar(
        "UPDATE deliveries SET lease_until = NULL, lease_owner = NULL
         WHERE lease_owner = $1 AND lease_until IS NOT NULL AND status = 'pending'
         RETURNING endpoint_id",
    )
    .bind(node)
    .fetch_all(&mut *tx)
    .await?;
    let n = endpoints.len() as u64;
    for ep in endpoints.into_iter().collect::<HashSet<_>>() {
        due_hints::refresh::<Postgres>(&mut tx, &ep).await?;
    }
    if n > 0 {
        notify(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(n)
}

pub async fn release(pool: &PgPool, ids: &[String]) -> Result<()> {
    let mut tx = pool.begin().await?;
    let endpoints: Vec<String> = sqlx::query_scalar(
        "UPDATE deliveries SET lease_until = NULL WHERE id = ANY($1) RETURNING endpoint_id",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    for ep in endpoints.into_iter().collect::<HashSet<_>>() {
        due_hints::refresh::<Postgres>(&mut tx, &ep).await?;
    }
    notify(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Records this node's heartbeat; returns how many nodes beat within `window_ms`.
pub async fn heartbeat(pool: &PgPool, node: &str, now: i64, window_ms: i64) -> Result<i64> {
    sqlx::query(
        "INSERT INTO nodes (id, heartbeat_at) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
    )
    .bind(node)
    .bind(now)
    .execute(pool)
    .await?;
    sqlx::query("DELETE FROM nodes WHERE heartbeat_at < $1")
        .bind(now - 10 * window_ms)
        .execute(pool)
        .await?;
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM nodes WHERE heartbeat_at >= $1")
            .bind(now - window_ms)
            .fetch_one(pool)
            .await?,
    )
}
