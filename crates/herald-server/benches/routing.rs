//! What a filter and a transformation add to one delivery (`routing.md`; the issue's
//! speed section): `cargo bench -p herald-server --bench routing`.
//!
//! Criterion measures each step; after it, the p50/p99 of single runs are printed, since
//! the issue asks for percentiles of the time added per delivery:
//! - filter: parse the payload for filters (once per event) and evaluate one expression;
//! - transformation: a delivery's request with a 10-line transformation (on the JavaScript
//!   workers, through their queue) minus the same request without one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::hint::black_box;

use criterion::Criterion;
use herald_server::delivery::request::{self, Prep};
use herald_server::routing::{EventVars, Filter};
use herald_server::store::{
    Endpoint, EndpointStatus, Format, Job, SignatureScheme, Transformation,
};

const FILTER: &str =
    r#"type == "order.paid" && data.amount >= 100 && data.currency in ["EUR", "USD"]"#;

const TEN_LINES: &str = r#"function handler(webhook) {
  const order = webhook.payload.data;
  webhook.headers["x-order"] = order.id;
  webhook.payload = {
    text: `Order ${order.id} paid: ${order.amount} ${order.currency}`,
    lines: order.lines.map((l) => `${l.qty} × ${l.sku}`),
    total: order.lines.reduce((sum, l) => sum + l.qty * l.price, 0),
  };
  return webhook;
}"#;

fn payload() -> Vec<u8> {
    let lines: Vec<_> = (0..5)
        .map(|i| serde_json::json!({"sku": format!("sku-{i}"), "qty": i + 1, "price": 9.5}))
        .collect();
    serde_json::json!({
        "id": "ord_1", "amount": 120, "currency": "EUR", "customer": "cus_42",
        "lines": lines, "note": "x".repeat(600),
    })
    .to_string()
    .into_bytes()
}

fn job(transformation: Option<&str>) -> Job {
    Job {
        delivery_id: "del_1".into(),
        attempts: 0,
        app_id: "app_1".into(),
        event_id: "evt_1".into(),
        event_type: "order.paid".into(),
        payload: payload().into(),
        source: None,
        subject: None,
        event_created_at: 1_763_820_187_123,
        due_at: 0,
        endpoint: Arc::new(Endpoint {
            id: "ep_1".into(),
            app_id: "app_1".into(),
            url: "http://127.0.0.1:9/hook".into(),
            description: None,
            event_types: None,
            status: EndpointStatus::Active,
            disabled_reason: None,
            rate_limit: None,
            max_in_flight: 16,
            headers: Default::default(),
            format: Format::StandardWebhooks,
            ordered: false,
            metadata: serde_json::json!({}),
            signature_scheme: SignatureScheme::V1,
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            previous_secrets: Vec::new(),
            first_failure_at: None,
            filter: None,
            transformation: transformation.map(|code| Transformation {
                code: code.into(),
                enabled: true,
            }),
            created_at: 0,
            updated_at: 0,
        }),
    }
}

fn filter_once(f: &Filter, payload: &[u8], metadata: &serde_json::Value) -> bool {
    let vars = EventVars::new("order.paid", payload, None, None, metadata);
    f.matches(&vars).unwrap()
}

async fn transformed(job: &Job) -> usize {
    match request::prepare(job, 1, 1_763_820_187_000, None).await {
        Prep::Send(p) => p.body.len(),
        other => panic!("{other:?}"),
    }
}

fn percentiles(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    println!(
        "{label}: p50 {:.1} µs, p99 {:.1} µs ({} runs)",
        at(0.5),
        at(0.99),
        samples.len()
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let filter = Filter::compile(FILTER).unwrap();
    let body = payload();
    let metadata = serde_json::json!({});
    let plain = job(None);
    let shaped = job(Some(TEN_LINES));
    assert!(filter_once(&filter, &body, &metadata));
    rt.block_on(transformed(&shaped)); // compiles the script once, as the first delivery does

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("filter: parse payload + evaluate", |b| {
        b.iter(|| filter_once(&filter, black_box(&body), &metadata))
    });
    let vars = EventVars::new("order.paid", &body, None, None, &metadata);
    c.bench_function("filter: evaluate (payload parsed)", |b| {
        b.iter(|| filter.matches(black_box(&vars)).unwrap())
    });
    c.bench_function("request: plain", |b| {
        b.iter(|| {
            request::prepare_plain(black_box(&plain), 1, 1_763_820_187_000)
                .body
                .len()
        })
    });
    c.bench_function("request: with a 10-line transformation", |b| {
        b.to_async(&rt).iter(|| transformed(black_box(&shaped)))
    });
    c.final_summary();

    // Single runs, for percentiles of what each adds to a delivery.
    const RUNS: usize = 20_000;
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        black_box(filter_once(&filter, &body, &metadata));
        samples.push(t.elapsed());
    }
    percentiles("added by a filter (parse + evaluate)", samples);
    let mut plain_samples = Vec::with_capacity(RUNS);
    let mut shaped_samples = Vec::with_capacity(RUNS);
    rt.block_on(async {
        for _ in 0..RUNS {
            let t = Instant::now();
            black_box(request::prepare_plain(&plain, 1, 1_763_820_187_000));
            plain_samples.push(t.elapsed());
            let t = Instant::now();
            black_box(transformed(&shaped).await);
            shaped_samples.push(t.elapsed());
        }
    });
    percentiles("request without a transformation", plain_samples.clone());
    percentiles(
        "request with a 10-line transformation",
        shaped_samples.clone(),
    );
    let added: Vec<Duration> = shaped_samples
        .iter()
        .zip(&plain_samples)
        .map(|(s, p)| s.saturating_sub(*p))
        .collect();
    percentiles("added by the transformation", added);

    // Many deliveries at once, as under load: the workers stay busy, so this is their CPU
    // cost per run rather than the time to wake a sleeping thread.
    let shaped = Arc::new(shaped);
    let cpu = || cpu_time::ProcessTime::now();
    let (started, wall) = (cpu(), Instant::now());
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..64 {
            let job = shaped.clone();
            tasks.spawn(async move {
                for _ in 0..RUNS / 64 {
                    black_box(transformed(&job).await);
                }
                i
            });
        }
        while tasks.join_next().await.is_some() {}
    });
    let runs = (RUNS / 64 * 64) as f64;
    println!(
        "64 at once: {:.0} transformed requests/s, {:.1} µs of CPU each (all threads)",
        runs / wall.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1e6 / runs
    );
}
