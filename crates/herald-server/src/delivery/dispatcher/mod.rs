//! The dispatcher: one task that claims due deliveries and starts attempts.
//!
//! Isolation comes from per-endpoint slots: each endpoint has a small in-memory queue, an
//! in-flight count (`max_in_flight`) and a token bucket (`rate_limit`). An endpoint whose
//! slot is full is skipped when claiming, so a slow or failing endpoint holds only its own
//! slots and never the global ones. The backlog stays in the store: memory holds at most
//! about `2 × max_concurrency` jobs, whatever the number of pending deliveries.
//!
//! - this file: the task's loop, hand-overs from ingest, finished and recorded attempts,
//!   starting attempts;
//! - `slot`: per-endpoint queues, in-flight limits and token buckets;
//! - `budget`: the process's concurrency budget;
//! - `claim`: claiming from the store, and when to look again.

mod budget;
mod claim;
mod slot;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::attempt::{AttemptResult, Sender};
use super::recorder::{Finished, Recorded};
use super::request;
use crate::config::Config;
use crate::handoff::{EngineSide, Leased};
use crate::store::Store;
use crate::timefmt::now_ms;
use budget::Budget;
use slot::{Slot, SLOW_ATTEMPT};

/// How long a claim lease outlives the attempt timeout.
const LEASE_MARGIN_MS: i64 = 15_000;

/// How long to wait for work due at `at` (ms); `None` when it is due now (an ordered
/// endpoint's next delivery goes at once).
fn until_due(at: i64, now: i64) -> Option<Duration> {
    (at > now).then(|| Duration::from_millis((at - now) as u64))
}

/// How long a claimed (or handed-over) delivery stays leased.
pub fn lease_ms(config: &Config) -> i64 {
    config.attempt_timeout.as_millis() as i64 + LEASE_MARGIN_MS
}

pub struct Dispatcher {
    store: Arc<dyn Store>,
    config: Arc<Config>,
    sender: Sender,
    wake: Arc<Notify>,
    changes: mpsc::UnboundedReceiver<String>,
    finished: mpsc::UnboundedSender<Finished>,
    recorded: mpsc::UnboundedReceiver<Recorded>,
    done_tx: mpsc::UnboundedSender<(String, Duration)>,
    done: mpsc::UnboundedReceiver<(String, Duration)>,
    slots: HashMap<String, Slot>,
    budget: Budget,
    /// Fresh deliveries handed over by ingest right after their commit, and the room and
    /// full endpoints published back to it (`crate::handoff`).
    handoff: EngineSide,
    /// Whether the store may hold due work this process has not claimed yet.
    need_claim: bool,
    /// After a failed claim: no claim before then (hand-overs still go out meanwhile).
    claims_paused_until: Option<tokio::time::Instant>,
    /// When to look at the store again at the latest (the next known due time).
    next_check: tokio::time::Instant,
    /// Live processes sharing the store (limits are split between them).
    nodes: Arc<AtomicI64>,
}

/// How the dispatcher hears from the rest of the engine.
pub struct Links {
    /// New work may be due.
    pub wake: Arc<Notify>,
    /// Endpoints whose queued jobs must be dropped.
    pub changes: mpsc::UnboundedReceiver<String>,
    /// Finished attempts, to the recorder.
    pub finished: mpsc::UnboundedSender<Finished>,
    /// Recorded outcomes, from the recorder.
    pub recorded: mpsc::UnboundedReceiver<Recorded>,
    /// Fresh deliveries from ingest, and the room published back to it.
    pub handoff: EngineSide,
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        config: Arc<Config>,
        sender: Sender,
        links: Links,
        nodes: Arc<AtomicI64>,
    ) -> Self {
        let (done_tx, done) = mpsc::unbounded_channel();
        Dispatcher {
            done_tx,
            done,
            budget: Budget::new(config.max_concurrency),
            handoff: links.handoff,
            need_claim: true,
            claims_paused_until: None,
            next_check: tokio::time::Instant::now(),
            store,
            config,
            sender,
            wake: links.wake,
            changes: links.changes,
            finished: links.finished,
            recorded: links.recorded,
            slots: HashMap::new(),
            nodes,
        }
    }

    pub async fn run(mut self, shutdown: CancellationToken) {
        if let Err(e) = self.store.recover_after_restart(now_ms()).await {
            tracing::error!(error = %e, "could not release old leases");
        }
        while !shutdown.is_cancelled() {
            self.drain_messages();
            // The store is read only when it may hold work for us: at start, on a wake-up
            // (a commit that was not handed over, a requeue), when a full endpoint frees a
            // slot, when a recorded retry or ordered successor comes due, or at the known next
            // due time. Handed-over deliveries need no read at all.
            let now = tokio::time::Instant::now();
            if self.claim_pause(now).is_none() && (self.need_claim || now >= self.next_check) {
                self.need_claim = false;
                let claimed_all = self.claim().await;
                if claimed_all {
                    self.need_claim = true;
                    self.dispatch();
                    tokio::task::yield_now().await;
                    continue;
                }
                self.next_check = tokio::time::Instant::now() + self.idle_wait().await;
            }
            let wait = self.dispatch();
            self.publish_room();
            let now = tokio::time::Instant::now();
            // Wanted claims wait for the pause after a failed one (the loop's top skips them
            // until then), so its end is a time to wake up at.
            let mut claim_at = self.next_check;
            if let Some(t) = self.claim_pause(now) {
                claim_at = if self.need_claim { t } else { claim_at.max(t) };
            }
            let until = match wait {
                Some(t) => claim_at.min(now + t),
                None => claim_at,
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => self.need_claim = true,
                Some(r) = self.recorded.recv() => self.on_recorded(r),
                Some((id, took)) = self.done.recv() => self.on_done(&id, took),
                Some(jobs) = self.handoff.recv() => self.accept(jobs),
                Some(id) = self.changes.recv() => self.forget(&id),
                _ = tokio::time::sleep_until(until) => {}
            }
        }
        self.shut_down().await;
    }

    /// When the pause after a failed claim ends, while it lasts.
    fn claim_pause(&self, now: tokio::time::Instant) -> Option<tokio::time::Instant> {
        self.claims_paused_until.filter(|t| now < *t)
    }

    /// Tells ingest how many fresh deliveries this process can take over right now, and
    /// which endpoints must not get any.
    fn publish_room(&self) {
        self.handoff.publish_room(self.budget.room());
        self.handoff.publish_full(&self.full_endpoints());
    }

    /// Takes handed-over deliveries; those of an endpoint whose slot filled up meanwhile go
    /// back to the store (their leases released), like a claim would have left them there.
    fn accept(&mut self, jobs: Vec<Leased>) {
        let nodes = self.nodes.load(Ordering::Relaxed);
        let mut give_back = Vec::new();
        for (job, lease_until) in jobs {
            let slot = self
                .slots
                .entry(job.endpoint.id.clone())
                .or_insert_with(Slot::new);
            slot.configure(&job, nodes);
            if slot.full() {
                give_back.push(job.delivery_id);
                continue;
            }
            slot.enqueue((job, lease_until, None));
            self.budget.queued += 1;
        }
        if !give_back.is_empty() {
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.release_leases(&give_back).await {
                    tracing::warn!(error = %e, "could not release leases");
                }
            });
        }
    }

    fn drain_messages(&mut self) {
        while let Some(jobs) = self.handoff.try_recv() {
            self.accept(jobs);
        }
        while let Ok((id, took)) = self.done.try_recv() {
            self.on_done(&id, took);
        }
        while let Ok(r) = self.recorded.try_recv() {
            self.on_recorded(r);
        }
        let mut changed = Vec::new();
        while let Ok(id) = self.changes.try_recv() {
            changed.push(id);
        }
        for id in changed {
            self.forget(&id);
        }
    }

    /// An HTTP attempt ended: its endpoint's slot is free at once (the outcome is recorded
    /// in the background; the delivery's lease keeps it from being claimed meanwhile).
    fn on_done(&mut self, endpoint_id: &str, took: Duration) {
        self.budget.in_flight = self.budget.in_flight.saturating_sub(1);
        self.budget.recording += 1;
        if let Some(slot) = self.slots.get_mut(endpoint_id) {
            // A full endpoint was skipped by the last claim: its backlog may be in the store.
            if slot.full() {
                self.need_claim = true;
            }
            slot.in_flight = slot.in_flight.saturating_sub(1);
            slot.slow = took > SLOW_ATTEMPT;
            // A rate-limited endpoint keeps its slot: its token bucket must outlive a
            // momentarily empty queue (one small slot per such endpoint).
            if slot.is_empty() && slot.bucket.is_none() {
                self.slots.remove(endpoint_id);
            }
        }
    }

    fn on_recorded(&mut self, r: Recorded) {
        // The budget was full when we last claimed: there may be room for stored work now.
        if self.budget.is_full() {
            self.need_claim = true;
        }
        if let Some(at) = r.due_at {
            let wait = until_due(at, now_ms()).unwrap_or(Duration::ZERO);
            self.next_check = self.next_check.min(tokio::time::Instant::now() + wait);
        }
        self.budget.recording = self.budget.recording.saturating_sub(1);
    }

    /// Drops the queued jobs of an endpoint whose settings changed. Their leases are given
    /// up so that they are claimed again (with the new settings) if still pending.
    fn forget(&mut self, endpoint_id: &str) {
        let Some(slot) = self.slots.get_mut(endpoint_id) else {
            return;
        };
        let ids: Vec<String> = slot.drain().into_iter().map(|j| j.delivery_id).collect();
        self.budget.queued -= ids.len();
        if slot.in_flight == 0 {
            self.slots.remove(endpoint_id);
        }
        if !ids.is_empty() {
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(e) = store.release_leases(&ids).await {
                    tracing::warn!(error = %e, "could not release leases");
                }
            });
        }
    }

    /// Starts every attempt the limits allow; returns the shortest wait for a rate token
    /// or for a held job's due time.
    fn dispatch(&mut self) -> Option<Duration> {
        let mut wait: Option<Duration> = None;
        let mut wait_at_most = |w: Duration| wait = Some(wait.map_or(w, |x| x.min(w)));
        let now = Instant::now();
        let clock = now_ms();
        let attempt_ms = self.config.attempt_timeout.as_millis() as i64;
        for slot in self.slots.values_mut() {
            if let Some(at) = slot.release_due(clock) {
                wait_at_most(Duration::from_millis((at - clock) as u64));
            }
            while self.budget.may_start()
                && slot.in_flight < slot.max_in_flight
                && !slot.queue.is_empty()
            {
                if let Some(bucket) = &mut slot.bucket {
                    if let Err(w) = bucket.take(now) {
                        wait_at_most(w);
                        break;
                    }
                }
                let Some((job, lease_until, ahead)) = slot.queue.pop_front() else {
                    break;
                };
                self.budget.queued -= 1;
                let start = now_ms();
                if start + attempt_ms > lease_until {
                    // The lease would lapse mid-attempt: give the job back to the store.
                    let store = self.store.clone();
                    tokio::spawn(async move {
                        let _ = store.release_leases(&[job.delivery_id]).await;
                    });
                    continue;
                }
                slot.in_flight += 1;
                self.budget.in_flight += 1;
                metrics::histogram!("herald_delivery_lag_seconds")
                    .record(((start - job.due_at).max(0)) as f64 / 1000.0);
                let sender = self.sender.clone();
                let finished = self.finished.clone();
                let done = self.done_tx.clone();
                tokio::spawn(async move {
                    let began = Instant::now();
                    let result = match request::prepare(&job, job.attempts + 1, start, ahead).await
                    {
                        request::Prep::Send(prepared) => sender.send(prepared).await,
                        request::Prep::Cancelled => AttemptResult::not_sent(None),
                        request::Prep::Failed(e) => AttemptResult::not_sent(Some(e)),
                    };
                    let took = began.elapsed();
                    let endpoint_id = job.endpoint.id.clone();
                    let _ = finished.send(Finished {
                        job,
                        started_at: start,
                        result,
                    });
                    let _ = done.send((endpoint_id, took));
                });
            }
        }
        wait
    }

    /// Stops claiming, gives back queued jobs and waits (bounded) for attempts in flight.
    async fn shut_down(mut self) {
        self.handoff.close();
        while let Some(jobs) = self.handoff.try_recv() {
            self.accept(jobs);
        }
        let queued: Vec<String> = self
            .slots
            .values_mut()
            .flat_map(|s| s.drain().into_iter().map(|j| j.delivery_id))
            .collect();
        if !queued.is_empty() {
            if let Err(e) = self.store.release_leases(&queued).await {
                tracing::warn!(error = %e, "could not release leases at shutdown");
            }
        }
        let grace = self.config.attempt_timeout.min(Duration::from_secs(8));
        let deadline = tokio::time::Instant::now() + grace;
        while self.budget.in_flight > 0 {
            match tokio::time::timeout_at(deadline, self.done.recv()).await {
                Ok(Some((id, took))) => self.on_done(&id, took),
                _ => break,
            }
        }
        if self.budget.in_flight > 0 {
            tracing::warn!(
                in_flight = self.budget.in_flight,
                "shutting down with attempts in flight; they will be retried"
            );
        }
    }
}
