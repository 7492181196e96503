//! What one group writes: each item's deliveries (fan-out to the subscribed active
//! endpoints, or to the endpoints named), its idempotency record, and the jobs handed to the
//! engine. Pure planning where every app's active endpoints are kept in memory (SQLite);
//! otherwise read inside the group's transaction.

use std::collections::HashMap;
use std::sync::Arc;

use super::super::query::query;
use super::super::rows::{self, Get};
use super::super::Backend;
use super::{DeliveryRow, IngestJob, Rows};
use crate::domain::filter_matches;
use crate::handoff::{Handover, IngestSide};
use crate::ids::{new_id, Kind};
use crate::routing::EventVars;
use crate::store::data_key::DataKey;
use crate::store::sqlite::active_endpoints::{ActiveEndpoints, ActiveList};
use crate::store::*;
use bytes::Bytes;

/// The group's rows and answers when every item fans out to the kept endpoints.
pub(super) fn plan_kept(
    group: &mut [IngestJob],
    lists: &HashMap<String, ActiveList>,
    handoff: &IngestSide,
    rows: &mut Rows,
    jobs: &mut Vec<(Job, i64)>,
) -> Vec<Vec<IngestResult>> {
    let mut out = Vec::with_capacity(group.len());
    for job in group.iter_mut() {
        let active = &lists[&job.app_id];
        let items = std::mem::take(&mut job.items);
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            let targets = subscribed(&job.app_id, active, &item);
            results.push(IngestResult::Accepted {
                receipt: fan_out(&job.app_id, item, targets, handoff, rows, jobs),
                replayed: false,
            });
        }
        out.push(results);
    }
    out
}

/// The group's rows and answers, reading what they need inside the transaction.
pub(super) async fn plan_reading<D: Backend>(
    tx: &mut D::Connection,
    key: &DataKey,
    group: &mut [IngestJob],
    active: Option<&ActiveEndpoints>,
    handoff: &IngestSide,
    rows: &mut Rows,
    jobs: &mut Vec<(Job, i64)>,
) -> Result<Vec<Vec<IngestResult>>> {
    let mut endpoints: HashMap<String, ActiveList> = HashMap::new();
    let mut out = Vec::with_capacity(group.len());
    for job in group.iter_mut() {
        if !endpoints.contains_key(&job.app_id) {
            // Read inside the write transaction so that a concurrent disable/delete is either
            // fully before or fully after this fan-out (the kept copy is exact likewise).
            let kept = active.map(|a| a.get(&job.app_id));
            let found = match kept {
                Some(Ok(list)) => list,
                kept => {
                    let list = Arc::new(active_endpoints::<D>(&mut *tx, key, &job.app_id).await?);
                    if let (Some(a), Some(Err(Some(version)))) = (active, kept) {
                        a.put(&job.app_id, version, list.clone());
                    }
                    list
                }
            };
            endpoints.insert(job.app_id.clone(), found);
        }
        let active = &endpoints[&job.app_id];
        // Taken, not copied: a failed group is answered with its error, never written again.
        let items = std::mem::take(&mut job.items);
        out.push(ingest_in::<D>(&mut *tx, &job.app_id, items, active, handoff, rows, jobs).await?);
    }
    Ok(out)
}

/// Each app's active endpoints from the kept copy, when every item of the group fans out
/// to its subscribers (no idempotency key, no explicit endpoint list) and every app's copy
/// is current: then the group needs no read at all.
pub(super) fn kept_fan_out(
    group: &[IngestJob],
    active: Option<&ActiveEndpoints>,
) -> Option<HashMap<String, ActiveList>> {
    let active = active?;
    let plain = |i: &NewEvent| i.idempotency.is_none() && matches!(i.targets, Targets::Subscribed);
    if !group.iter().all(|j| j.items.iter().all(plain)) {
        return None;
    }
    let mut lists = HashMap::new();
    for job in group {
        if !lists.contains_key(&job.app_id) {
            lists.insert(job.app_id.clone(), active.get(&job.app_id).ok()?);
        }
    }
    Some(lists)
}

async fn active_endpoints<D: Backend>(
    conn: &mut D::Connection,
    key: &DataKey,
    app_id: &str,
) -> Result<Vec<Arc<Endpoint>>> {
    let found =
        query::<D>("SELECT * FROM endpoints WHERE app_id = $1 AND status = 'active' ORDER BY seq")
            .bind(app_id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows::all(found, |r| rows::endpoint(r, "", key))?
        .into_iter()
        .map(|(_, e)| Arc::new(e))
        .collect())
}

#[allow(clippy::too_many_arguments)]
async fn ingest_in<D: Backend>(
    conn: &mut D::Connection,
    app_id: &str,
    items: Vec<NewEvent>,
    active: &[Arc<Endpoint>],
    handoff: &IngestSide,
    rows: &mut Rows,
    jobs: &mut Vec<(Job, i64)>,
) -> Result<Vec<IngestResult>> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some((key, hash)) = &item.idempotency {
            if let Some(previous) = reserve_key::<D>(conn, app_id, key, hash, &item).await? {
                out.push(previous);
                continue;
            }
        }
        let targets = match targets::<D>(conn, app_id, active, &item).await? {
            Ok(t) => t,
            Err(unknown) => {
                if let Some((key, _)) = &item.idempotency {
                    // Give back the reservation: a failed request leaves no record.
                    query::<D>(
                        "DELETE FROM idempotency WHERE app_id = $1 AND key = $2 AND response = ''",
                    )
                    .bind(app_id)
                    .bind(key)
                    .execute(&mut *conn)
                    .await?;
                }
                out.push(IngestResult::UnknownEndpoint(unknown));
                continue;
            }
        };
        let idempotency = item.idempotency.clone();
        let created_at = item.created_at;
        let receipt = fan_out(app_id, item, targets, handoff, rows, jobs);
        if let Some((key, hash)) = &idempotency {
            query::<D>(
                "UPDATE idempotency SET request_hash = $1, response = $2, created_at = $3
                 WHERE app_id = $4 AND key = $5",
            )
            .bind(hash)
            .bind(serde_json::to_string(&receipt).map_err(|e| StoreError::Corrupt(e.to_string()))?)
            .bind(created_at)
            .bind(app_id)
            .bind(key)
            .execute(&mut *conn)
            .await?;
        }
        out.push(IngestResult::Accepted {
            receipt,
            replayed: false,
        });
    }
    Ok(out)
}

/// The endpoints an event fans out to when it names none: the active ones subscribed to
/// its type whose filter, if any, passes it. The payload is parsed for filters only when
/// the event meets a filtered endpoint, and once however many it meets.
fn subscribed<'a>(
    app_id: &str,
    active: &'a [Arc<Endpoint>],
    item: &NewEvent,
) -> Vec<&'a Arc<Endpoint>> {
    let mut vars: Option<EventVars> = None;
    active
        .iter()
        .filter(|e| filter_matches(e.event_types.as_deref(), &item.event_type))
        .filter(|e| passes(app_id, e, item, &mut vars))
        .collect()
}

fn passes(app_id: &str, ep: &Endpoint, item: &NewEvent, vars: &mut Option<EventVars>) -> bool {
    let Some(filter) = &ep.filter else {
        return true;
    };
    let vars = vars.get_or_insert_with(|| {
        EventVars::new(
            &item.event_type,
            &item.payload,
            item.source.as_deref(),
            item.subject.as_deref(),
            &item.metadata,
        )
    });
    filter.matches(vars).unwrap_or_else(|_| {
        metrics::counter!("herald_filter_errors_total", "app" => app_id.to_string()).increment(1);
        false
    })
}

/// One event's rows and receipt: a delivery per target, handed to the engine when it has
/// room (the jobs go out after the commit).
fn fan_out(
    app_id: &str,
    item: NewEvent,
    targets: Vec<&Arc<Endpoint>>,
    handoff: &IngestSide,
    rows: &mut Rows,
    jobs: &mut Vec<(Job, i64)>,
) -> Receipt {
    let mut deliveries = Vec::with_capacity(targets.len());
    let mut shared: Option<Bytes> = None;
    for ep in targets {
        let id = new_id(Kind::Delivery);
        // Handed off when the engine has room (ordered endpoints keep to the store's
        // order, so they are always claimed from it).
        let handed = handoff.offer(ep);
        let lease_until = (handed == Handover::Taken).then(|| handoff.lease_until(item.created_at));
        if let Some(until) = lease_until {
            // One copy of the payload per event, shared by its handed-over jobs.
            let payload = shared.get_or_insert_with(|| Bytes::copy_from_slice(&item.payload));
            jobs.push((fresh_job(&id, app_id, &item, payload, ep), until));
        } else {
            rows.touched.insert(ep.id.clone());
            rows.wake |= handed != Handover::EndpointFull;
        }
        rows.deliveries.push(DeliveryRow {
            id: id.clone(),
            app_id: app_id.to_string(),
            event_id: item.id.clone(),
            endpoint_id: ep.id.clone(),
            created_at: item.created_at,
            lease_until,
        });
        deliveries.push(ReceiptDelivery {
            id,
            endpoint_id: ep.id.clone(),
            status: DeliveryStatus::Pending,
        });
    }
    let receipt = Receipt {
        id: item.id.clone(),
        event_type: item.event_type.clone(),
        deliveries,
    };
    rows.events.push((app_id.to_string(), item));
    receipt
}

fn fresh_job(
    delivery_id: &str,
    app_id: &str,
    item: &NewEvent,
    payload: &Bytes,
    ep: &Arc<Endpoint>,
) -> Job {
    Job {
        delivery_id: delivery_id.to_string(),
        attempts: 0,
        app_id: app_id.to_string(),
        event_id: item.id.clone(),
        event_type: item.event_type.clone(),
        payload: payload.clone(),
        source: item.source.clone(),
        subject: item.subject.clone(),
        event_created_at: item.created_at,
        due_at: item.created_at,
        endpoint: Arc::clone(ep),
    }
}

/// Reserves an idempotency key; `Some` is the answer when the key was already used
/// (a replay, or a conflict when the bytes differ).
async fn reserve_key<D: Backend>(
    conn: &mut D::Connection,
    app_id: &str,
    key: &str,
    hash: &str,
    item: &NewEvent,
) -> Result<Option<IngestResult>> {
    // Reserve the key first: the primary key makes a concurrent request on another node wait
    // for this transaction, then see its record.
    let reserved = query::<D>(
        "INSERT INTO idempotency (app_id, key, request_hash, response, created_at)
         VALUES ($1, $2, $3, '', $4) ON CONFLICT (app_id, key) DO NOTHING RETURNING 1",
    )
    .bind(app_id)
    .bind(key)
    .bind(hash)
    .bind(item.created_at)
    .fetch_optional(&mut *conn)
    .await?;
    if reserved.is_some() {
        return Ok(None);
    }
    let seen = query::<D>(
        "SELECT request_hash, response, created_at FROM idempotency WHERE app_id = $1 AND key = $2",
    )
    .bind(app_id)
    .bind(key)
    .fetch_one(&mut *conn)
    .await?;
    let (seen_hash, response, created_at): (String, String, i64) =
        (seen.col(0)?, seen.col(1)?, seen.col(2)?);
    if created_at < item.idempotency_cutoff {
        return Ok(None); // expired: this request takes the key over
    }
    if seen_hash != hash {
        return Ok(Some(IngestResult::IdempotencyConflict));
    }
    let receipt: Receipt =
        serde_json::from_str(&response).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Some(IngestResult::Accepted {
        receipt,
        replayed: true,
    }))
}

/// The endpoints an event goes to, or the first unknown id of an explicit list.
async fn targets<'a, D: Backend>(
    conn: &mut D::Connection,
    app_id: &str,
    active: &'a [Arc<Endpoint>],
    item: &NewEvent,
) -> Result<std::result::Result<Vec<&'a Arc<Endpoint>>, String>> {
    let ids = match &item.targets {
        Targets::Subscribed => return Ok(Ok(subscribed(app_id, active, item))),
        Targets::Explicit(ids) => ids,
    };
    let mut chosen: Vec<&Arc<Endpoint>> = Vec::new();
    for id in ids {
        match active.iter().find(|e| &e.id == id) {
            Some(e) => {
                if !chosen.iter().any(|c| c.id == e.id) {
                    chosen.push(e)
                }
            }
            None => {
                // An endpoint of this app that is merely disabled is skipped, like fan-out
                // skips it; unknown or foreign ids are an error.
                let exists = query::<D>("SELECT 1 FROM endpoints WHERE id = $1 AND app_id = $2")
                    .bind(id)
                    .bind(app_id)
                    .fetch_optional(&mut *conn)
                    .await?;
                if exists.is_none() {
                    return Ok(Err(id.clone()));
                }
            }
        }
    }
    Ok(Ok(chosen))
}
