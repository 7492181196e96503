//! Server settings (`config.md`): built-in defaults, then the `--config` TOML file, then
//! `HERALD_<KEY>` environment variables, then command-line flags. Every source goes through
//! the same per-key parser, so a bad value names its key whichever source it came from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

/// Why the settings could not be loaded; each variant names the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    File { path: String, message: String },
    #[error("unknown config key `{0}`")]
    UnknownKey(String),
    #[error("invalid value for `{key}` ({source_name}): {message}")]
    Invalid {
        key: String,
        source_name: &'static str,
        message: String,
    },
}

/// The settings of one `herald serve` process.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub admin_key: Option<String>,
    pub allow_private_targets: bool,
    pub allowed_target_cidrs: Vec<IpNet>,
    pub retry_schedule: Vec<Duration>,
    pub retry_jitter: f64,
    pub connect_timeout: Duration,
    pub attempt_timeout: Duration,
    pub max_event_bytes: usize,
    pub max_batch_bytes: usize,
    pub strict_event_types: bool,
    pub secret_grace_period: Duration,
    pub auto_disable_after: Duration,
    pub retention: Duration,
    pub idempotency_retention: Duration,
    pub max_concurrency: usize,
    pub public_url: Option<String>,
    /// `synchronous = FULL` for SQLite (survives power loss, slower); NORMAL survives a
    /// process crash, which is what the delivery contract promises.
    pub sqlite_synchronous_full: bool,
    /// How often retention runs (extension; the contract asks for at least once a minute).
    pub sweep_interval: Duration,
    /// PostgreSQL connection pool size per process (extension).
    pub database_max_connections: u32,
}

/// Every key the file and the environment accept.
pub const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "admin_key",
    "allow_private_targets",
    "allowed_target_cidrs",
    "retry_schedule",
    "retry_jitter",
    "connect_timeout",
    "attempt_timeout",
    "max_event_bytes",
    "max_batch_bytes",
    "strict_event_types",
    "secret_grace_period",
    "auto_disable_after",
    "retention",
    "idempotency_retention",
    "max_concurrency",
    "public_url",
    "sqlite_synchronous_full",
    "sweep_interval",
    "database_max_connections",
];

impl Default for Config {
    fn default() -> Self {
        let h = 3600;
        Config {
            listen: "127.0.0.1:8080".parse().expect("valid default"),
            data_dir: PathBuf::from("./herald-data"),
            database_url: None,
            admin_key: None,
            allow_private_targets: false,
            allowed_target_cidrs: Vec::new(),
            retry_schedule: [5, 300, 1800, 2 * h, 5 * h, 10 * h, 10 * h]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            retry_jitter: 0.2,
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(15),
            max_event_bytes: 1_048_576,
            max_batch_bytes: 5_242_880,
            strict_event_types: false,
            secret_grace_period: Duration::from_secs(24 * h),
            auto_disable_after: Duration::from_secs(5 * 24 * h),
            retention: Duration::from_secs(30 * 24 * h),
            idempotency_retention: Duration::from_secs(24 * h),
            max_concurrency: 512,
            public_url: None,
            sqlite_synchronous_full: false,
            sweep_interval: Duration::from_secs(30),
            database_max_connections: 16,
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers in force.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<String>,
    pub database_url: Option<String>,
    pub allow_private_targets: bool,
}

impl Config {
    /// Loads defaults ← file ← environment (`env`, usually `std::env::vars()`) ← flags.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            let table: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::File {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    })?;
            for (key, value) in table {
                if !KEYS.contains(&key.as_str()) {
                    return Err(ConfigError::UnknownKey(key));
                }
                let text = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Array(items) => items
                        .into_iter()
                        .map(|v| match v {
                            toml::Value::String(s) => s,
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                cfg.set(&key, &text, "config file")?;
            }
        }
        let mut env: Vec<(String, String)> = env.into_iter().collect();
        env.sort();
        for (name, value) in env {
            let Some(key) = name.strip_prefix("HERALD_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if KEYS.contains(&key.as_str()) {
                cfg.set(&key, &value, "environment")?;
            }
        }
        if let Some(v) = &flags.listen {
            cfg.set("listen", v, "--listen")?;
        }
        if let Some(v) = &flags.data_dir {
            cfg.set("data_dir", v, "--data-dir")?;
        }
        if let Some(v) = &flags.database_url {
            cfg.set("database_url", v, "--database-url")?;
        }
        if flags.allow_private_targets {
            cfg.allow_private_targets = true;
        }
        Ok(cfg)
    }

    /// Parses one value for one key.
    pub fn set(&mut self, key: &str, value: &str, source: &'static str) -> Result<(), ConfigError> {
        let bad = |message: String| ConfigError::Invalid {
            key: key.to_string(),
            source_name: source,
            message,
        };
        let v = value.trim();
        match key {
            "listen" => self.listen = v.parse().map_err(|e| bad(format!("{e}")))?,
            "data_dir" => self.data_dir = PathBuf::from(v),
            "database_url" => self.database_url = (!v.is_empty()).then(|| v.to_string()),
            "admin_key" => {
                if !v.starts_with("hrd_") || v.len() < 20 {
                    return Err(bad("must be hrd_ followed by at least 16 characters".into()));
                }
                self.admin_key = Some(v.to_string())
            }
            "allow_private_targets" => self.allow_private_targets = parse_bool(v).map_err(bad)?,
            "strict_event_types" => self.strict_event_types = parse_bool(v).map_err(bad)?,
            "sqlite_synchronous_full" => {
                self.sqlite_synchronous_full = parse_bool(v).map_err(bad)?
            }
            "allowed_target_cidrs" => {
                self.allowed_target_cidrs = split_list(v)
                    .map(|c| c.parse::<IpNet>().map_err(|e| bad(format!("{c}: {e}"))))
                    .collect::<Result<_, _>>()?
            }
            "retry_schedule" => {
                self.retry_schedule = split_list(v)
                    .map(|d| parse_duration(d).map_err(&bad))
                    .collect::<Result<_, _>>()?
            }
            "retry_jitter" => {
                let j: f64 = v.parse().map_err(|_| bad(format!("not a number: {v:?}")))?;
                if !(0.0..1.0).contains(&j) {
                    return Err(bad("must be between 0 and 1".into()));
                }
                self.retry_jitter = j
            }
            "connect_timeout" => self.connect_timeout = positive_duration(v).map_err(bad)?,
            "attempt_timeout" => self.attempt_timeout = positive_duration(v).map_err(bad)?,
            "secret_grace_period" => self.secret_grace_period = parse_duration(v).map_err(bad)?,
            "auto_disable_after" => self.auto_disable_after = positive_duration(v).map_err(bad)?,
            "retention" => self.retention = positive_duration(v).map_err(bad)?,
            "idempotency_retention" => {
                self.idempotency_retention = positive_duration(v).map_err(bad)?
            }
            "sweep_interval" => {
                let d = positive_duration(v).map_err(&bad)?;
                if d > Duration::from_secs(60) {
                    return Err(bad("must be at most 1m".into()));
                }
                self.sweep_interval = d
            }
            "database_max_connections" => {
                let n = parse_positive(v).map_err(&bad)?;
                self.database_max_connections =
                    u32::try_from(n).map_err(|_| bad("too large".into()))?
            }
            "max_event_bytes" => self.max_event_bytes = parse_positive(v).map_err(bad)?,
            "max_batch_bytes" => self.max_batch_bytes = parse_positive(v).map_err(bad)?,
            "max_concurrency" => self.max_concurrency = parse_positive(v).map_err(bad)?,
            "public_url" => {
                url::Url::parse(v).map_err(|e| bad(e.to_string()))?;
                self.public_url = Some(v.trim_end_matches('/').to_string())
            }
            _ => return Err(ConfigError::UnknownKey(key.to_string())),
        }
        Ok(())
    }

    /// The base of links the server hands out.
    pub fn public_base(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

fn split_list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("expected true or false, got {v:?}")),
    }
}

fn parse_positive(v: &str) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a positive integer, got {v:?}")),
    }
}

/// `500ms`, `5s`, `5m`, `2h`, `5d` (and combinations humantime accepts).
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    humantime::parse_duration(v).map_err(|e| format!("{v:?} is not a duration ({e})"))
}

fn positive_duration(v: &str) -> Result<Duration, String> {
    let d = parse_duration(v)?;
    if d.is_zero() {
        return Err(format!("{v:?} must be more than zero"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = Config::default();
        assert_eq!(c.retry_schedule.len(), 7);
        assert_eq!(c.retry_schedule[1], Duration::from_secs(300));
        assert_eq!(c.max_batch_bytes, 5 * 1024 * 1024);
        assert_eq!(c.public_base(), "http://127.0.0.1:8080");
    }

    #[test]
    fn precedence_file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("h.toml");
        std::fs::write(
            &f,
            "max_event_bytes = 2048\nretry_schedule = [\"1s\", \"2s\"]\nlisten = \"127.0.0.1:1\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&f), env(&[]), &Overrides::default()).unwrap();
        assert_eq!(c.max_event_bytes, 2048);
        assert_eq!(
            c.retry_schedule,
            vec![Duration::from_secs(1), Duration::from_secs(2)]
        );
        let c = Config::load(
            Some(&f),
            env(&[
                ("HERALD_MAX_EVENT_BYTES", "4096"),
                ("HERALD_LISTEN", "127.0.0.1:2"),
            ]),
            &Overrides {
                listen: Some("127.0.0.1:3".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.max_event_bytes, 4096);
        assert_eq!(c.listen.port(), 3);
    }

    #[test]
    fn errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("h.toml");
        std::fs::write(&f, "bogus_key = 1\n").unwrap();
        let e = Config::load(Some(&f), env(&[]), &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("bogus_key"), "{e}");
        let e = Config::load(
            None,
            env(&[("HERALD_RETRY_JITTER", "lots")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("retry_jitter"), "{e}");
        std::fs::write(&f, "connect_timeout = \"soon\"\n").unwrap();
        let e = Config::load(Some(&f), env(&[]), &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("connect_timeout"), "{e}");
    }

    #[test]
    fn durations_in_contract_units() {
        for (t, secs) in [
            ("500ms", 0.5),
            ("5s", 5.0),
            ("5m", 300.0),
            ("2h", 7200.0),
            ("5d", 432000.0),
        ] {
            assert_eq!(parse_duration(t).unwrap().as_secs_f64(), secs, "{t}");
        }
        assert!(parse_duration("soon").is_err());
    }
}
