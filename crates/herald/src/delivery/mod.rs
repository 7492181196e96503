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
mod recorder;
pub mod request;
pub mod retry;
pub mod ssrf;

use std::sync::Arc;

use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
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
    shutdown: CancellationToken,
) -> (EngineHandle, JoinHandle<()>) {
    let wake = Arc::new(Notify::new());
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
    let (finished_tx, finished_rx) = mpsc::unbounded_channel();
    let (recorded_tx, recorded_rx) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(recorder::run(
        store.clone(),
        config.clone(),
        finished_rx,
        recorded_tx,
        changes_tx,
    ));
    let dispatcher = dispatcher::Dispatcher::new(
        store,
        config,
        sender,
        wake,
        changes_rx,
        finished_tx,
        recorded_rx,
    );
    let task = tokio::spawn(async move {
        dispatcher.run(shutdown).await;
        // The dispatcher dropped its sender: the recorder ends after the last outcome.
        let _ = recorder.await;
    });
    (handle, task)
}
