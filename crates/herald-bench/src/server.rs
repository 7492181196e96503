//! The server under test: one `herald serve` the bench spawns on a temporary store, or a
//! running one given by `--url`. Loopback only.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::distributions::{Alphanumeric, DistString};

/// Refuses any URL whose host is not a loopback address (or `localhost`): the bench sends
/// load, and load goes to this machine only.
pub fn check_loopback(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("invalid --url {url}: {e}"))?;
    let ok = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "refusing {url}: herald bench only targets loopback addresses (127.0.0.0/8, ::1)"
        ))
    }
}

pub struct Target {
    pub url: String,
    pub api_key: String,
    /// The server's PID, for CPU and memory figures (spawned, or `--server-pid`).
    pub pid: Option<u32>,
    /// The SQLite data directory, when the bench spawned the server on one.
    pub data_dir: Option<PathBuf>,
    pub backend: &'static str,
    child: Option<Child>,
    /// How the spawned server was started, to start it again after a crash.
    command: Option<SpawnSpec>,
    _dir: Option<tempfile::TempDir>,
}

/// Everything `herald serve` was started with.
struct SpawnSpec {
    port: u16,
    data_dir: PathBuf,
    log: PathBuf,
    database_url: Option<String>,
    env: Vec<(String, String)>,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Target {
    pub fn attach(url: &str, api_key: &str, pid: Option<u32>) -> Result<Target, String> {
        check_loopback(url)?;
        Ok(Target {
            url: url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            pid,
            data_dir: None,
            backend: "unknown",
            child: None,
            command: None,
            _dir: None,
        })
    }

    /// Starts `herald serve` (this same binary) on a free loopback port and a temporary
    /// SQLite directory (or `database_url`), with `--allow-private-targets`.
    pub async fn spawn(
        database_url: Option<&str>,
        env_extra: &[(&str, String)],
    ) -> Result<Target, String> {
        let dir = tempfile::Builder::new()
            .prefix("herald-bench-")
            .tempdir()
            .map_err(|e| format!("creating a temporary directory: {e}"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let api_key = format!(
            "hrd_{}",
            Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
        );
        let data_dir = dir.path().join("data");
        let mut env: Vec<(String, String)> = vec![
            ("HERALD_ADMIN_KEY".into(), api_key.clone()),
            ("HERALD_LOG".into(), "warn".into()),
        ];
        env.extend(env_extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let spec = SpawnSpec {
            port,
            data_dir: data_dir.clone(),
            log: dir.path().join("server.log"),
            database_url: database_url.map(str::to_string),
            env,
        };
        let child = spec.start()?;
        let mut target = Target {
            url: format!("http://127.0.0.1:{port}"),
            api_key,
            pid: Some(child.id()),
            data_dir: database_url.is_none().then_some(data_dir),
            backend: if database_url.is_some() {
                "postgres"
            } else {
                "sqlite"
            },
            child: Some(child),
            command: Some(spec),
            _dir: Some(dir),
        };
        target.wait_ready().await?;
        Ok(target)
    }

    /// SIGKILLs the spawned server, as a crash would, and starts it again on the same port
    /// and store; returns once it is ready.
    pub async fn crash_and_restart(&mut self) -> Result<(), String> {
        let spec = self
            .command
            .as_ref()
            .ok_or("only a server the bench spawned can be restarted")?;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let child = spec.start()?;
        self.pid = Some(child.id());
        self.child = Some(child);
        self.wait_ready().await
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = &mut self.child {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = self._dir.as_ref().map(|d| d.path().join("server.log"));
                    let text = log
                        .and_then(|p| std::fs::read_to_string(p).ok())
                        .unwrap_or_default();
                    return Err(format!("herald serve exited with {status}: {text}"));
                }
            }
            if let Ok(r) = http.get(format!("{}/readyz", self.url)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err("the spawned server did not become ready in 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl SpawnSpec {
    /// Starts `herald serve` (this same binary) with `--allow-private-targets`, its stderr
    /// appended to the log.
    fn start(&self) -> Result<Child, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--allow-private-targets");
        if let Some(db) = &self.database_url {
            cmd.arg("--database-url").arg(db);
        }
        for (k, _) in std::env::vars() {
            if k.starts_with("HERALD_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| e.to_string())?;
        cmd.stdout(Stdio::null()).stderr(log).stdin(Stdio::null());
        cmd.spawn()
            .map_err(|e| format!("spawning herald serve: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::check_loopback;

    #[test]
    fn only_loopback_targets() {
        assert!(check_loopback("http://127.0.0.1:8080").is_ok());
        assert!(check_loopback("http://127.9.9.9").is_ok());
        assert!(check_loopback("http://[::1]:1/").is_ok());
        assert!(check_loopback("http://localhost:8080").is_ok());
        assert!(check_loopback("http://10.0.0.1:8080").is_err());
        assert!(check_loopback("https://example.com").is_err());
        assert!(check_loopback("http://[::ffff:8.8.8.8]/").is_err());
    }
}
