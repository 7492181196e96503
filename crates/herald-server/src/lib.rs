//! Herald: durable, signed webhook delivery in one binary.
//!
//! # Layout
//! - [`config`]: settings from defaults, file, environment and flags (`config.md`).
//! - [`store`]: the durable state and the delivery queue, behind the [`store::Store`] trait.
//! - [`api`]: the HTTP API (`http-api.md`), one module per resource.
//! - [`delivery`]: the engine that attempts deliveries (`delivery.md`).
//! - [`background`]: retention and gauges.
//! - [`startup`]: the HTTP service from the first connection on (start-up answers, then the API).
//! - [`handoff`]: fresh deliveries from ingest to the dispatcher, and its invariants.
//! - [`error`]: the one mapping from failures to the contract's error body.
//! - [`ServeError`]: why [`run`] could not start or stopped (for the binary's edge).
//! - [`domain`], [`schemas`], [`ids`], [`timefmt`]: rules and formats shared by the above.

pub mod api;
pub mod background;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod error;
pub mod handoff;
pub mod ids;
pub mod node;
pub mod recovery;
pub mod rekey;
pub mod routing;
pub mod schemas;
pub mod startup;
pub mod store;
pub mod timefmt;
pub mod web;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use secrecy::ExposeSecret;

use crate::config::Config;
use crate::handoff::IngestSide;
use crate::store::{Store, StoreError};

/// Why the server could not start, or stopped other than by its shutdown signal.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("installing the metrics recorder: {0}")]
    Metrics(String),
    #[error("database_url must be a postgres:// URL")]
    DatabaseUrl,
    #[error("opening the {backend} store: {source}")]
    Store { backend: String, source: StoreError },
    #[error("creating the bootstrap admin key: {0}")]
    Bootstrap(StoreError),
    #[error("serving HTTP: {0}")]
    Http(#[from] std::io::Error),
    #[error("the HTTP server task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// `Herald/<version>`, sent with every delivery.
pub const USER_AGENT: &str = concat!("Herald/", env!("CARGO_PKG_VERSION"));

/// Installs the process-wide Prometheus recorder (once) and returns its handle.
pub fn metrics_handle() -> Result<PrometheusHandle, ServeError> {
    // Held while installing: servers started at once in one process (tests) would both try.
    static HANDLE: std::sync::Mutex<Option<PrometheusHandle>> = std::sync::Mutex::new(None);
    let mut slot = HANDLE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(h) = slot.as_ref() {
        return Ok(h.clone());
    }
    let seconds = [
        0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        10.0, 30.0, 60.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
        .and_then(|b| b.install_recorder())
        .map_err(|e| ServeError::Metrics(e.to_string()))?;
    // Describe the required series up front so that /metrics lists them from the start.
    metrics::describe_counter!("herald_events_accepted_total", "events accepted, by app");
    metrics::describe_counter!("herald_deliveries_total", "delivery outcomes");
    metrics::describe_histogram!(
        "herald_delivery_attempt_duration_seconds",
        "attempt duration"
    );
    metrics::describe_histogram!("herald_delivery_lag_seconds", "due time to attempt start");
    metrics::describe_histogram!(
        "herald_ingest_commit_seconds",
        "one group commit of ingested events, from its first statement to the commit"
    );
    metrics::describe_gauge!(
        "herald_deliveries_pending",
        "deliveries waiting for an attempt"
    );
    metrics::describe_counter!(
        "herald_http_requests_total",
        "API requests by route and status"
    );
    metrics::describe_histogram!(
        "herald_http_request_duration_seconds",
        "API request duration"
    );
    *slot = Some(handle.clone());
    Ok(handle)
}

/// Opens the store for `cfg`; its ingest hands fresh deliveries over through `handoff`.
pub async fn open_store(cfg: &Config, handoff: IngestSide) -> Result<Arc<dyn Store>, ServeError> {
    if let Some(url) = &cfg.database_url {
        let url = url.expose_secret();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ServeError::DatabaseUrl);
        }
        let node = node::NodeId::stable(&cfg.data_dir);
        let store = store::postgres::PgStore::open(
            url,
            cfg.database_max_connections,
            cfg.encryption_key.as_ref(),
            node,
            handoff,
        )
        .await
        .map_err(|source| ServeError::Store {
            backend: "PostgreSQL".into(),
            source,
        })?;
        return Ok(Arc::new(store));
    }
    let store = store::sqlite::SqliteStore::open(
        &cfg.data_dir,
        cfg.sqlite_synchronous_full,
        cfg.encryption_key.as_ref(),
        handoff,
    )
    .await
    .map_err(|source| ServeError::Store {
        backend: format!("SQLite ({})", cfg.data_dir.display()),
        source,
    })?;
    Ok(Arc::new(store))
}

/// Creates the bootstrap admin key when the store has none. Returns the secret when it was
/// generated here (so the caller prints it once).
pub async fn bootstrap_admin_key(
    store: &dyn Store,
    cfg: &Config,
) -> Result<Option<String>, StoreError> {
    // Only a store with no key at all gets one (`security.md`): a bootstrap key revoked
    // since stays revoked, whatever the environment says at the next start.
    if store.count_keys().await? > 0 {
        if cfg.admin_key.is_some() {
            tracing::info!(
                "the store already holds API keys: admin_key (HERALD_ADMIN_KEY) is ignored"
            );
        }
        return Ok(None);
    }
    let given = cfg
        .admin_key
        .as_ref()
        .map(|k| k.expose_secret().to_string());
    let secret = given.clone().unwrap_or_else(api::keys::generate_key);
    store
        .insert_key(&api::keys::admin_key("bootstrap admin", &secret))
        .await?;
    Ok(if given.is_some() { None } else { Some(secret) })
}

/// Runs the API and the delivery engine on `listener` until `shutdown` is cancelled; then
/// stops accepting, finishes in-flight requests and releases or finishes in-flight attempts.
pub async fn run(
    cfg: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let cfg = Arc::new(cfg);
    let metrics = metrics_handle()?;
    // Serve from the start: /readyz says "not yet" while the store opens and migrates,
    // instead of leaving callers hanging.
    let listener_addr = listener.local_addr()?;
    let api = startup::ApiSlot::default();
    let token = shutdown.clone();
    let server = tokio::spawn(
        axum::serve(listener, startup::router(api.clone()))
            .with_graceful_shutdown(async move { token.cancelled().await })
            .into_future(),
    );
    let (ingest_side, engine_side) = handoff::channel(delivery::lease_ms(&cfg));
    let store = match open_store(&cfg, ingest_side).await {
        Ok(store) => store,
        Err(e) => {
            server.abort();
            return Err(e);
        }
    };
    if let Some(secret) = bootstrap_admin_key(&*store, &cfg)
        .await
        .map_err(ServeError::Bootstrap)?
    {
        println!("Created the bootstrap admin API key (shown only once):\n\n    {secret}\n");
    }
    let (engine, engine_task) = delivery::start(
        store.clone(),
        cfg.clone(),
        engine_side,
        shutdown.child_token(),
    );
    let background = tokio::spawn(background::run(
        store.clone(),
        cfg.clone(),
        metrics.clone(),
        shutdown.child_token(),
    ));
    let state = api::AppState {
        store,
        config: cfg.clone(),
        schemas: schemas::SchemaCache::default(),
        engine,
        metrics,
    };
    let _ = api.set(api::router(state));
    tracing::info!(addr = %listener_addr, "herald listening");
    server.await??;
    if tokio::time::timeout(Duration::from_secs(9), engine_task)
        .await
        .is_err()
    {
        tracing::warn!("delivery engine did not stop in time");
    }
    background.abort();
    Ok(())
}
