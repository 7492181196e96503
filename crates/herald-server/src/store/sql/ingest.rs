//! Ingest: events, their deliveries and idempotency records, written by one writer task with
//! group commit, and handed straight to the dispatcher after the commit. Shared by both
//! backends (see `store::sql`).

mod plan;

use std::collections::BTreeSet;
use std::sync::Arc;

use super::script::Script;
use super::Backend;
use crate::handoff::IngestSide;
use crate::store::data_key::DataKey;
use crate::store::sqlite::active_endpoints::ActiveEndpoints;
use crate::store::sqlite::carpool::Carpool;
use crate::store::*;

/// Group commit: concurrent ingest requests go to one writer task, which writes everything
/// waiting in one transaction and commits once; every request is answered after that commit.
/// Idle, a request waits for its own commit only; under load one commit serves many requests.
pub struct GroupCommit<D> {
    jobs: tokio::sync::mpsc::Sender<IngestJob>,
    backend: std::marker::PhantomData<fn() -> D>,
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

/// Outcome batches that ride in a group's transaction (see `store::sqlite::carpool`), and what their
/// statements returned.
pub type OutcomeCarpool<D> = Carpool<Vec<RecordedOutcome>, Vec<<D as sqlx::Database>::Row>>;

impl<D: Backend> GroupCommit<D> {
    /// Starts the writer task, which writes every group with `to`.
    pub fn start(to: GroupWriter<D>) -> Self {
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
                let written = to.write_group(&mut group).await;
                metrics::histogram!("herald_ingest_commit_seconds")
                    .record(started.elapsed().as_secs_f64());
                match written {
                    Ok((results, jobs, wake)) => {
                        // Committed: answer, then hand the leased deliveries to the engine.
                        for (job, r) in group.into_iter().zip(results) {
                            let _ = job.reply.send(Ok(r));
                        }
                        to.handoff.send(jobs);
                        if wake {
                            to.handoff.wake();
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
        GroupCommit {
            jobs,
            backend: std::marker::PhantomData,
        }
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
    /// Recorded with each handed-over delivery's lease where several processes share the
    /// store (`SqlStore::owns_leases`).
    lease_owner: Option<Arc<str>>,
}

struct DeliveryRow {
    id: String,
    app_id: String,
    event_id: String,
    endpoint_id: String,
    created_at: i64,
    lease_until: Option<i64>,
}

/// What the writer task writes with: where, how secrets are sealed and leases owned, and
/// what it shares with the engine and the outcome recorder.
pub struct GroupWriter<D: Backend> {
    pub writer: Arc<D::Writer>,
    pub key: Arc<DataKey>,
    /// Recorded with handed-over leases where several processes share the store.
    pub lease_owner: Option<Arc<str>>,
    /// Ingest's end of the hand-off to the engine (`crate::handoff`).
    pub handoff: IngestSide,
    /// The in-memory copy of each app's active endpoints, for a backend with one writer
    /// connection (`store::sqlite::active_endpoints`); `None` reads them every group.
    pub active: Option<Arc<ActiveEndpoints>>,
    /// Outcome batches a group takes into its transaction (one writer too).
    pub carpool: Option<Arc<OutcomeCarpool<D>>>,
}

impl<D: Backend> GroupWriter<D> {
    async fn write_group(
        &self,
        group: &mut [IngestJob],
    ) -> Result<(Vec<Vec<IngestResult>>, Vec<(Job, i64)>, bool)> {
        let mut jobs = Vec::new();
        match self.write_planned(group, &mut jobs).await {
            Ok((out, wake)) => Ok((out, jobs, wake)),
            Err(e) => {
                // Nothing was committed: the engine's room taken for the hand-over goes back.
                self.handoff.refund(jobs.len());
                Err(e)
            }
        }
    }

    /// Writes the group in one transaction; `true` when deliveries were left in the store
    /// that the engine must be woken to claim.
    async fn write_planned(
        &self,
        group: &mut [IngestJob],
        jobs: &mut Vec<(Job, i64)>,
    ) -> Result<(Vec<Vec<IngestResult>>, bool)> {
        let (handoff, active) = (&self.handoff, self.active.as_deref());
        let mut conn = D::lock_writer(&self.writer).await?;
        let mut rows = Rows {
            lease_owner: self.lease_owner.clone(),
            ..Rows::default()
        };
        // Looked at with the writer held, so no endpoint write is half done (see
        // `active_endpoints`).
        let planned = plan::kept_fan_out(group, active)
            .map(|lists| plan::plan_kept(group, &lists, handoff, &mut rows, jobs));
        let out = match planned {
            Some(out) => {
                // Nothing to read: on SQLite the commit is the only round trip. A waiting
                // outcome batch comes along; should that transaction fail, the group is
                // written alone (a batch's fault must not fail an ingest) and the batch goes
                // back.
                if let Some(ride) = self.carpool.as_deref().and_then(Carpool::take) {
                    let mut script = Script::transaction();
                    push_rows(&mut script, &rows);
                    super::outcomes::push_batch(&mut script, &ride.load);
                    if let Ok(returned) = D::commit_script(&mut conn, script).await {
                        ride.arrived(returned);
                        return Ok((out, rows.wake));
                    }
                }
                let mut script = Script::transaction();
                push_rows(&mut script, &rows);
                D::commit_script(&mut conn, script).await?;
                out
            }
            None => {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                let out = plan::plan_reading::<D>(
                    &mut tx, &self.key, group, active, handoff, &mut rows, jobs,
                )
                .await?;
                let mut script = Script::<D>::default();
                push_rows(&mut script, &rows);
                script.run(&mut tx).await?;
                tx.commit().await?;
                out
            }
        };
        Ok((out, rows.wake))
    }
}

/// A group's rows, and the due hints of the endpoints whose deliveries stay in the store
/// (one statement each, in `touched`'s order).
fn push_rows<'a, D: Backend>(script: &mut Script<'a, D>, rows: &'a Rows) {
    push_inserts(script, rows);
    for ep in &rows.touched {
        super::due_hints::push_refresh(script, ep);
    }
    if !rows.touched.is_empty() {
        D::push_notify(script);
    }
}

fn push_inserts<'a, D: Backend>(script: &mut Script<'a, D>, rows: &'a Rows) {
    for chunk in rows.events.chunks(ROWS_PER_INSERT) {
        let q = script.statement();
        q.push("INSERT ").push(D::OR_FAIL).push(
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
        q.push("INSERT ").push(D::OR_FAIL).push(
            "INTO deliveries (id, app_id, event_id, endpoint_id, status, attempts, next_attempt_at, lease_until, created_at",
        );
        let owner = rows.lease_owner.as_deref();
        q.push(if owner.is_some() {
            ", lease_owner) "
        } else {
            ") "
        });
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
            if let Some(owner) = owner {
                b.push_bind(d.lease_until.map(|_| owner));
            }
        });
    }
}
