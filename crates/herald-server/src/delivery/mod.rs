//! The delivery engine (`delivery.md`): claims due deliveries from the store, attempts
//! them with per-endpoint isolation, and records the outcomes.
//!
//! - `dispatcher`: the one task that owns per-endpoint queues, limits and leases.
//! - `attempt`: the HTTP request itself and the classification of its outcome.
//! - `request`: body and signed headers for each format.
//! - `recorder`: turns outcomes into store updates (retry schedule, failure policy).
//! - `retry`, `ssrf`: the schedule and the address policy.

pub mod attempt;
mod dispatcher;

pub use dispatcher::lease_ms;
mod chat;
mod recorder;
pub mod request;
pub mod retry;
pub mod ssrf;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::handoff::EngineSide;
use crate::store::Store;

/// How the API tells the engine that something changed.
#[derive(Clone)]
pub struct EngineHandle {
    wake: Arc<Notify>,
    changes: mpsc::UnboundedSender<String>,
}

impl EngineHandle {
    /// New work may be due now (an event was committed, a delivery requeued).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// An endpoint was edited, disabled or deleted: drop what is queued in memory for it.
    pub fn endpoint_changed(&self, endpoint_id: &str) {
        let _ = self.changes.send(endpoint_id.to_string());
        self.wake.notify_one();
    }
}

/// Starts the engine; it stops (finishing or releasing in-flight work) when `shutdown`
/// is cancelled.
pub fn start(
    store: Arc<dyn Store>,
    config: Arc<Config>,
    handoff: EngineSide,
    shutdown: CancellationToken,
) -> (EngineHandle, JoinHandle<()>) {
    let wake = handoff.wake_signal();
    let (changes_tx, changes_rx) = mpsc::unbounded_channel();
    let handle = EngineHandle {
        wake: wake.clone(),
        changes: changes_tx.clone(),
    };
    let policy = ssrf::AddressPolicy {
        allow_private: config.allow_private_targets,
        allowed: config.allowed_target_cidrs.clone(),
    };
    let sender = attempt::Sender::new(policy, config.connect_timeout, config.attempt_timeout);
    let nodes = Arc::new(AtomicI64::new(1));
    tokio::spawn(maintain(
        store.clone(),
        wake.clone(),
        nodes.clone(),
        shutdown.clone(),
    ));
    let (finished_tx, finished_rx) = mpsc::unbounded_channel();
    let (recorded_tx, recorded_rx) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(recorder::run(
        store.clone(),
        config.clone(),
        finished_rx,
        recorded_tx,
        changes_tx,
    ));
    let links = dispatcher::Links {
        wake,
        changes: changes_rx,
        finished: finished_tx,
        recorded: recorded_rx,
        handoff,
    };
    let dispatcher = dispatcher::Dispatcher::new(store, config, sender, links, nodes);
    let task = tokio::spawn(async move {
        dispatcher.run(shutdown).await;
        // The dispatcher dropped its sender: the recorder ends after the last outcome.
        let _ = recorder.await;
    });
    (handle, task)
}

/// How often a process beats, and reaps leases of dead processes.
const MAINTAIN_EVERY: Duration = Duration::from_secs(3);

/// Cross-process upkeep: subscribe to wake-ups, beat (so limits can be shared by the live
/// processes), and release expired leases so that a dead process's work is taken over.
async fn maintain(
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
    nodes: Arc<AtomicI64>,
    shutdown: CancellationToken,
) {
    if let Err(e) = store.listen(wake.clone()).await {
        tracing::warn!(error = %e, "cannot listen for wake-ups; relying on polling");
    }
    let node = store.node().to_string();
    let mut tick = tokio::time::interval(MAINTAIN_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = crate::timefmt::now_ms();
        match store.heartbeat(&node, now).await {
            Ok(n) => nodes.store(n.max(1), Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
        }
        match store.reap_expired_leases(now).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(released = n, "released expired leases");
                wake.notify_one();
            }
            Err(e) => tracing::warn!(error = %e, "reaping expired leases failed"),
        }
    }
}
