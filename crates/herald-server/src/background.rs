//! Periodic work that must never block ingest or delivery: retention in small batches,
//! idempotency expiry, the pending-deliveries gauge, and the metrics recorder's upkeep.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::Store;
use crate::timefmt::now_ms;

const GAUGE_EVERY: Duration = Duration::from_secs(5);
const SWEEP_BATCH: i64 = 500;
/// The Prometheus recorder keeps every histogram sample until upkeep folds it into the
/// buckets (or /metrics is scraped): without this, memory grows with every delivery.
const UPKEEP_EVERY: Duration = Duration::from_secs(1);

pub async fn run(
    store: Arc<dyn Store>,
    config: Arc<Config>,
    metrics: PrometheusHandle,
    shutdown: CancellationToken,
) {
    let mut sweep = tokio::time::interval(config.sweep_interval);
    let mut gauge = tokio::time::interval(GAUGE_EVERY);
    let mut upkeep = tokio::time::interval(UPKEEP_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = upkeep.tick() => metrics.run_upkeep(),
            _ = gauge.tick() => {
                match store.count_pending().await {
                    Ok(n) => metrics::gauge!("herald_deliveries_pending").set(n as f64),
                    Err(e) => tracing::warn!(error = %e, "counting pending deliveries failed"),
                }
            }
            _ = sweep.tick() => sweep_once(&*store, &config, &shutdown).await,
        }
    }
}

async fn sweep_once(store: &dyn Store, config: &Config, shutdown: &CancellationToken) {
    let cutoff = now_ms() - config.retention.as_millis() as i64;
    loop {
        match store.sweep_events(cutoff, SWEEP_BATCH).await {
            Ok(n) if n as i64 == SWEEP_BATCH && !shutdown.is_cancelled() => {
                // Let ingest and the recorder in between batches.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(n) => {
                if n > 0 {
                    tracing::info!(deleted = n, "retention sweep");
                }
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, "retention sweep failed");
                break;
            }
        }
    }
    let cutoff = now_ms() - config.idempotency_retention.as_millis() as i64;
    if let Err(e) = store.sweep_idempotency(cutoff).await {
        tracing::warn!(error = %e, "idempotency sweep failed");
    }
}
