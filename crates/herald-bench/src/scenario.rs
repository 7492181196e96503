//! The scenarios: set up an app and endpoints on the sink, publish, wait for the drain,
//! collect the figures.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_sdk::client::{Client, Method};
use serde_json::json;

use super::clock::Clock;
use super::load::{Load, Outcome};
use super::peak::PeakRss;
use super::server::Target;
use super::sink::{self, Arrivals};
use super::stats::{self, Percentiles, Usage};
use super::{BenchArgs, Scenario};

/// Everything a run measured; printed as a table and as one JSON line.
#[derive(Debug, Default, serde::Serialize)]
pub struct BenchResult {
    pub scenario: Option<Scenario>,
    pub backend: &'static str,
    pub events: usize,
    pub endpoints: usize,
    pub concurrency: Option<usize>,
    /// The endpoints' filter, when the bench set one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Every endpoint had the bench's transformation.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub transformation: bool,
    /// The endpoints' `max_in_flight` when the bench set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u32>,
    pub rate: Option<f64>,
    pub payload_bytes: usize,
    pub accepted: usize,
    pub accept_failed: u64,
    pub first_error: Option<String>,
    /// Accepted events per second over the publishing phase.
    pub accept_rate: f64,
    pub accept_ms: Option<Percentiles>,
    pub expected_deliveries: u64,
    pub delivered: u64,
    pub missing: u64,
    pub duplicates: u64,
    /// Deliveries per second, from the first send to the last arrival.
    pub delivery_rate: f64,
    /// Accepted events fully delivered per second (delivery_rate / endpoints).
    pub events_delivered_rate: f64,
    pub e2e_ms: Option<Percentiles>,
    pub server_cpu_s: Option<f64>,
    pub cpu_s_per_1000_deliveries: Option<f64>,
    pub rss_idle_mb: Option<f64>,
    pub rss_peak_mb: Option<f64>,
    pub baseline_rate: Option<f64>,
    pub fraction_of_baseline: Option<f64>,
    // isolation
    pub sick: Option<super::Sickness>,
    pub healthy_e2e_alone_ms: Option<Percentiles>,
    pub healthy_e2e_with_sick_ms: Option<Percentiles>,
    pub p99_ratio_with_sick: Option<f64>,
    /// Accept latency of each phase: tells a slower ingest from a slower delivery.
    pub accept_alone_ms: Option<Percentiles>,
    pub accept_with_sick_ms: Option<Percentiles>,
    pub sick_requests: Option<u64>,
    // backlog
    pub rss_before_backlog_mb: Option<f64>,
    pub rss_with_backlog_mb: Option<f64>,
    pub backlog_added_mb: Option<f64>,
    pub store_mb: Option<f64>,
    pub queue_s: Option<f64>,
    pub drain_s: Option<f64>,
    pub drain_rate: Option<f64>,
    // crash
    pub kills: Option<usize>,
    /// Duplicate deliveries per delivered event.
    pub duplicate_share: Option<f64>,
    pub duration_s: f64,
}

impl BenchResult {
    pub fn complete(&self) -> bool {
        if self.scenario == Some(Scenario::Crash) {
            // Refusals while the server was down are expected; losses are not.
            return self.missing == 0 && self.accepted > 0;
        }
        self.missing == 0 && self.accept_failed == 0 && self.accepted == self.events
    }
}

/// Settings for a spawned server. The backlog scenario retries every 5 s (instead of the
/// default 5s, 5m, …) so deliveries whose attempts hung while the endpoints were down follow
/// the others within seconds of the bring-up.
pub fn server_env(scenario: Scenario) -> Vec<(&'static str, String)> {
    match scenario {
        Scenario::Backlog => vec![("HERALD_RETRY_SCHEDULE", vec!["5s"; 30].join(","))],
        _ => Vec::new(),
    }
}

pub(crate) async fn api(
    client: &Client,
    method: Method,
    path: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, String> {
    client
        .request_json(method, path, Some(&body))
        .await
        .map_err(|e| format!("setting up ({path}): {e}"))
}

pub(crate) async fn create_endpoint(
    client: &Client,
    args: &BenchArgs,
    app: &str,
    url: String,
) -> Result<(), String> {
    let mut body = json!({ "url": url });
    if let Some(n) = args.max_in_flight {
        body["max_in_flight"] = json!(n);
    }
    if let Some(f) = &args.filter {
        body["filter"] = json!(f);
    }
    if args.transformation {
        // Each endpoint's own script, as if every customer had written one.
        let code = format!("{}\n// endpoint {url}\n", super::TRANSFORMATION);
        body["transformation"] = json!({ "code": code });
    }
    api(
        client,
        Method::POST,
        &format!("/v1/apps/{app}/endpoints"),
        body,
    )
    .await?;
    Ok(())
}

/// Waits until `expected` distinct deliveries arrived (or the timeout), polling the sink.
async fn drain(arrivals: &Arrivals, expected: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while arrivals.distinct.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn run(target: &Target, args: &BenchArgs) -> Result<BenchResult, String> {
    let clock = Clock::start();
    let events = args.events();
    let endpoints = args.endpoints();
    let client = Client::builder(&target.url, &target.api_key)
        .build()
        .map_err(|e| e.to_string())?;
    let app_name = format!("bench-{:?}-{}", args.scenario, clock.now_us()).to_lowercase();
    let app = api(&client, Method::POST, "/v1/apps", json!({"name": app_name})).await?;
    let app = app["id"]
        .as_str()
        .ok_or("the server's app has no id")?
        .to_string();

    let arrivals = Arrivals::new(endpoints, events, clock, args.sick);
    let mut r = BenchResult {
        scenario: Some(args.scenario),
        backend: target.backend,
        events,
        endpoints,
        payload_bytes: args.payload_bytes,
        rate: args.rate(),
        concurrency: args.rate().is_none().then(|| args.concurrency()),
        max_in_flight: args.max_in_flight,
        filter: args.filter.clone(),
        transformation: args.transformation,
        ..BenchResult::default()
    };

    let (sink_listener, sink_url) = sink::bind().await?;

    let started = Instant::now();
    if args.scenario == Scenario::Backlog {
        backlog(
            target,
            args,
            &client,
            &app,
            arrivals.clone(),
            sink_listener,
            clock,
            &mut r,
        )
        .await?;
    } else {
        sink::serve(sink_listener, arrivals.clone());
        for i in 0..endpoints {
            create_endpoint(&client, args, &app, format!("{sink_url}/e/{i}")).await?;
        }
        // Let the idle process settle, then take its figures (one /proc walk for both).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let cpu0 = target.pid.and_then(stats::usage);
        r.rss_idle_mb = cpu0.map(|u| u.rss_mb);
        let peak = PeakRss::start(target.pid);
        let load = Arc::new(Load::herald(
            &target.url,
            &app,
            &target.api_key,
            args.payload_bytes,
            clock,
        ));
        let first_send_us = clock.now_us();
        let outcome = if args.scenario == Scenario::Isolation {
            isolation(args, &client, &app, &sink_url, &load, &arrivals, &mut r).await?
        } else {
            let out = publish(&load, 0..events, args).await;
            drain(
                &arrivals,
                out.accepted.len() as u64 * endpoints as u64,
                args.drain_timeout(),
            )
            .await;
            r.e2e_ms = Percentiles::of(arrivals.latencies(0..endpoints, &[]));
            out
        };
        let last_us = arrivals.last_arrival_us.load(Ordering::Relaxed);
        tokio::time::sleep(*args.linger).await;
        r.rss_peak_mb = peak.stop();
        let cpu1 = target.pid.and_then(stats::usage);
        fill_common(&mut r, &outcome, &arrivals, endpoints);
        let span_s = last_us.saturating_sub(first_send_us) as f64 / 1e6;
        r.delivery_rate = r.delivered as f64 / span_s.max(1e-9);
        r.events_delivered_rate = r.delivery_rate / endpoints as f64;
        if let (Some(a), Some(b)) = (cpu0, cpu1) {
            cpu_figures(&mut r, a, b);
        }
        if args.baseline {
            let base = Arc::new(Load::baseline(&sink_url, args.payload_bytes, clock));
            let out = base.closed_loop(0..events, args.concurrency()).await;
            r.baseline_rate = Some(out.rate());
            r.fraction_of_baseline = Some(r.delivery_rate / out.rate().max(1e-9));
        }
    }
    r.duration_s = started.elapsed().as_secs_f64();
    Ok(r)
}

async fn publish(load: &Arc<Load>, seqs: std::ops::Range<usize>, args: &BenchArgs) -> Outcome {
    match args.rate() {
        Some(rate) => load.open_loop(seqs, rate).await,
        None => load.closed_loop(seqs, args.concurrency()).await,
    }
}

pub(crate) fn fill_common(
    r: &mut BenchResult,
    out: &Outcome,
    arrivals: &Arrivals,
    endpoints: usize,
) {
    r.accepted = out.accepted.len();
    r.accept_failed = out.failed;
    r.first_error = out.first_error.clone();
    r.accept_rate = out.rate();
    r.accept_ms = Percentiles::of(out.latency_us.clone());
    r.expected_deliveries = (out.accepted.len() * endpoints) as u64;
    r.delivered = arrivals.delivered(0..endpoints, &out.accepted);
    r.missing = r.expected_deliveries - r.delivered;
    r.duplicates = arrivals.duplicates();
}

fn cpu_figures(r: &mut BenchResult, before: Usage, after: Usage) {
    let cpu = after.cpu_s - before.cpu_s;
    r.server_cpu_s = Some(cpu);
    if r.delivered > 0 {
        r.cpu_s_per_1000_deliveries = Some(cpu * 1000.0 / r.delivered as f64);
    }
}

/// Phase one: the healthy endpoints alone; phase two: beside a sick one. Each phase sends
/// half the events at the same rate; the healthy endpoints' latencies are compared.
async fn isolation(
    args: &BenchArgs,
    client: &Client,
    app: &str,
    sink_url: &str,
    load: &Arc<Load>,
    arrivals: &Arc<Arrivals>,
    r: &mut BenchResult,
) -> Result<Outcome, String> {
    let (events, endpoints) = (args.events(), args.endpoints());
    let half = events / 2;
    let mut out = publish(load, 0..half, args).await;
    drain(
        arrivals,
        (out.accepted.len() * endpoints) as u64,
        args.drain_timeout(),
    )
    .await;
    let marks = arrivals.marks();
    r.healthy_e2e_alone_ms = Percentiles::of(arrivals.latencies(0..endpoints, &[]));

    create_endpoint(client, args, app, format!("{sink_url}/sick")).await?;
    let second = publish(load, half..events, args).await;
    let expected = ((out.accepted.len() + second.accepted.len()) * endpoints) as u64;
    drain(arrivals, expected, args.drain_timeout()).await;
    r.healthy_e2e_with_sick_ms = Percentiles::of(arrivals.latencies(0..endpoints, &marks));
    r.e2e_ms = Percentiles::of(arrivals.latencies(0..endpoints, &[]));
    r.sick = Some(args.sick);
    r.sick_requests = Some(arrivals.sick_hits.load(Ordering::Relaxed));
    if let (Some(a), Some(b)) = (r.healthy_e2e_alone_ms, r.healthy_e2e_with_sick_ms) {
        r.p99_ratio_with_sick = Some(b.p99 / a.p99.max(1e-9));
    }
    r.accept_alone_ms = Percentiles::of(out.latency_us.clone());
    r.accept_with_sick_ms = Percentiles::of(second.latency_us.clone());
    out.accepted.extend(second.accepted);
    out.latency_us.extend(second.latency_us);
    out.failed += second.failed;
    out.elapsed += second.elapsed;
    if out.first_error.is_none() {
        out.first_error = second.first_error;
    }
    Ok(out)
}

/// Endpoints that accept connections and never answer, while the backlog is queued.
async fn black_hole(listener: tokio::net::TcpListener) {
    let mut held = Vec::new();
    while let Ok((conn, _)) = listener.accept().await {
        held.push(conn);
    }
}

#[allow(clippy::too_many_arguments)]
async fn backlog(
    target: &Target,
    args: &BenchArgs,
    client: &Client,
    app: &str,
    arrivals: Arc<Arrivals>,
    listener: tokio::net::TcpListener,
    clock: Clock,
    r: &mut BenchResult,
) -> Result<(), String> {
    let (events, endpoints) = (args.events(), args.endpoints());
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    for i in 0..endpoints {
        create_endpoint(client, args, app, format!("http://{addr}/e/{i}")).await?;
    }
    let hole = tokio::spawn(black_hole(listener));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = target.pid.and_then(stats::usage);
    r.rss_before_backlog_mb = before.map(|u| u.rss_mb);
    r.rss_idle_mb = r.rss_before_backlog_mb;
    let peak = PeakRss::start(target.pid);
    let load = Arc::new(Load::herald_batch(
        &target.url,
        app,
        &target.api_key,
        args.payload_bytes,
        clock,
    ));
    let out = load.closed_loop(0..events, args.concurrency()).await;
    r.queue_s = Some(out.elapsed.as_secs_f64());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let with = target.pid.and_then(stats::usage);
    r.rss_with_backlog_mb = with.map(|u| u.rss_mb);
    if let (Some(a), Some(b)) = (before, with) {
        r.backlog_added_mb = Some(b.rss_mb - a.rss_mb);
    }
    r.store_mb = target
        .data_dir
        .as_deref()
        .map(|d| stats::dir_size(d) as f64 / (1024.0 * 1024.0));

    // Bring the endpoints up: drop the hanging connections, serve the sink on the same port.
    hole.abort();
    let _ = hole.await;
    let up = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("re-binding the sink on {addr}: {e}"))?;
    let cpu0 = target.pid.and_then(stats::usage);
    let up_at = Instant::now();
    sink::serve(up, arrivals.clone());
    drain(
        &arrivals,
        (out.accepted.len() * endpoints) as u64,
        args.drain_timeout(),
    )
    .await;
    let drain_s = up_at.elapsed().as_secs_f64();
    tokio::time::sleep(*args.linger).await;
    r.rss_peak_mb = peak.stop();
    let cpu1 = target.pid.and_then(stats::usage);
    fill_common(r, &out, &arrivals, endpoints);
    r.drain_s = Some(drain_s);
    r.drain_rate = Some(r.delivered as f64 / drain_s.max(1e-9));
    r.delivery_rate = r.drain_rate.unwrap_or(0.0);
    r.events_delivered_rate = r.delivery_rate / endpoints as f64;
    r.e2e_ms = None; // queued for minutes by design: not a latency figure
    if let (Some(a), Some(b)) = (cpu0, cpu1) {
        cpu_figures(r, a, b);
    }
    Ok(())
}
