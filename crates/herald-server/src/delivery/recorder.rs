//! Records attempt outcomes in batches: the attempt row, the delivery's next step from the
//! retry schedule, and the endpoint failure policy. Tells the dispatcher when an outcome is stored.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::attempt::AttemptResult;
use super::retry::next_step;
use crate::config::Config;
use crate::ids::{new_id, Kind};
use crate::store::{Attempt, Job, NextStep, RecordedOutcome, Store};

/// A finished attempt, on its way to the store.
pub struct Finished {
    pub job: Job,
    pub started_at: i64,
    pub result: AttemptResult,
}

/// Sent back to the dispatcher once an outcome is stored (the memory it held is free).
pub struct Recorded {
    /// When the store will hold due work because of this outcome: the retry time, or now
    /// for an ordered endpoint (its next delivery may go).
    pub due_at: Option<i64>,
}

const BATCH: usize = 256;
/// Below this many outcomes, the recorder waits up to [`LINGER`] for more before writing.
const FEW: usize = 32;
/// At a few hundred deliveries per second, outcomes come one at a time and each took a
/// commit of its own on the one writer connection, which the next event's ingest then often
/// waited behind; a short wait makes one commit of several. Busy, batches are big at once
/// and nobody waits. Only the stored state lags: the HTTP attempt is already over.
const LINGER: Duration = Duration::from_millis(10);

pub async fn run(
    store: Arc<dyn Store>,
    config: Arc<Config>,
    mut finished: mpsc::UnboundedReceiver<Finished>,
    recorded: mpsc::UnboundedSender<Recorded>,
    changes: mpsc::UnboundedSender<String>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while finished.recv_many(&mut batch, BATCH).await > 0 {
        gather(&mut finished, &mut batch).await;
        let now = crate::timefmt::now_ms();
        let outcomes: Vec<RecordedOutcome> =
            batch.iter().map(|f| outcome(&config, f, now)).collect();
        let mut tries = 0;
        loop {
            match store.record_outcomes(&outcomes).await {
                Ok(disabled) => {
                    for o in &outcomes {
                        let label = match o.next {
                            NextStep::Succeeded => "succeeded",
                            NextStep::RetryAt(_) => "retry",
                            NextStep::Failed | NextStep::Gone => "failed",
                            NextStep::Cancelled => "cancelled",
                        };
                        metrics::counter!("herald_deliveries_total", "outcome" => label)
                            .increment(1);
                    }
                    for change in disabled {
                        tracing::warn!(endpoint = %change.endpoint_id, cancelled = change.cancelled, "endpoint auto-disabled");
                        metrics::counter!("herald_deliveries_total", "outcome" => "cancelled")
                            .increment(change.cancelled);
                        let _ = changes.send(change.endpoint_id);
                    }
                    break;
                }
                Err(e) if tries < 60 => {
                    // A database outage: keep the outcomes and try again (about 2 minutes).
                    tries += 1;
                    tracing::warn!(error = %e, "recording outcomes failed; retrying");
                    tokio::time::sleep(Duration::from_millis((200 * tries).min(2000))).await;
                }
                Err(e) => {
                    // Leases lapse and the deliveries are attempted again: at-least-once.
                    tracing::error!(error = %e, "could not record outcomes; they will be retried");
                    break;
                }
            }
        }
        for (f, o) in batch.drain(..).zip(&outcomes) {
            let due_at = match o.next {
                NextStep::RetryAt(at) => Some(at),
                _ if f.job.endpoint.ordered => Some(now),
                _ => None,
            };
            let _ = recorded.send(Recorded { due_at });
        }
    }
}

/// Adds to a small batch what arrives within [`LINGER`]; never when an ordered endpoint's
/// outcome is in it, since that endpoint's next delivery waits for this one to be recorded.
async fn gather(finished: &mut mpsc::UnboundedReceiver<Finished>, batch: &mut Vec<Finished>) {
    let deadline = tokio::time::Instant::now() + LINGER;
    while batch.len() < FEW && !batch.iter().any(|f| f.job.endpoint.ordered) {
        let more = finished.recv_many(batch, BATCH - batch.len());
        match tokio::time::timeout_at(deadline, more).await {
            Ok(n) if n > 0 => {}
            _ => break, // the time is up, or the engine has stopped
        }
    }
}

fn outcome(config: &Config, f: &Finished, now: i64) -> RecordedOutcome {
    let number = f.job.attempts + 1;
    let r = &f.result;
    metrics::histogram!("herald_delivery_attempt_duration_seconds")
        .record(r.duration.as_secs_f64());
    let next = if r.cancelled {
        NextStep::Cancelled
    } else if r
        .error
        .as_ref()
        .is_some_and(|(kind, _)| *kind == "transformation")
    {
        // It would fail the same way again: `retry` and `recover` run it anew.
        NextStep::Failed
    } else {
        next_step(
            number,
            r.succeeded(),
            r.status,
            &config.retry_schedule,
            config.retry_jitter,
            r.retry_after,
            now,
        )
    };
    RecordedOutcome {
        attempt: Attempt {
            id: new_id(Kind::Attempt),
            delivery_id: f.job.delivery_id.clone(),
            number,
            started_at: f.started_at,
            duration_ms: r.duration.as_millis() as i64,
            status_code: r.status.map(i64::from),
            response_body: r.response_body.clone(),
            error_kind: r.error.as_ref().map(|(k, _)| k.to_string()),
            error_message: r.error.as_ref().map(|(_, m)| m.clone()),
        },
        endpoint_id: f.job.endpoint.id.clone(),
        ordered: f.job.endpoint.ordered,
        next,
        now,
        auto_disable_after_ms: config.auto_disable_after.as_millis() as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::request::tests::job;
    use crate::store::Format;

    fn finished(ordered: bool) -> Finished {
        let mut job = job(Format::StandardWebhooks, b"{}");
        Arc::make_mut(&mut job.endpoint).ordered = ordered;
        Finished {
            job,
            started_at: 0,
            result: AttemptResult {
                duration: Duration::from_millis(1),
                status: Some(200),
                response_body: None,
                error: None,
                retry_after: None,
                cancelled: false,
            },
        }
    }

    #[tokio::test]
    async fn a_small_batch_takes_in_what_follows() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut batch = vec![finished(false)];
        tx.send(finished(false)).unwrap();
        tx.send(finished(false)).unwrap();
        gather(&mut rx, &mut batch).await;
        assert_eq!(batch.len(), 3);
    }

    #[tokio::test]
    async fn an_ordered_outcome_is_written_at_once() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut batch = vec![finished(false), finished(true)];
        tx.send(finished(false)).unwrap();
        gather(&mut rx, &mut batch).await;
        assert_eq!(batch.len(), 2, "its successor waits for this record");
    }

    #[tokio::test]
    async fn a_big_batch_goes_at_once() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut batch: Vec<Finished> = (0..FEW).map(|_| finished(false)).collect();
        tx.send(finished(false)).unwrap();
        gather(&mut rx, &mut batch).await;
        assert_eq!(batch.len(), FEW);
    }
}
