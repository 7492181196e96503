//! The dispatcher: one task that claims due deliveries and starts attempts.
//!
//! Isolation comes from per-endpoint slots: each endpoint has a small in-memory queue, an
//! in-flight count (`max_in_flight`) and a token bucket (`rate_limit`). An endpoint whose
//! slot is full is skipped when claiming, so a slow or failing endpoint holds only its own
//! slots and never the global ones. The backlog stays in the store: memory holds at most
//! about `2 × max_concurrency` jobs, whatever the number of pending deliveries.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::attempt::Sender;
use super::recorder::{Finished, Recorded};
use super::request;
use crate::config::Config;
use crate::store::{Claim, Job, Store};
use crate::timefmt::now_ms;

/// Most rows claimed in one go, and of one endpoint.
const CLAIM_BATCH: usize = 256;
const CLAIM_PER_ENDPOINT: i64 = 32;
/// Longest sleep without looking at the store (a safety net; wake-ups do the real work).
const MAX_IDLE: Duration = Duration::from_secs(2);
/// How soon to claim again when work is due but the last claim could not take it.
const DUE_RECHECK: Duration = Duration::from_millis(25);
/// How long claims pause after one failed (the store is down, say).
const CLAIM_ERROR_PAUSE: Duration = Duration::from_millis(500);
/// How far ahead a claim takes work scheduled for later (retries). Such jobs wait in their
/// endpoint's slot and each starts at its own due time: one claim serves this much of the
/// schedule, and a failing endpoint's retries come one by one, as scheduled, instead of in
/// a burst at each claim (which delayed the other endpoints' deliveries of that moment).
const CLAIM_AHEAD: Duration = Duration::from_millis(100);
/// How long a claim lease outlives the attempt timeout.
const LEASE_MARGIN_MS: i64 = 15_000;
/// Jobs an endpoint may hold in memory, in multiples of its `max_in_flight`: deep while it
/// answers quickly (fan-out bursts are then handed over instead of going through the
/// store), shallow once an attempt was slow (queued jobs would wait, and their leases lapse).
const DEPTH_FAST: usize = 8;
const DEPTH_SLOW: usize = 2;
/// An attempt slower than this makes its endpoint's queue shallow until a fast one.
const SLOW_ATTEMPT: Duration = Duration::from_millis(500);

/// How long to wait for work due at `at` (ms); `None` when it is due now (an ordered
/// endpoint's next delivery goes at once).
fn until_due(at: i64, now: i64) -> Option<Duration> {
    (at > now).then(|| Duration::from_millis((at - now) as u64))
}

/// How long a claimed (or handed-over) delivery stays leased.
pub fn lease_ms(config: &Config) -> i64 {
    config.attempt_timeout.as_millis() as i64 + LEASE_MARGIN_MS
}

/// A job in memory, and when its lease ends.
type Held = (Job, i64);

struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(rate: f64) -> Self {
        TokenBucket {
            rate,
            tokens: 1.0,
            last: Instant::now(),
        }
    }

    /// Takes a token, or says how long until one is available.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        // Burst of at most one second's worth.
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate.max(1.0));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

struct Slot {
    /// Due jobs, in the order they go.
    queue: VecDeque<Held>,
    /// Jobs claimed ahead of their due time, earliest first.
    later: VecDeque<Held>,
    in_flight: usize,
    max_in_flight: usize,
    bucket: Option<TokenBucket>,
    /// The last attempt took longer than `SLOW_ATTEMPT`.
    slow: bool,
}

impl Slot {
    fn new() -> Self {
        Slot {
            queue: VecDeque::new(),
            later: VecDeque::new(),
            in_flight: 0,
            max_in_flight: 16,
            bucket: None,
            slow: false,
        }
    }

    /// Follows the endpoint's current settings (from the latest claimed job). With several
    /// processes on one store, each takes its share of the endpoint's limits.
    fn configure(&mut self, job: &Job, nodes: i64) {
        let nodes = nodes.max(1);
        self.max_in_flight =
            (job.endpoint.max_in_flight.max(1) + nodes - 1) as usize / nodes as usize;
        let rate = job.endpoint.rate_limit.map(|r| r as f64 / nodes as f64);
        match (rate, &mut self.bucket) {
            (None, b) => *b = None,
            (Some(r), Some(b)) if (b.rate - r).abs() < f64::EPSILON => {}
            (Some(r), b) => *b = Some(TokenBucket::new(r)),
        }
    }

    /// Jobs held in memory before the endpoint is skipped when claiming.
    fn capacity(&self) -> usize {
        let depth = if self.slow { DEPTH_SLOW } else { DEPTH_FAST };
        let by_flight = self.max_in_flight * depth;
        match &self.bucket {
            Some(b) => by_flight.min((b.rate * 2.0).ceil() as usize).max(1),
            None => by_flight,
        }
    }

    fn full(&self) -> bool {
        self.queue.len() + self.later.len() + self.in_flight >= self.capacity()
    }

    fn is_empty(&self) -> bool {
        self.in_flight == 0 && self.queue.is_empty() && self.later.is_empty()
    }

    /// Queues a job, or holds it until its due time.
    fn push(&mut self, held: Held, now: i64) {
        if held.0.due_at <= now {
            self.queue.push_back(held);
        } else {
            let at = self
                .later
                .partition_point(|(j, _)| j.due_at <= held.0.due_at);
            self.later.insert(at, held);
        }
    }

    /// Moves the held jobs that are due by `now` to the queue; returns when the next one
    /// left is due.
    fn release_due(&mut self, now: i64) -> Option<i64> {
        while let Some((job, _)) = self.later.front() {
            if job.due_at > now {
                return Some(job.due_at);
            }
            if let Some(held) = self.later.pop_front() {
                self.queue.push_back(held);
            }
        }
        None
    }

    /// Every job in memory (queued or held), taken out.
    fn drain(&mut self) -> Vec<Job> {
        self.queue
            .drain(..)
            .chain(self.later.drain(..))
            .map(|(j, _)| j)
            .collect()
    }
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
    /// HTTP attempts in flight (the `max_concurrency` and `max_in_flight` limits).
    in_flight: usize,
    queued: usize,
    /// Attempts finished but not yet recorded (they still count against memory).
    recording: usize,
    /// Fresh deliveries handed over by ingest right after their commit.
    handoff: mpsc::UnboundedReceiver<Vec<(Job, i64)>>,
    /// Room for handed-over deliveries, published to ingest.
    credits: Arc<AtomicI64>,
    full: Arc<std::sync::RwLock<HashSet<String>>>,
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
    pub handoff: mpsc::UnboundedReceiver<Vec<(Job, i64)>>,
    pub credits: Arc<AtomicI64>,
    /// Endpoints whose slot is full, published to ingest.
    pub full: Arc<std::sync::RwLock<HashSet<String>>>,
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
            recording: 0,
            handoff: links.handoff,
            credits: links.credits,
            full: links.full,
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
            in_flight: 0,
            queued: 0,
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

    /// Endpoints whose slot holds all the jobs it may: skipped by claims and by hand-over.
    fn full_endpoints(&self) -> HashSet<String> {
        self.slots
            .iter()
            .filter(|(_, s)| s.full())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Tells ingest how many fresh deliveries this process can take over right now, and
    /// which endpoints must not get any.
    fn publish_room(&self) {
        let budget = self.config.max_concurrency * 2;
        let room = budget.saturating_sub(self.in_flight + self.queued + self.recording);
        self.credits.store(room as i64, Ordering::Relaxed);
        self.publish_full(&self.full_endpoints());
    }

    /// Ingest leaves a full endpoint's fresh deliveries in the store without waking us,
    /// counting on the claim made when that endpoint's queue frees. Published before each
    /// claim: ingest reads the set while it holds the writer, so a group that still saw the
    /// endpoint full commits before the claim's transaction starts, and the claim finds it.
    fn publish_full(&self, full: &HashSet<String>) {
        if let Ok(mut shared) = self.full.write() {
            if *shared != *full {
                shared.clone_from(full);
            }
        }
    }

    /// Takes handed-over deliveries; those of an endpoint whose slot filled up meanwhile go
    /// back to the store (their leases released), like a claim would have left them there.
    fn accept(&mut self, jobs: Vec<(Job, i64)>) {
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
            slot.queue.push_back((job, lease_until));
            self.queued += 1;
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
        while let Ok(jobs) = self.handoff.try_recv() {
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
        self.in_flight = self.in_flight.saturating_sub(1);
        self.recording += 1;
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
        if self.in_flight + self.queued + self.recording >= self.config.max_concurrency * 2 {
            self.need_claim = true;
        }
        if let Some(at) = r.due_at {
            let wait = until_due(at, now_ms()).unwrap_or(Duration::ZERO);
            self.next_check = self.next_check.min(tokio::time::Instant::now() + wait);
        }
        self.recording = self.recording.saturating_sub(1);
    }

    /// Drops the queued jobs of an endpoint whose settings changed. Their leases are given
    /// up so that they are claimed again (with the new settings) if still pending.
    fn forget(&mut self, endpoint_id: &str) {
        let Some(slot) = self.slots.get_mut(endpoint_id) else {
            return;
        };
        let ids: Vec<String> = slot.drain().into_iter().map(|j| j.delivery_id).collect();
        self.queued -= ids.len();
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

    /// Claims due work into the slots; true when the claim was full (more may be due).
    async fn claim(&mut self) -> bool {
        let budget = self.config.max_concurrency * 2;
        let room = budget
            .saturating_sub(self.in_flight + self.queued + self.recording)
            .min(CLAIM_BATCH);
        if room == 0 {
            return false;
        }
        let skip = self.full_endpoints();
        self.publish_full(&skip);
        let now = now_ms();
        let ahead = CLAIM_AHEAD.as_millis() as i64;
        let lease_until = now + ahead + lease_ms(&self.config);
        let store = self.store.clone();
        let claimed = async move {
            store
                .claim_due(&Claim {
                    now,
                    due_by: now + ahead,
                    lease_until,
                    limit: room as i64,
                    per_endpoint: CLAIM_PER_ENDPOINT,
                    skip: &skip,
                })
                .await
        };
        match self.serving(claimed).await {
            Ok(jobs) => {
                let full = jobs.len() == room;
                let nodes = self.nodes.load(Ordering::Relaxed);
                for job in jobs {
                    let slot = self
                        .slots
                        .entry(job.endpoint.id.clone())
                        .or_insert_with(Slot::new);
                    slot.configure(&job, nodes);
                    slot.push((job, lease_until), now);
                    self.queued += 1;
                }
                full
            }
            Err(e) => {
                tracing::error!(error = %e, "claiming due deliveries failed");
                // Not a sleep here: hand-overs and finished attempts keep being served.
                self.claims_paused_until = Some(tokio::time::Instant::now() + CLAIM_ERROR_PAUSE);
                false
            }
        }
    }

    /// Awaits a read of the store while still taking fresh deliveries from ingest and
    /// finished attempts, and starting what they allow: a claim (of a failing endpoint's
    /// retries, say) takes a millisecond or more, and a fresh delivery that waited for it
    /// was the other endpoints' p99.
    async fn serving<T>(&mut self, read: impl std::future::Future<Output = T>) -> T {
        tokio::pin!(read);
        loop {
            tokio::select! {
                biased;
                out = &mut read => return out,
                Some(jobs) = self.handoff.recv() => {
                    self.accept(jobs);
                    self.dispatch();
                }
                Some((id, took)) = self.done.recv() => {
                    self.on_done(&id, took);
                    self.dispatch();
                }
            }
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
            while self.in_flight < self.config.max_concurrency
                && slot.in_flight < slot.max_in_flight
                && !slot.queue.is_empty()
            {
                if let Some(bucket) = &mut slot.bucket {
                    if let Err(w) = bucket.take(now) {
                        wait_at_most(w);
                        break;
                    }
                }
                let Some((job, lease_until)) = slot.queue.pop_front() else {
                    break;
                };
                self.queued -= 1;
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
                self.in_flight += 1;
                metrics::histogram!("herald_delivery_lag_seconds")
                    .record(((start - job.due_at).max(0)) as f64 / 1000.0);
                let sender = self.sender.clone();
                let finished = self.finished.clone();
                let done = self.done_tx.clone();
                tokio::spawn(async move {
                    let began = Instant::now();
                    let prepared = request::prepare(&job, job.attempts + 1, start);
                    let result = sender.send(&job.endpoint.url, prepared).await;
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

    /// How long to sleep when nothing is startable: until the next due time, bounded.
    async fn idle_wait(&mut self) -> Duration {
        // Full endpoints are claimed for when their queues free a place, not by the clock.
        let (store, full) = (self.store.clone(), self.full_endpoints());
        match self
            .serving(async move { store.next_due_at(&full).await })
            .await
        {
            Ok(Some(at)) => {
                if let Some(wait) = until_due(at, now_ms()) {
                    wait.min(MAX_IDLE)
                } else {
                    // Due work the claim did not take: more than one claim takes of an
                    // endpoint, an ordered predecessor in flight, or (PostgreSQL) an endpoint
                    // row locked by a concurrent commit, which `SKIP LOCKED` passes over.
                    // Look again soon.
                    DUE_RECHECK
                }
            }
            Ok(None) => MAX_IDLE,
            Err(e) => {
                tracing::warn!(error = %e, "reading the next due time failed");
                MAX_IDLE
            }
        }
    }

    /// Stops claiming, gives back queued jobs and waits (bounded) for attempts in flight.
    async fn shut_down(mut self) {
        self.credits.store(0, Ordering::Relaxed);
        self.handoff.close();
        while let Ok(jobs) = self.handoff.try_recv() {
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
        while self.in_flight > 0 {
            match tokio::time::timeout_at(deadline, self.done.recv()).await {
                Ok(Some((id, took))) => self.on_done(&id, took),
                _ => break,
            }
        }
        if self.in_flight > 0 {
            tracing::warn!(
                in_flight = self.in_flight,
                "shutting down with attempts in flight; they will be retried"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use super::*;

    /// A loopback receiver: its URL, and one message per request it got.
    async fn receiver() -> (String, mpsc::UnboundedReceiver<()>) {
        let (arrived_tx, arrived) = mpsc::unbounded_channel::<()>();
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move || {
                let _ = arrived_tx.send(());
                async { "" }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, arrived)
    }

    /// A job for an endpoint at `url`.
    fn job_to(url: String) -> Job {
        let mut job =
            crate::delivery::request::tests::job(crate::store::Format::StandardWebhooks, b"{}");
        Arc::make_mut(&mut job.endpoint).url = url;
        job
    }

    async fn store_in(dir: &tempfile::TempDir) -> crate::store::sqlite::SqliteStore {
        crate::store::sqlite::SqliteStore::open(dir.path(), false)
            .await
            .unwrap()
    }

    /// A dispatcher on `store` (loopback targets allowed), and its hand-over channel. Its
    /// finished attempts go nowhere: nothing is recorded.
    fn dispatcher_on(
        store: crate::store::sqlite::SqliteStore,
    ) -> (Dispatcher, mpsc::UnboundedSender<Vec<(Job, i64)>>) {
        let policy = super::super::ssrf::AddressPolicy {
            allow_private: true,
            allowed: Vec::new(),
        };
        let sender = Sender::new(policy, Duration::from_secs(5), Duration::from_secs(5));
        let (handoff_tx, handoff) = mpsc::unbounded_channel();
        let (finished, _) = mpsc::unbounded_channel();
        let (_, recorded) = mpsc::unbounded_channel();
        let (_, changes) = mpsc::unbounded_channel();
        let links = Links {
            wake: Arc::new(Notify::new()),
            changes,
            finished,
            recorded,
            handoff,
            credits: Arc::new(AtomicI64::new(0)),
            full: Default::default(),
        };
        let nodes = Arc::new(AtomicI64::new(1));
        let config = Arc::new(Config::default());
        let dispatcher = Dispatcher::new(Arc::new(store), config, sender, links, nodes);
        (dispatcher, handoff_tx)
    }

    /// A delivery handed over while the dispatcher awaits a store read (here one that ends
    /// only when the test says so) is sent at once, not after the read.
    #[tokio::test]
    async fn a_handed_over_delivery_goes_out_while_a_store_read_is_pending() {
        let (url, mut arrived) = receiver().await;

        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir).await;
        let (mut dispatcher, handoff_tx) = dispatcher_on(store);

        let job = job_to(url);
        handoff_tx.send(vec![(job, i64::MAX)]).unwrap();
        let (end_read, read) = tokio::sync::oneshot::channel::<()>();
        let served = dispatcher.serving(async move {
            let _ = read.await;
        });
        tokio::pin!(served);
        tokio::select! {
            _ = &mut served => panic!("the read ended by itself"),
            got = tokio::time::timeout(Duration::from_secs(10), arrived.recv()) => {
                assert!(matches!(got, Ok(Some(()))), "the delivery waited for the read");
            }
        }
        end_read.send(()).unwrap();
        served.await;
    }

    /// Claims failing (here the endpoints table is gone from the real file) pause claiming,
    /// not the dispatcher: a delivery handed over during the pause goes out at once.
    #[tokio::test]
    async fn a_failed_claim_does_not_hold_up_handed_over_deliveries() {
        let (url, mut arrived) = receiver().await;

        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir).await;
        let mut raw = sqlx::SqliteConnection::connect(&format!(
            "sqlite://{}",
            dir.path().join("herald.db").display()
        ))
        .await
        .unwrap();
        sqlx::query("ALTER TABLE endpoints RENAME TO endpoints_gone")
            .execute(&mut raw)
            .await
            .unwrap();
        let (dispatcher, handoff_tx) = dispatcher_on(store);
        let stop = CancellationToken::new();
        let running = tokio::spawn(dispatcher.run(stop.clone()));
        // The first claim fails at once; hand over while its pause runs.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let job = job_to(url);
        let sent = Instant::now();
        handoff_tx.send(vec![(job, i64::MAX)]).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), arrived.recv()).await;
        assert!(matches!(got, Ok(Some(()))), "the delivery never came");
        let took = sent.elapsed();
        assert!(
            took < CLAIM_ERROR_PAUSE / 2,
            "the delivery waited {took:?}, as if for the claim pause"
        );
        stop.cancel();
        running.await.unwrap();
    }

    #[test]
    fn token_bucket_paces_to_the_rate() {
        let mut b = TokenBucket::new(2.0);
        let t0 = Instant::now();
        assert!(b.take(t0).is_ok());
        let wait = b.take(t0).unwrap_err();
        assert!(wait <= Duration::from_millis(500), "{wait:?}");
        assert!(b.take(t0 + Duration::from_millis(600)).is_ok());
    }

    #[test]
    fn a_slot_is_deep_while_its_endpoint_is_fast_and_shallow_once_slow() {
        let mut slot = Slot::new();
        slot.max_in_flight = 4;
        assert_eq!(slot.capacity(), 4 * DEPTH_FAST);
        slot.slow = true;
        assert_eq!(slot.capacity(), 4 * DEPTH_SLOW);
        slot.in_flight = 4;
        for _ in 0..4 {
            assert!(!slot.full());
            slot.in_flight += 1; // stands in for queued jobs: both count
        }
        assert!(slot.full());
        // A rate limit caps the depth at two seconds' worth, whatever the speed.
        let mut limited = Slot::new();
        limited.bucket = Some(TokenBucket::new(3.0));
        assert_eq!(limited.capacity(), 6);
    }

    fn due(id: &str, at: i64) -> Held {
        let mut job =
            crate::delivery::request::tests::job(crate::store::Format::StandardWebhooks, b"{}");
        job.delivery_id = id.into();
        job.due_at = at;
        (job, at + 60_000)
    }

    fn ids(q: &VecDeque<Held>) -> Vec<&str> {
        q.iter().map(|(j, _)| j.delivery_id.as_str()).collect()
    }

    #[test]
    fn jobs_claimed_ahead_wait_for_their_due_time_in_due_order() {
        let mut slot = Slot::new();
        slot.push(due("late", 1_080), 1_000);
        slot.push(due("now", 1_000), 1_000);
        slot.push(due("soon", 1_030), 1_000);
        slot.push(due("sooner", 1_010), 1_000);
        assert_eq!(ids(&slot.queue), ["now"]);
        assert_eq!(ids(&slot.later), ["sooner", "soon", "late"]);
        // Held jobs take room in memory like queued ones.
        slot.max_in_flight = 1;
        slot.slow = true;
        assert!(slot.full());
        assert!(!slot.is_empty());

        assert_eq!(slot.release_due(1_009), Some(1_010));
        assert_eq!(ids(&slot.queue), ["now"]);
        assert_eq!(slot.release_due(1_030), Some(1_080));
        assert_eq!(ids(&slot.queue), ["now", "sooner", "soon"]);
        assert_eq!(slot.release_due(1_080), None);
        assert_eq!(ids(&slot.queue), ["now", "sooner", "soon", "late"]);

        slot.push(due("held", 2_000), 1_100);
        let all: Vec<String> = slot.drain().into_iter().map(|j| j.delivery_id).collect();
        assert_eq!(all, ["now", "sooner", "soon", "late", "held"]);
        assert!(slot.is_empty());
    }
}
