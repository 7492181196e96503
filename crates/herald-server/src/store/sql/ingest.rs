//! Ingest: events, their deliveries and idempotency records, written by one writer task with
//! group commit, and handed straight to the dispatcher after the commit. Shared by both
//! backends (see `store::sql`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::script::Script;
use super::{rows, Db, Writer, OR_FAIL};
use crate::domain::filter_matches;
use crate::handoff::{Handover, IngestSide};
use crate::ids::{new_id, Kind};
use crate::store::active_endpoints::{ActiveEndpoints, ActiveList};
use crate::store::carpool::Carpool;
use crate::store::*;
use bytes::Bytes;

/// Group commit: concurrent ingest requests go to one writer task, which writes everything
/// waiting in one transaction and commits once; every request is answered after that commit.
/// Idle, a request waits for its own commit only; under load one commit serves many requests.
#[derive(Clone)]
pub struct GroupCommit {
    jobs: tokio::sync::mpsc::Sender<IngestJob>,
}

struct IngestJob {
    app_id: String,
    items: Vec<NewEvent>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<IngestResult>>>,
}

impl IngestJob {
    fn bytes(&self) -> usize {
        self.items.iter().map(|i| i.payload.len()).sum()
    }
}

/// Requests per transaction, at most: bounds the time a commit makes the first one wait.
const GROUP_MAX: usize = 256;
/// Payload bytes per transaction, about: big batches make smaller groups, which keeps the
/// memory a group holds (several copies of every payload on its way in) small.
const GROUP_MAX_BYTES: usize = 64 * 1024;
/// Rows per multi-row INSERT (SQLite allows 32766 bound parameters).
const ROWS_PER_INSERT: usize = 400;

/// Outcome batches that ride in a group's transaction (see `store::carpool`), and what their
/// statements returned.
pub type OutcomeCarpool = Carpool<Vec<RecordedOutcome>, Vec<<Db as sqlx::Database>::Row>>;

impl GroupCommit {
    /// `active`: the in-memory copy of each app's active endpoints, for a backend with one
    /// writer connection (see `store::active_endpoints`); `None` reads them every group.
    /// `carpool`: outcome batches a group takes into its transaction (one writer too).
    /// `handoff`: ingest's end of the hand-off to the engine (`crate::handoff`).
    pub fn start(
        writer: Arc<Writer>,
        handoff: IngestSide,
        active: Option<Arc<ActiveEndpoints>>,
        carpool: Option<Arc<OutcomeCarpool>>,
    ) -> GroupCommit {
        let (jobs, mut rx) = tokio::sync::mpsc::channel::<IngestJob>(4 * GROUP_MAX);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut bytes = first.bytes();
                let mut group = vec![first];
                while group.len() < GROUP_MAX && bytes < GROUP_MAX_BYTES {
                    match rx.try_recv() {
                        Ok(job) => {
                            bytes += job.bytes();
                            group.push(job);
                        }
                        Err(_) => break,
                    }
                }
                let started = std::time::Instant::now();
                let written = write_group(
                    &writer,
                    &mut group,
                    &handoff,
                    active.as_deref(),
                    carpool.as_deref(),
                )
                .await;
                metrics::histogram!("herald_ingest_commit_seconds")
                    .record(started.elapsed().as_secs_f64());
                match written {
                    Ok((results, jobs, wake)) => {
                        // Committed: answer, then hand the leased deliveries to the engine.
                        for (job, r) in group.into_iter().zip(results) {
                            let _ = job.reply.send(Ok(r));
                        }
                        handoff.send(jobs);
                        if wake {
                            handoff.wake();
                        }
                    }
                    Err(e) => {
                        // Nothing of the group was committed: every request fails alike.
                        for job in group {
                            let _ = job.reply.send(Err(e.duplicate()));
                        }
                    }
                }
            }
        });
        GroupCommit { jobs }
    }

    pub async fn ingest(&self, app_id: &str, items: Vec<NewEvent>) -> Result<Vec<IngestResult>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = IngestJob {
            app_id: app_id.to_string(),
            items,
            reply,
        };
        let gone = || StoreError::Unavailable("the store's writer has stopped".into());
        self.jobs.send(job).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// What one group writes, collected so that events and deliveries go in multi-row INSERTs.
#[derive(Default)]
struct Rows {
    events: Vec<(String, NewEvent)>,
    deliveries: Vec<DeliveryRow>,
    /// Endpoints whose due-time hint must be recomputed, in a fixed order so that two
    /// nodes' groups lock endpoint rows alike (no deadlock).
    touched: BTreeSet<String>,
    /// A delivery stays in the store that the engine must be woken to claim (one of a full
    /// endpoint's needs no wake: the engine claims when that endpoint's queue frees).
    wake: bool,
}

struct DeliveryRow {
    id: String,
    app_id: String,
    event_id: String,
    endpoint_id: String,
    created_at: i64,
    lease_until: Option<i64>,
}

async fn write_group(
    w: &Writer,
    group: &mut [IngestJob],
    handoff: &IngestSide,
    active: Option<&ActiveEndpoints>,
    carpool: Option<&OutcomeCarpool>,
) -> Result<(Vec<Vec<IngestResult>>, Vec<(Job, i64)>, bool)> {
    let mut jobs = Vec::new();
    match write_planned(w, group, handoff, active, carpool, &mut jobs).await {
        Ok((out, wake)) => Ok((out, jobs, wake)),
        Err(e) => {
            // Nothing was committed: the engine's room taken for the hand-over goes back.
            handoff.refund(jobs.len());
            Err(e)
        }
    }
}

/// Writes the group in one transaction; `true` when deliveries were left in the store that
/// the engine must be woken to claim.
async fn write_planned(
    w: &Writer,
    group: &mut [IngestJob],
    handoff: &IngestSide,
    active: Option<&ActiveEndpoints>,
    carpool: Option<&OutcomeCarpool>,
    jobs: &mut Vec<(Job, i64)>,
) -> Result<(Vec<Vec<IngestResult>>, bool)> {
    let mut conn = super::lock_writer(w).await?;
    let mut rows = Rows::default();
    // Looked at with the writer held, so no endpoint write is half done (see
    // `active_endpoints`).
    let planned =
        kept_fan_out(group, active).map(|lists| plan_kept(group, &lists, handoff, &mut rows, jobs));
    let out = match planned {
        Some(out) => {
            // Nothing to read: on SQLite the commit is the only round trip. A waiting outcome
            // batch comes along; should that transaction fail, the group is written alone
            // (a batch's fault must not fail an ingest) and the batch goes back.
            if let Some(ride) = carpool.and_then(Carpool::take) {
                let mut script = Script::transaction();
                push_rows(&mut script, &rows);
                super::outcomes::push_batch(&mut script, &ride.load);
                if let Ok(returned) = super::commit_script(&mut conn, script).await {
                    ride.arrived(returned);
                    return Ok((out, rows.wake));
                }
            }
            let mut script = Script::transaction();
            push_rows(&mut script, &rows);
            super::commit_script(&mut conn, script).await?;
            out
        }
        None => {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let out = plan_reading(&mut tx, group, active, handoff, &mut rows, jobs).await?;
            let mut script = Script::default();
            push_rows(&mut script, &rows);
            script.run(&mut tx).await?;
            tx.commit().await?;
            out
        }
    };
    Ok((out, rows.wake))
}

/// The group's rows and answers when every item fans out to the kept endpoints.
fn plan_kept(
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
            let targets = subscribed(active, &item);
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
async fn plan_reading(
    tx: &mut <Db as sqlx::Database>::Connection,
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
                    let list = Arc::new(active_endpoints(&mut *tx, &job.app_id).await?);
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
        out.push(ingest_in(&mut *tx, &job.app_id, items, active, handoff, rows, jobs).await?);
    }
    Ok(out)
}

/// Each app's active endpoints from the kept copy, when every item of the group fans out
/// to its subscribers (no idempotency key, no explicit endpoint list) and every app's copy
/// is current: then the group needs no read at all.
fn kept_fan_out(
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

/// A group's rows, and the due hints of the endpoints whose deliveries stay in the store
/// (one statement each, in `touched`'s order).
fn push_rows<'a>(script: &mut Script<'a>, rows: &'a Rows) {
    push_inserts(script, rows);
    for ep in &rows.touched {
        super::due_hints::push_refresh(script, ep);
    }
    if !rows.touched.is_empty() {
        super::queue::push_notify(script);
    }
}

async fn active_endpoints(
    conn: &mut <Db as sqlx::Database>::Connection,
    app_id: &str,
) -> Result<Vec<Arc<Endpoint>>> {
    let found =
        sqlx::query("SELECT * FROM endpoints WHERE app_id = $1 AND status = 'active' ORDER BY seq")
            .bind(app_id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows::all(found, |r| rows::endpoint(r, ""))?
        .into_iter()
        .map(|(_, e)| Arc::new(e))
        .collect())
}

fn push_inserts<'a>(script: &mut Script<'a>, rows: &'a Rows) {
    for chunk in rows.events.chunks(ROWS_PER_INSERT) {
        let q = script.statement();
        q.push("INSERT ").push(OR_FAIL).push(
            "INTO events (id, app_id, type, payload, source, subject, metadata, created_at) ",
        );
        q.push_values(chunk, |mut b, (app_id, e)| {
            b.push_bind(&e.id)
                .push_bind(app_id)
                .push_bind(&e.event_type)
                .push_bind(&e.payload)
                .push_bind(&e.source)
                .push_bind(&e.subject)
                .push_bind(e.metadata.to_string())
                .push_bind(e.created_at);
        });
    }
    for chunk in rows.deliveries.chunks(ROWS_PER_INSERT) {
        let q = script.statement();
        q.push("INSERT ").push(OR_FAIL).push(
            "INTO deliveries (id, app_id, event_id, endpoint_id, status, attempts, next_attempt_at, lease_until, created_at) ",
        );
        q.push_values(chunk, |mut b, d| {
            b.push_bind(&d.id)
                .push_bind(&d.app_id)
                .push_bind(&d.event_id)
                .push_bind(&d.endpoint_id)
                .push_bind("pending")
                .push_bind(0i64)
                .push_bind(d.created_at)
                .push_bind(d.lease_until)
                .push_bind(d.created_at);
        });
    }
}

#[allow(clippy::too_many_arguments)]
async fn ingest_in(
    conn: &mut <Db as sqlx::Database>::Connection,
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
            if let Some(previous) = reserve_key(conn, app_id, key, hash, &item).await? {
                out.push(previous);
                continue;
            }
        }
        let targets = match targets(conn, app_id, active, &item).await? {
            Ok(t) => t,
            Err(unknown) => {
                if let Some((key, _)) = &item.idempotency {
                    // Give back the reservation: a failed request leaves no record.
                    sqlx::query(
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
            sqlx::query(
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
/// its type.
fn subscribed<'a>(active: &'a [Arc<Endpoint>], item: &NewEvent) -> Vec<&'a Arc<Endpoint>> {
    active
        .iter()
        .filter(|e| filter_matches(e.event_types.as_deref(), &item.event_type))
        .collect()
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
async fn reserve_key(
    conn: &mut <Db as sqlx::Database>::Connection,
    app_id: &str,
    key: &str,
    hash: &str,
    item: &NewEvent,
) -> Result<Option<IngestResult>> {
    // Reserve the key first: the primary key makes a concurrent request on another node wait
    // for this transaction, then see its record.
    let reserved: Option<i32> = sqlx::query_scalar(
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
    let (seen_hash, response, created_at): (String, String, i64) = sqlx::query_as(
        "SELECT request_hash, response, created_at FROM idempotency WHERE app_id = $1 AND key = $2",
    )
    .bind(app_id)
    .bind(key)
    .fetch_one(&mut *conn)
    .await?;
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
async fn targets<'a>(
    conn: &mut <Db as sqlx::Database>::Connection,
    app_id: &str,
    active: &'a [Arc<Endpoint>],
    item: &NewEvent,
) -> Result<std::result::Result<Vec<&'a Arc<Endpoint>>, String>> {
    let ids = match &item.targets {
        Targets::Subscribed => return Ok(Ok(subscribed(active, item))),
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
                let exists: Option<i64> =
                    sqlx::query_scalar("SELECT 1 FROM endpoints WHERE id = $1 AND app_id = $2")
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
