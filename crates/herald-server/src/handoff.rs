//! The hand-off of fresh deliveries from ingest to the dispatcher, owned by this one type.
//!
//! While the engine has room, ingest inserts a fresh delivery already leased and gives it to
//! the dispatcher right after the commit, so the hot path never claims from the store. The
//! two sides share a credit count (the dispatcher's room), the set of endpoints whose
//! in-memory queue is full, a wake-up signal and a channel of leased jobs. Its invariants:
//!
//! 1. A delivery is handed over only when ingest took a credit for it ([`Handover::Taken`]),
//!    inserted it leased until [`IngestSide::lease_until`] in the same transaction, and sends
//!    it only after that transaction committed ([`IngestSide::send`]).
//! 2. Credits never exceed the room the dispatcher last published; a commit that failed gives
//!    back every credit it took ([`IngestSide::refund`]).
//! 3. An endpoint the dispatcher published as full gets no hand-over, and its fresh
//!    deliveries need no wake-up ([`Handover::EndpointFull`]): the dispatcher claims them when
//!    that endpoint's queue frees a place. Any other delivery left in the store
//!    ([`Handover::Left`]) must wake the engine ([`IngestSide::wake`]).
//! 4. Ordered endpoints are never handed over: their order is the store's.
//! 5. Once the dispatcher stops ([`EngineSide::close`]) no credit is left, so every fresh
//!    delivery stays in the store; jobs sent after that stay leased until the lease lapses or
//!    the next start releases them.
//!
//! The store receives its [`IngestSide`] when it opens; the engine takes the [`EngineSide`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{mpsc, Notify};

use crate::store::{Endpoint, Job};

/// A leased job and when its lease ends (ms).
pub type Leased = (Job, i64);

/// What became of a fresh delivery offered to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handover {
    /// Take it: lease it in the transaction and send it after the commit (one credit taken).
    Taken,
    /// Leave it in the store, unleased, without waking the engine: its endpoint's queue is
    /// full and the engine claims from the store when that queue frees a place.
    EndpointFull,
    /// Leave it in the store (no room, or an ordered endpoint); the engine must be woken.
    Left,
}

struct Shared {
    /// Deliveries the engine can take now; ingest takes one per delivery it hands over.
    credits: AtomicI64,
    /// How long a handed-over delivery stays leased (attempt timeout + margin).
    lease_ms: i64,
    /// Wakes the engine for committed deliveries that were not handed over.
    wake: Arc<Notify>,
    /// Endpoints whose in-memory queue is full.
    full: RwLock<HashSet<String>>,
}

/// A new hand-off whose handed-over deliveries stay leased for `lease_ms`.
pub fn channel(lease_ms: i64) -> (IngestSide, EngineSide) {
    let shared = Arc::new(Shared {
        credits: AtomicI64::new(0),
        lease_ms,
        wake: Arc::new(Notify::new()),
        full: RwLock::new(HashSet::new()),
    });
    let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
    (
        IngestSide {
            shared: shared.clone(),
            jobs: jobs_tx,
        },
        EngineSide {
            shared,
            jobs: jobs_rx,
        },
    )
}

/// Ingest's end: held by the store's group-commit writer.
#[derive(Clone)]
pub struct IngestSide {
    shared: Arc<Shared>,
    jobs: mpsc::UnboundedSender<Vec<Leased>>,
}

impl IngestSide {
    /// A side whose engine never takes anything (a store opened without an engine, as in
    /// tests and tools): every fresh delivery stays in the store.
    pub fn detached() -> IngestSide {
        let (ingest, mut engine) = channel(0);
        engine.close();
        ingest
    }

    /// Whether a fresh delivery to `endpoint` is handed over; takes one credit when it is.
    pub fn offer(&self, endpoint: &Endpoint) -> Handover {
        if endpoint.ordered {
            return Handover::Left;
        }
        let full = self.shared.full.read();
        if full.is_ok_and(|f| f.contains(&endpoint.id)) {
            return Handover::EndpointFull;
        }
        if self.shared.credits.fetch_sub(1, Ordering::Relaxed) > 0 {
            return Handover::Taken;
        }
        self.shared.credits.fetch_add(1, Ordering::Relaxed);
        Handover::Left
    }

    /// The lease of a delivery taken for hand-over, from its creation time.
    pub fn lease_until(&self, created_at: i64) -> i64 {
        created_at + self.shared.lease_ms
    }

    /// The transaction that took `taken` credits did not commit: they go back.
    pub fn refund(&self, taken: usize) {
        self.shared
            .credits
            .fetch_add(taken as i64, Ordering::Relaxed);
    }

    /// Gives committed, leased deliveries to the engine. If the engine has stopped they stay
    /// leased in the store until the lease lapses (or the next start releases them).
    pub fn send(&self, jobs: Vec<Leased>) {
        if !jobs.is_empty() {
            let _ = self.jobs.send(jobs);
        }
    }

    /// Committed deliveries were left in the store for the engine to claim.
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }
}

/// The dispatcher's end.
pub struct EngineSide {
    shared: Arc<Shared>,
    jobs: mpsc::UnboundedReceiver<Vec<Leased>>,
}

impl EngineSide {
    /// The signal ingest (and the rest of the engine) wakes the dispatcher with.
    pub fn wake_signal(&self) -> Arc<Notify> {
        self.shared.wake.clone()
    }

    /// How long a handed-over delivery is leased for.
    pub fn lease_ms(&self) -> i64 {
        self.shared.lease_ms
    }

    /// Publishes how many fresh deliveries the engine can take right now.
    pub fn publish_room(&self, room: usize) {
        self.shared.credits.store(room as i64, Ordering::Relaxed);
    }

    /// Publishes the endpoints whose queue is full. Published before each claim: ingest reads
    /// the set while it holds the writer, so a group that still saw the endpoint full commits
    /// before the claim's transaction starts, and the claim finds its deliveries.
    pub fn publish_full(&self, full: &HashSet<String>) {
        if let Ok(mut shared) = self.shared.full.write() {
            if *shared != *full {
                shared.clone_from(full);
            }
        }
    }

    /// The next handed-over batch (`None` once closed and empty).
    pub async fn recv(&mut self) -> Option<Vec<Leased>> {
        self.jobs.recv().await
    }

    /// A handed-over batch already waiting, if any.
    pub fn try_recv(&mut self) -> Option<Vec<Leased>> {
        self.jobs.try_recv().ok()
    }

    /// The engine stops taking deliveries: no credit is left and the channel closes (what
    /// was already sent can still be read with [`EngineSide::try_recv`]).
    pub fn close(&mut self) {
        self.shared.credits.store(0, Ordering::Relaxed);
        self.jobs.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(id: &str, ordered: bool) -> Endpoint {
        let mut ep =
            (*crate::delivery::request::tests::job(crate::store::Format::StandardWebhooks, b"{}")
                .endpoint)
                .clone();
        ep.id = id.into();
        ep.ordered = ordered;
        ep
    }

    #[test]
    fn credits_bound_the_hand_overs_and_a_failed_commit_gives_them_back() {
        let (ingest, engine) = channel(20_000);
        let ep = endpoint("ep_a", false);
        assert_eq!(ingest.offer(&ep), Handover::Left, "no room published yet");
        engine.publish_room(2);
        assert_eq!(ingest.offer(&ep), Handover::Taken);
        assert_eq!(ingest.offer(&ep), Handover::Taken);
        assert_eq!(ingest.offer(&ep), Handover::Left, "room of two");
        ingest.refund(2);
        assert_eq!(ingest.offer(&ep), Handover::Taken);
        assert_eq!(ingest.lease_until(1_000), 21_000);
    }

    #[test]
    fn full_and_ordered_endpoints_are_never_handed_over() {
        let (ingest, engine) = channel(1);
        engine.publish_room(10);
        engine.publish_full(&HashSet::from(["ep_full".to_string()]));
        assert_eq!(
            ingest.offer(&endpoint("ep_full", false)),
            Handover::EndpointFull
        );
        assert_eq!(ingest.offer(&endpoint("ep_ord", true)), Handover::Left);
        // Neither took a credit: ten are still there.
        let other = endpoint("ep_b", false);
        for _ in 0..10 {
            assert_eq!(ingest.offer(&other), Handover::Taken);
        }
        assert_eq!(ingest.offer(&other), Handover::Left);
        // Once no longer full, the endpoint is handed over again.
        engine.publish_full(&HashSet::new());
        engine.publish_room(1);
        assert_eq!(ingest.offer(&endpoint("ep_full", false)), Handover::Taken);
    }

    #[tokio::test]
    async fn sent_jobs_arrive_and_a_closed_engine_takes_nothing() {
        let (ingest, mut engine) = channel(1);
        let ep = endpoint("ep_a", false);
        engine.publish_room(5);
        assert_eq!(ingest.offer(&ep), Handover::Taken);
        let job =
            crate::delivery::request::tests::job(crate::store::Format::StandardWebhooks, b"{}");
        ingest.send(vec![(job.clone(), 7)]);
        ingest.send(Vec::new());
        let got = engine.recv().await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, 7);
        assert!(engine.try_recv().is_none(), "an empty batch is not sent");
        engine.close();
        assert_eq!(ingest.offer(&ep), Handover::Left);
        ingest.send(vec![(job, 8)]); // must not panic: the job stays leased in the store
        assert!(engine.recv().await.is_none());
        assert_eq!(IngestSide::detached().offer(&ep), Handover::Left);
    }

    #[tokio::test]
    async fn a_wake_from_ingest_reaches_the_engine() {
        let (ingest, engine) = channel(1);
        let signal = engine.wake_signal();
        ingest.wake();
        tokio::time::timeout(std::time::Duration::from_secs(1), signal.notified())
            .await
            .expect("woken");
    }
}
