//! The crash soak (`security.md`'s issue: "lost nothing in 140 SIGKILLs", kept checked): a
//! spawned server takes events at `--rate` while the bench SIGKILLs it at random moments
//! (`--kills` times, 1 to 3 s apart) and starts it again on the same store. Then every event
//! it accepted (answered 202) must reach the sink. Events refused or cut off while it was down
//! are not counted; a delivery that arrives twice (an attempt the crash kept from being
//! recorded) is a duplicate, reported with its share.

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_sdk::client::{Client, Method};
use rand::Rng;
use serde_json::json;

use super::clock::Clock;
use super::load::Load;
use super::scenario::{api, create_endpoint, fill_common, BenchResult};
use super::server::Target;
use super::sink::{self, Arrivals};
use super::stats::Percentiles;
use super::BenchArgs;

/// Settings of the crashed server: a short attempt timeout keeps the leases a killed process
/// held short (PostgreSQL waits for them to lapse), and failed attempts come back soon.
pub fn server_env() -> Vec<(&'static str, String)> {
    vec![
        ("HERALD_ATTEMPT_TIMEOUT", "2s".into()),
        ("HERALD_RETRY_SCHEDULE", vec!["1s"; 30].join(",")),
    ]
}

pub async fn run(target: &mut Target, args: &BenchArgs) -> Result<BenchResult, String> {
    let clock = Clock::start();
    let events = args.events();
    let rate = args.rate().unwrap_or(300.0);
    let client = Client::builder(&target.url, &target.api_key)
        .build()
        .map_err(|e| e.to_string())?;
    let app = api(
        &client,
        Method::POST,
        "/v1/apps",
        json!({"name": "bench-crash"}),
    )
    .await?;
    let app = app["id"].as_str().ok_or("the app has no id")?.to_string();
    let arrivals = Arrivals::new(1, events, clock, args.sick);
    let (listener, sink_url) = sink::bind().await?;
    sink::serve(listener, arrivals.clone());
    create_endpoint(&client, args, &app, format!("{sink_url}/e/0")).await?;

    let started = Instant::now();
    let load = Arc::new(Load::herald(
        &target.url,
        &app,
        &target.api_key,
        args.payload_bytes,
        clock,
    ));
    let publishing = tokio::spawn({
        let load = load.clone();
        async move { load.open_loop(0..events, rate).await }
    });
    let mut kills = 0;
    while kills < args.kills && !publishing.is_finished() {
        let pause = rand::thread_rng().gen_range(1000..3000);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        target.crash_and_restart().await?;
        kills += 1;
    }
    let outcome = publishing.await.map_err(|e| e.to_string())?;
    // Every accepted event must arrive, now that the server runs again.
    let deadline = Instant::now() + *args.drain_timeout;
    while arrivals.delivered(0..1, &outcome.accepted) < outcome.accepted.len() as u64
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(*args.linger).await;

    let mut r = BenchResult {
        scenario: Some(args.scenario),
        backend: target.backend,
        events,
        endpoints: 1,
        payload_bytes: args.payload_bytes,
        rate: Some(rate),
        kills: Some(kills),
        ..BenchResult::default()
    };
    fill_common(&mut r, &outcome, &arrivals, 1);
    r.duplicate_share = Some(r.duplicates as f64 / r.delivered.max(1) as f64);
    r.e2e_ms = Percentiles::of(arrivals.latencies(0..1, &[]));
    r.duration_s = started.elapsed().as_secs_f64();
    r.delivery_rate = r.delivered as f64 / r.duration_s.max(1e-9);
    r.events_delivered_rate = r.delivery_rate;
    Ok(r)
}
