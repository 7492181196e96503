//! The loopback sink: an HTTP server (axum on hyper) that records every delivery's arrival.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;

use super::clock::Clock;

/// How the sick endpoint of the isolation scenario misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sickness {
    /// Answers after 2 seconds.
    Slow,
    /// Answers 500 at once.
    Error,
}

/// What arrived, per endpoint index and event sequence number.
pub struct Arrivals {
    events: usize,
    /// `counts[endpoint * events + seq]`: how many times that delivery arrived.
    counts: Vec<AtomicU32>,
    /// Distinct deliveries that arrived.
    pub distinct: AtomicU64,
    /// End-to-end latencies (µs) of first arrivals, per endpoint.
    latencies: Vec<Mutex<Vec<u32>>>,
    /// Arrival time (µs on the bench clock) of the latest first arrival.
    pub last_arrival_us: AtomicU64,
    /// Requests to the sick endpoint and to the baseline route.
    pub sick_hits: AtomicU64,
    pub baseline_hits: AtomicU64,
    clock: Clock,
    sickness: Sickness,
}

impl Arrivals {
    pub fn new(endpoints: usize, events: usize, clock: Clock, sickness: Sickness) -> Arc<Self> {
        Arc::new(Arrivals {
            events,
            counts: (0..endpoints * events).map(|_| AtomicU32::new(0)).collect(),
            distinct: AtomicU64::new(0),
            latencies: (0..endpoints).map(|_| Mutex::new(Vec::new())).collect(),
            last_arrival_us: AtomicU64::new(0),
            sick_hits: AtomicU64::new(0),
            baseline_hits: AtomicU64::new(0),
            clock,
            sickness,
        })
    }

    fn record(&self, endpoint: usize, seq: usize, sent_us: u64) -> bool {
        if endpoint >= self.latencies.len() || seq >= self.events {
            return false;
        }
        let n = self.counts[endpoint * self.events + seq].fetch_add(1, Ordering::Relaxed);
        if n == 0 {
            let now = self.clock.now_us();
            let latency = now.saturating_sub(sent_us).min(u32::MAX as u64) as u32;
            self.latencies[endpoint].lock().unwrap().push(latency);
            self.distinct.fetch_add(1, Ordering::Relaxed);
            self.last_arrival_us.fetch_max(now, Ordering::Relaxed);
        }
        true
    }

    /// Arrivals beyond the first, over all deliveries.
    pub fn duplicates(&self) -> u64 {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed).saturating_sub(1) as u64)
            .sum()
    }

    /// Distinct arrivals at the given endpoints for the given sequence numbers.
    pub fn delivered(&self, endpoints: std::ops::Range<usize>, seqs: &[usize]) -> u64 {
        let mut n = 0;
        for e in endpoints {
            for &s in seqs {
                if self.counts[e * self.events + s].load(Ordering::Relaxed) > 0 {
                    n += 1;
                }
            }
        }
        n
    }

    /// End-to-end latencies (µs) at the given endpoints; `from` skips the first arrivals of
    /// each (to split the isolation scenario's two phases).
    pub fn latencies(&self, endpoints: std::ops::Range<usize>, from: &[usize]) -> Vec<u32> {
        let mut all = Vec::new();
        for e in endpoints {
            let l = self.latencies[e].lock().unwrap();
            let skip = from.get(e).copied().unwrap_or(0);
            all.extend_from_slice(&l[skip.min(l.len())..]);
        }
        all
    }

    /// How many first arrivals each endpoint has had so far.
    pub fn marks(&self) -> Vec<usize> {
        self.latencies
            .iter()
            .map(|l| l.lock().unwrap().len())
            .collect()
    }
}

/// The part of Herald's body the sink reads: `data.seq` and `data.t` (send time, µs).
#[derive(Deserialize)]
struct Envelope {
    data: Stamp,
}

#[derive(Deserialize)]
pub struct Stamp {
    pub seq: usize,
    pub t: u64,
}

async fn delivery(
    State(arrivals): State<Arc<Arrivals>>,
    Path(endpoint): Path<usize>,
    body: Bytes,
) -> StatusCode {
    match serde_json::from_slice::<Envelope>(&body) {
        Ok(e) if arrivals.record(endpoint, e.data.seq, e.data.t) => StatusCode::NO_CONTENT,
        _ => StatusCode::BAD_REQUEST,
    }
}

async fn sick(State(arrivals): State<Arc<Arrivals>>) -> StatusCode {
    arrivals.sick_hits.fetch_add(1, Ordering::Relaxed);
    match arrivals.sickness {
        Sickness::Slow => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            StatusCode::NO_CONTENT
        }
        Sickness::Error => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn baseline(State(arrivals): State<Arc<Arrivals>>, body: Bytes) -> StatusCode {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(_) => {
            arrivals.baseline_hits.fetch_add(1, Ordering::Relaxed);
            StatusCode::NO_CONTENT
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

/// A listener for the sink on a free loopback port, and its URL.
pub async fn bind() -> Result<(tokio::net::TcpListener, String), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("binding the sink: {e}"))?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    Ok((listener, url))
}

/// Serves the sink on `listener` until the process ends: `/e/{endpoint}` records,
/// `/sick` misbehaves, `/baseline` only parses.
pub fn serve(listener: tokio::net::TcpListener, arrivals: Arc<Arrivals>) {
    let app = Router::new()
        .route("/e/{endpoint}", post(delivery))
        .route("/sick", post(sick))
        .route("/baseline", post(baseline))
        .with_state(arrivals);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}
