//! Claiming: what the dispatcher takes from the store (work not handed over by ingest,
//! retries, full endpoints' backlogs), and when it looks again.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::slot::Slot;
use super::{lease_ms, until_due, Dispatcher};
use crate::store::Claim;
use crate::timefmt::now_ms;

/// Most rows claimed in one go, and of one endpoint.
pub(super) const CLAIM_BATCH: usize = 256;
pub(super) const CLAIM_PER_ENDPOINT: i64 = 32;
/// Longest sleep without looking at the store (a safety net; wake-ups do the real work).
pub(super) const MAX_IDLE: Duration = Duration::from_secs(2);
/// How soon to claim again when work is due but the last claim could not take it.
pub(super) const DUE_RECHECK: Duration = Duration::from_millis(25);
/// How long claims pause after one failed (the store is down, say).
pub(super) const CLAIM_ERROR_PAUSE: Duration = Duration::from_millis(500);
/// How far ahead a claim takes work scheduled for later (retries). Such jobs wait in their
/// endpoint's slot and each starts at its own due time: one claim serves this much of the
/// schedule, and a failing endpoint's retries come one by one, as scheduled, instead of in
/// a burst at each claim (which delayed the other endpoints' deliveries of that moment).
pub(super) const CLAIM_AHEAD: Duration = Duration::from_millis(100);

impl Dispatcher {
    /// Claims due work into the slots; true when the claim was full (more may be due).
    pub(super) async fn claim(&mut self) -> bool {
        let room = self.budget.room().min(CLAIM_BATCH);
        if room == 0 {
            return false;
        }
        let skip = self.full_endpoints();
        self.handoff.publish_full(&skip);
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
                    slot.push((job, lease_until, None), now);
                    self.budget.queued += 1;
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
    pub(super) async fn serving<T>(&mut self, read: impl std::future::Future<Output = T>) -> T {
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

    /// How long to sleep when nothing is startable: until the next due time, bounded.
    pub(super) async fn idle_wait(&mut self) -> Duration {
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

    /// Endpoints whose slot holds all the jobs it may: skipped by claims and by hand-over.
    pub(super) fn full_endpoints(&self) -> HashSet<String> {
        self.slots
            .iter()
            .filter(|(_, s)| s.full())
            .map(|(id, _)| id.clone())
            .collect()
    }
}
