//! `herald bench`: the real binary publishing to a real server and receiving on its own sink.

use std::process::{Command, Output};

use serde_json::Value;

use crate::support::*;

fn bench(args: &[&str], server: Option<&Herald>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.arg("bench").args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("HERALD_") {
            cmd.env_remove(k);
        }
    }
    if let Some(h) = server {
        cmd.env("HERALD_URL", &h.url)
            .env("HERALD_API_KEY", ADMIN_KEY);
    }
    cmd.output().unwrap()
}

fn result(o: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "bench failed: {stderr}");
    let line = String::from_utf8_lossy(&o.stdout);
    assert_eq!(line.lines().count(), 1, "one JSON line on stdout: {line}");
    serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn spawned_throughput_run_counts_every_delivery_and_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("results.jsonl");
    let o = bench(
        &[
            "--spawn",
            "--events",
            "300",
            "--concurrency",
            "16",
            "--baseline",
            "--json-out",
            out_file.to_str().unwrap(),
        ],
        None,
    );
    let r = result(&o);
    assert_eq!(r["scenario"], "throughput");
    assert_eq!(r["backend"], "sqlite");
    assert_eq!(r["accepted"], 300);
    assert_eq!(r["delivered"], 300);
    assert_eq!(r["missing"], 0);
    assert_eq!(r["duplicates"], 0);
    assert!(r["delivery_rate"].as_f64().unwrap() > 0.0);
    assert!(r["e2e_ms"]["p99"].as_f64().unwrap() >= r["e2e_ms"]["p50"].as_f64().unwrap());
    // the spawned server's own figures, from /proc
    assert!(r["server_cpu_s"].as_f64().unwrap() > 0.0);
    assert!(r["rss_peak_mb"].as_f64().unwrap() > 1.0);
    assert!(r["baseline_rate"].as_f64().unwrap() > 0.0);
    let table = String::from_utf8_lossy(&o.stderr);
    assert!(
        table.contains("delivered") && table.contains("300 of 300"),
        "{table}"
    );
    let saved = std::fs::read_to_string(&out_file).unwrap();
    assert_eq!(saved.trim(), String::from_utf8_lossy(&o.stdout).trim());
}

on_backends!(both: #[tokio::test(flavor = "multi_thread")] isolation_against_a_running_server_compares_both_phases);
async fn isolation_against_a_running_server_compares_both_phases() {
    let h = Herald::start(&[]).await;
    let r = result(&bench(
        &[
            "--scenario",
            "isolation",
            "--events",
            "100",
            "--rate",
            "100",
            "--sick",
            "error",
            "--max-in-flight",
            "3",
        ],
        Some(&h),
    ));
    assert_eq!(r["endpoints"], 4);
    assert_eq!(r["max_in_flight"], 3);
    // The bench's endpoints (four healthy, one sick) really carry the setting.
    let (_, apps) = h.get("/v1/apps").await;
    let app = apps["data"][0]["id"].as_str().unwrap();
    let (_, eps) = h.get(&format!("/v1/apps/{app}/endpoints")).await;
    let eps = eps["data"].as_array().unwrap();
    assert_eq!(eps.len(), 5);
    assert!(eps.iter().all(|e| e["max_in_flight"] == 3), "{eps:?}");
    assert_eq!(r["delivered"], 400);
    assert_eq!(r["missing"], 0);
    assert_eq!(r["sick"], "error");
    assert!(r["sick_requests"].as_u64().unwrap() >= 1);
    assert!(r["healthy_e2e_alone_ms"]["p99"].is_number());
    assert!(r["healthy_e2e_with_sick_ms"]["p99"].is_number());
    // no PID given for a server it did not start: no CPU figure rather than a wrong one
    assert!(r["server_cpu_s"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn backlog_queues_while_the_endpoints_are_down_then_drains() {
    let r = result(&bench(
        &[
            "--spawn",
            "--scenario",
            "backlog",
            "--events",
            "300",
            "--endpoints",
            "2",
        ],
        None,
    ));
    assert_eq!(r["expected_deliveries"], 600);
    assert_eq!(r["delivered"], 600);
    assert_eq!(r["missing"], 0);
    assert!(r["store_mb"].as_f64().unwrap() > 0.0);
    assert!(r["rss_with_backlog_mb"].as_f64().unwrap() > 0.0);
    assert!(r["drain_rate"].as_f64().unwrap() > 0.0);
}

#[test]
fn refuses_targets_off_this_machine() {
    for url in ["http://192.0.2.10:8080", "https://example.com"] {
        let o = bench(&["--url", url, "--api-key", "hrd_x", "--events", "1"], None);
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("refusing") && err.contains("loopback"),
            "{err}"
        );
        assert!(o.stdout.is_empty());
    }
}
