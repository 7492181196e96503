//! The result: a readable table on stderr, one JSON line on stdout (and appended to
//! `--json-out`).

use std::io::Write;
use std::path::Path;

use super::scenario::BenchResult;
use super::stats::Percentiles;

fn ms(p: &Option<Percentiles>) -> String {
    match p {
        Some(p) => format!(
            "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            p.p50, p.p90, p.p99, p.max
        ),
        None => "-".into(),
    }
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map(|v| format!("{v:.2}{unit}"))
        .unwrap_or_else(|| "-".into())
}

pub fn table(r: &BenchResult) -> String {
    let mut rows: Vec<(&str, String)> = vec![
        (
            "scenario",
            format!("{:?} ({})", r.scenario.unwrap(), r.backend).to_lowercase(),
        ),
        (
            "load",
            format!(
                "{} events of {} B to {} endpoint(s){}{}{}, {}",
                r.events,
                r.payload_bytes,
                r.endpoints,
                r.max_in_flight
                    .map(|n| format!(" (max_in_flight {n})"))
                    .unwrap_or_default(),
                r.filter
                    .as_ref()
                    .map(|f| format!(" with filter `{f}`"))
                    .unwrap_or_default(),
                if r.transformation {
                    " with a transformation each"
                } else {
                    ""
                },
                match (r.rate, r.concurrency) {
                    (Some(rate), _) => format!("open loop at {rate} events/s"),
                    (None, Some(c)) => format!("closed loop, concurrency {c}"),
                    _ => String::new(),
                }
            ),
        ),
        (
            "accepted",
            format!(
                "{} ({} failed) at {:.0} events/s",
                r.accepted, r.accept_failed, r.accept_rate
            ),
        ),
        ("accept latency", ms(&r.accept_ms)),
        (
            "delivered",
            format!(
                "{} of {} ({} missing, {} duplicates)",
                r.delivered, r.expected_deliveries, r.missing, r.duplicates
            ),
        ),
        (
            "delivery rate",
            format!(
                "{:.0} deliveries/s = {:.0} events/s",
                r.delivery_rate, r.events_delivered_rate
            ),
        ),
        ("end-to-end latency", ms(&r.e2e_ms)),
        ("server CPU", opt(r.server_cpu_s, " s")),
        (
            "CPU per 1000 deliveries",
            opt(r.cpu_s_per_1000_deliveries, " s"),
        ),
        (
            "server RSS idle / peak",
            format!(
                "{} / {}",
                opt(r.rss_idle_mb, " MB"),
                opt(r.rss_peak_mb, " MB")
            ),
        ),
    ];
    if let Some(b) = r.baseline_rate {
        rows.push((
            "raw loopback POSTs",
            format!(
                "{b:.0}/s (Herald delivers {:.1}% of it)",
                100.0 * r.fraction_of_baseline.unwrap_or(0.0)
            ),
        ));
    }
    if r.sick.is_some() {
        rows.push(("healthy alone", ms(&r.healthy_e2e_alone_ms)));
        rows.push(("healthy beside sick", ms(&r.healthy_e2e_with_sick_ms)));
        rows.push((
            "p99 ratio",
            format!(
                "{} ({} requests to the sick endpoint)",
                opt(r.p99_ratio_with_sick, "x"),
                r.sick_requests.unwrap_or(0)
            ),
        ));
        rows.push(("accept, alone", ms(&r.accept_alone_ms)));
        rows.push(("accept, beside sick", ms(&r.accept_with_sick_ms)));
    }
    if r.drain_rate.is_some() {
        rows.push((
            "backlog RSS",
            format!(
                "{} before, {} with the backlog (+{})",
                opt(r.rss_before_backlog_mb, " MB"),
                opt(r.rss_with_backlog_mb, " MB"),
                opt(r.backlog_added_mb, " MB")
            ),
        ));
        rows.push(("store size", opt(r.store_mb, " MB")));
        rows.push(("queued in", opt(r.queue_s, " s")));
        rows.push((
            "drained in",
            format!(
                "{} = {} deliveries/s",
                opt(r.drain_s, " s"),
                opt(r.drain_rate, "")
            ),
        ));
    }
    if let Some(kills) = r.kills {
        rows.push((
            "crash soak",
            format!(
                "{kills} SIGKILLs: {} accepted, {} lost, {} duplicates ({:.3}% of deliveries)",
                r.accepted,
                r.missing,
                r.duplicates,
                100.0 * r.duplicate_share.unwrap_or(0.0)
            ),
        ));
    }
    if let Some(e) = &r.first_error {
        rows.push(("first error", e.clone()));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {v}\n"))
        .collect()
}

pub fn print(r: &BenchResult, json_out: Option<&Path>) -> Result<(), String> {
    // A closed pipe (`| head`) is not worth a panic: the figures also go to `--json-out`.
    let _ = write!(std::io::stderr(), "{}", table(r));
    let line = serde_json::to_string(r).map_err(|e| e.to_string())?;
    let _ = writeln!(std::io::stdout(), "{line}");
    if let Some(path) = json_out {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        writeln!(f, "{line}").map_err(|e| e.to_string())?;
    }
    Ok(())
}
