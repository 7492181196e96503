//! The publisher: POSTs events (~`payload_bytes` of JSON each, carrying their sequence number
//! and send time) at a fixed concurrency (closed loop) or a fixed rate (open loop).

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::clock::Clock;

/// Where to POST and how: Herald's events API, or the sink's baseline route.
pub struct Load {
    http: reqwest::Client,
    url: String,
    auth: Option<String>,
    /// Herald wants `{"type", "payload"}`; the baseline gets the payload alone.
    wrap: bool,
    /// Events per request (batch API) when > 1.
    batch: usize,
    pad: String,
    clock: Clock,
}

#[derive(Default)]
pub struct Outcome {
    /// Sequence numbers the server accepted (202).
    pub accepted: Vec<usize>,
    /// Request latencies, µs.
    pub latency_us: Vec<u32>,
    pub failed: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
}

impl Load {
    pub fn herald(base: &str, app: &str, key: &str, payload_bytes: usize, clock: Clock) -> Load {
        Load::new(
            format!("{base}/v1/apps/{app}/events"),
            Some(key),
            true,
            payload_bytes,
            clock,
        )
    }

    pub fn herald_batch(
        base: &str,
        app: &str,
        key: &str,
        payload_bytes: usize,
        clock: Clock,
    ) -> Load {
        let mut load = Load::new(
            format!("{base}/v1/apps/{app}/events/batch"),
            Some(key),
            true,
            payload_bytes,
            clock,
        );
        load.batch = 100;
        load
    }

    pub fn baseline(sink: &str, payload_bytes: usize, clock: Clock) -> Load {
        Load::new(
            format!("{sink}/baseline"),
            None,
            false,
            payload_bytes,
            clock,
        )
    }

    fn new(url: String, key: Option<&str>, wrap: bool, payload_bytes: usize, clock: Clock) -> Load {
        // `{"seq":…,"t":…,"pad":"…"}` is about 40 bytes plus the padding
        let pad = "x".repeat(payload_bytes.saturating_sub(40));
        Load {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(1024)
                .timeout(Duration::from_secs(60))
                .build()
                .expect("building the HTTP client"),
            url,
            auth: key.map(|k| format!("Bearer {k}")),
            wrap,
            batch: 1,
            pad,
            clock,
        }
    }

    fn payload(&self, seq: usize) -> String {
        format!(
            r#"{{"seq":{seq},"t":{},"pad":"{}"}}"#,
            self.clock.now_us(),
            self.pad
        )
    }

    fn body(&self, seqs: Range<usize>) -> String {
        if !self.wrap {
            return self.payload(seqs.start);
        }
        let event = |s| format!(r#"{{"type":"bench.event","payload":{}}}"#, self.payload(s));
        if self.batch == 1 {
            return event(seqs.start);
        }
        let items: Vec<String> = seqs.map(event).collect();
        format!(r#"{{"items":[{}]}}"#, items.join(","))
    }

    /// Sends one request for `seqs`; the sequence numbers accepted (every one on a 202; a
    /// batch's 207 is counted as failed).
    async fn send(&self, seqs: Range<usize>) -> Result<(), String> {
        let mut req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(self.body(seqs));
        if let Some(a) = &self.auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let ok = if self.wrap {
            status.as_u16() == 202
        } else {
            status.is_success()
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{status}: {}",
                resp.text().await.unwrap_or_default()
            ))
        }
    }

    /// `concurrency` workers, each sending its next request as soon as the last is answered.
    pub async fn closed_loop(self: &Arc<Self>, seqs: Range<usize>, concurrency: usize) -> Outcome {
        let next = Arc::new(AtomicUsize::new(seqs.start));
        let shared = Arc::new(Mutex::new(Outcome::default()));
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..concurrency.max(1) {
            let (load, next, shared, end) = (self.clone(), next.clone(), shared.clone(), seqs.end);
            workers.push(tokio::spawn(async move {
                let mut mine = Outcome::default();
                loop {
                    let start = next.fetch_add(load.batch, Ordering::Relaxed);
                    if start >= end {
                        break;
                    }
                    let chunk = start..(start + load.batch).min(end);
                    load.record(&mut mine, chunk).await;
                }
                shared.lock().unwrap().merge(mine);
            }));
        }
        for w in workers {
            let _ = w.await;
        }
        let mut out = std::mem::take(&mut *shared.lock().unwrap());
        out.elapsed = started.elapsed();
        out
    }

    /// One request every `1/rate` seconds, whatever the answers' latency.
    pub async fn open_loop(self: &Arc<Self>, seqs: Range<usize>, rate: f64) -> Outcome {
        let shared = Arc::new(Mutex::new(Outcome::default()));
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.001)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut tasks = tokio::task::JoinSet::new();
        for seq in seqs {
            tick.tick().await;
            let (load, shared) = (self.clone(), shared.clone());
            tasks.spawn(async move {
                let mut mine = Outcome::default();
                load.record(&mut mine, seq..seq + 1).await;
                shared.lock().unwrap().merge(mine);
            });
        }
        while tasks.join_next().await.is_some() {}
        let mut out = std::mem::take(&mut *shared.lock().unwrap());
        out.elapsed = started.elapsed();
        out
    }

    async fn record(&self, out: &mut Outcome, seqs: Range<usize>) {
        let t0 = Instant::now();
        let result = self.send(seqs.clone()).await;
        out.latency_us
            .push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
        match result {
            Ok(()) => out.accepted.extend(seqs),
            Err(e) => {
                out.failed += seqs.len() as u64;
                out.first_error.get_or_insert(e);
            }
        }
    }
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.accepted.extend(other.accepted);
        self.latency_us.extend(other.latency_us);
        self.failed += other.failed;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// Accepted requests per second.
    pub fn rate(&self) -> f64 {
        self.accepted.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}
