//! `herald bench` (crate `herald-bench`): the load benchmark of `cli.md`. Publishes events to a Herald server (one it
//! spawns, or a running one on loopback), receives every delivery on its own loopback sink,
//! and reports accept and delivery rates, latencies, losses, duplicates, CPU and memory.
//!
//! Layout: `load` publishes, `sink` receives, `server` spawns/attaches (loopback only),
//! `stats` reads /proc and computes percentiles, `report` prints.

/// The tests measure RSS after a free, which needs the binary's allocator (one that gives
/// freed pages back; see `herald`'s `allocator.rs`).
#[cfg(test)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod clock;
mod crash;
mod load;
mod peak;
mod report;
mod scenario;
mod server;
mod sink;
pub mod stats;

use std::path::PathBuf;
use std::time::Duration;

pub use sink::Sickness;

/// The scenarios of the benchmark issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// One endpoint, closed loop at `--concurrency`.
    Throughput,
    /// Ten endpoints, closed loop.
    Fanout,
    /// One endpoint, open loop at `--rate` events/s.
    Latency,
    /// Four healthy endpoints at `--rate`, first alone, then beside a sick one (`--sick`).
    Isolation,
    /// Queue `--events` × `--endpoints` deliveries to endpoints that are down (they accept
    /// connections and never answer), then bring them up and measure the drain.
    Backlog,
    /// SIGKILL the spawned server `--kills` times under load at `--rate` (default 300/s) and
    /// start it again each time; then every accepted event must be delivered.
    Crash,
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(long, value_enum, default_value = "throughput")]
    pub scenario: Scenario,
    /// Start a `herald serve` of this binary on a temporary SQLite store (or `--database-url`)
    /// with `--allow-private-targets`, instead of using `--url`.
    #[arg(long)]
    pub spawn: bool,
    /// With `--spawn`: use this PostgreSQL database instead of SQLite.
    #[arg(long, requires = "spawn")]
    pub database_url: Option<String>,
    /// Events to publish (default: throughput 20000, fanout 5000, latency and isolation 2000,
    /// backlog 100000, i.e. 1,000,000 deliveries to 10 endpoints).
    #[arg(long)]
    pub events: Option<usize>,
    /// Endpoints, all pointing at the sink (default 1; fanout and backlog 10; isolation 4
    /// healthy).
    #[arg(long)]
    pub endpoints: Option<usize>,
    /// Concurrent publishers in the closed loop (default 64; backlog 8 batch publishers).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Events per second (open loop); default 200 for latency and isolation. Given for
    /// throughput or fanout, it turns their closed loop into an open one.
    #[arg(long)]
    pub rate: Option<f64>,
    /// How the isolation scenario's sick endpoint misbehaves.
    #[arg(long, value_enum, default_value = "slow")]
    pub sick: Sickness,
    /// Size of each event's JSON payload.
    #[arg(long, default_value_t = 1024)]
    pub payload_bytes: usize,
    /// `max_in_flight` of every endpoint the bench creates (default: the server's, 16).
    #[arg(long)]
    pub max_in_flight: Option<u32>,
    /// Also POST the same payloads straight to the sink at the same concurrency, to give
    /// Herald's delivery rate as a fraction of this machine's raw loopback POST rate.
    #[arg(long)]
    pub baseline: bool,
    /// Give up waiting for deliveries after this long.
    #[arg(long, default_value = "120s")]
    pub drain_timeout: humantime::Duration,
    /// After the last delivery, wait this long more to count late duplicates.
    #[arg(long, default_value = "2s")]
    pub linger: humantime::Duration,
    /// PID of the `--url` server, for its CPU and memory figures (known with `--spawn`).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Crash scenario: how many times to SIGKILL the server (1 to 3 s apart).
    #[arg(long, default_value_t = 20)]
    pub kills: usize,
    /// Append the JSON result line to this file too.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
    /// Put this CEL filter on every endpoint (`routing.md`). It must pass every bench event
    /// (`bench.event`, `data.seq`, `data.t`, `data.pad`), or deliveries count as missing.
    #[arg(long)]
    pub filter: Option<String>,
    /// Put a 10-line JavaScript transformation on every endpoint, each endpoint its own copy
    /// (a distinct script the engine compiles and keeps apart).
    #[arg(long)]
    pub transformation: bool,
}

/// The bench's transformation: ten lines that read the payload, add a header and rebuild
/// the body around what the sink reads (`data.seq`, `data.t`).
pub const TRANSFORMATION: &str = r#"function handler(webhook) {
  const data = webhook.payload.data;
  webhook.headers["x-bench"] = "transformed";
  webhook.payload = {
    type: webhook.eventType,
    data: { seq: data.seq, t: data.t, pad: data.pad },
    summary: `${webhook.eventType} #${data.seq} (${data.pad.length} B)`,
  };
  return webhook;
}"#;

impl BenchArgs {
    fn events(&self) -> usize {
        self.events.unwrap_or(match self.scenario {
            Scenario::Throughput => 20_000,
            Scenario::Fanout => 5_000,
            Scenario::Latency | Scenario::Isolation => 2_000,
            Scenario::Backlog => 100_000,
            // Enough at 300/s for about 20 kills 1 to 3 s apart.
            Scenario::Crash => 15_000,
        })
    }

    fn endpoints(&self) -> usize {
        self.endpoints
            .unwrap_or(match self.scenario {
                Scenario::Fanout | Scenario::Backlog => 10,
                Scenario::Isolation => 4,
                _ => 1,
            })
            .max(1)
    }

    fn concurrency(&self) -> usize {
        self.concurrency
            .unwrap_or(if self.scenario == Scenario::Backlog {
                8
            } else {
                64
            })
            .max(1)
    }

    fn rate(&self) -> Option<f64> {
        match self.scenario {
            Scenario::Latency | Scenario::Isolation => Some(self.rate.unwrap_or(200.0)),
            Scenario::Backlog => None,
            _ => self.rate,
        }
    }

    fn drain_timeout(&self) -> Duration {
        *self.drain_timeout
    }
}

/// Runs the benchmark. Ok(true) when every accepted event reached every endpoint exactly as
/// expected (no loss); the caller exits 1 otherwise.
///
/// `url` and `api_key` name a running server (ignored with `--spawn`, which starts this same
/// executable as `herald serve`).
pub async fn run(url: &str, api_key: Option<&str>, args: BenchArgs) -> Result<bool, String> {
    if args.scenario == Scenario::Crash {
        if !args.spawn {
            return Err("the crash scenario kills its server: use --spawn".into());
        }
        let env = crash::server_env();
        let mut target = server::Target::spawn(args.database_url.as_deref(), &env).await?;
        let result = crash::run(&mut target, &args).await?;
        report::print(&result, args.json_out.as_deref())?;
        return Ok(result.complete());
    }
    let target = if args.spawn {
        let env = scenario::server_env(args.scenario);
        server::Target::spawn(args.database_url.as_deref(), &env).await?
    } else {
        let key =
            api_key.ok_or("no API key: pass --api-key or set HERALD_API_KEY (or use --spawn)")?;
        server::Target::attach(url, key, args.server_pid)?
    };
    let result = scenario::run(&target, &args).await?;
    report::print(&result, args.json_out.as_deref())?;
    Ok(result.complete())
}
