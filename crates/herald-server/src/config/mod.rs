//! Server settings (`config.md`). Each key is declared once, as a field of [`Config`] with its
//! default and its parser; figment layers the sources in the contract's order: built-in
//! defaults, the `--config` TOML file, `HERALD_<KEY>` environment variables, command-line
//! flags. A bad value names its key and its source; an unknown file key stops the start; an
//! unknown `HERALD_*` variable is only warned about ([`unknown_env_vars`]).

mod parse;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::Format as _;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use ipnet::IpNet;
use secrecy::SecretString;
use serde::Deserialize;

pub use parse::parse_duration;

/// Why the settings could not be loaded; the message names the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    File { path: String, message: String },
    #[error("unknown config key `{0}`")]
    UnknownKey(String),
    #[error("invalid value for `{key}` ({source_name}): {message}")]
    Invalid {
        key: String,
        source_name: String,
        message: String,
    },
}

/// The settings of one `herald serve` process. Secrets (`admin_key`, `encryption_key`,
/// `database_url`, which may hold a password) are [`SecretString`]s: `Debug` prints them redacted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "defaults::listen", deserialize_with = "parse::socket_addr")]
    pub listen: SocketAddr,
    #[serde(default = "defaults::data_dir")]
    pub data_dir: PathBuf,
    #[serde(default, deserialize_with = "parse::database_url")]
    pub database_url: Option<SecretString>,
    #[serde(default, deserialize_with = "parse::admin_key")]
    pub admin_key: Option<SecretString>,
    /// The data key stored secrets are encrypted under (`security.md`).
    #[serde(default, deserialize_with = "parse::encryption_key")]
    pub encryption_key: Option<SecretString>,
    #[serde(default, deserialize_with = "parse::boolean")]
    pub allow_private_targets: bool,
    #[serde(default, deserialize_with = "parse::cidrs")]
    pub allowed_target_cidrs: Vec<IpNet>,
    #[serde(
        default = "defaults::retry_schedule",
        deserialize_with = "parse::durations"
    )]
    pub retry_schedule: Vec<Duration>,
    #[serde(default = "defaults::retry_jitter", deserialize_with = "parse::jitter")]
    pub retry_jitter: f64,
    #[serde(
        default = "defaults::connect_timeout",
        deserialize_with = "parse::positive_duration"
    )]
    pub connect_timeout: Duration,
    #[serde(
        default = "defaults::attempt_timeout",
        deserialize_with = "parse::positive_duration"
    )]
    pub attempt_timeout: Duration,
    #[serde(
        default = "defaults::max_event_bytes",
        deserialize_with = "parse::positive"
    )]
    pub max_event_bytes: usize,
    #[serde(
        default = "defaults::max_batch_bytes",
        deserialize_with = "parse::positive"
    )]
    pub max_batch_bytes: usize,
    #[serde(default, deserialize_with = "parse::boolean")]
    pub strict_event_types: bool,
    #[serde(
        default = "defaults::secret_grace_period",
        deserialize_with = "parse::duration"
    )]
    pub secret_grace_period: Duration,
    #[serde(
        default = "defaults::auto_disable_after",
        deserialize_with = "parse::positive_duration"
    )]
    pub auto_disable_after: Duration,
    #[serde(
        default = "defaults::retention",
        deserialize_with = "parse::positive_duration"
    )]
    pub retention: Duration,
    #[serde(
        default = "defaults::idempotency_retention",
        deserialize_with = "parse::positive_duration"
    )]
    pub idempotency_retention: Duration,
    #[serde(
        default = "defaults::max_concurrency",
        deserialize_with = "parse::positive"
    )]
    pub max_concurrency: usize,
    #[serde(default, deserialize_with = "parse::public_url")]
    pub public_url: Option<String>,
    /// `synchronous = FULL` for SQLite (survives power loss, slower); NORMAL survives a
    /// process crash, which is what the delivery contract promises.
    #[serde(default, deserialize_with = "parse::boolean")]
    pub sqlite_synchronous_full: bool,
    /// How often retention runs (extension; the contract asks for at least once a minute).
    #[serde(
        default = "defaults::sweep_interval",
        deserialize_with = "parse::sweep_interval"
    )]
    pub sweep_interval: Duration,
    /// PostgreSQL connection pool size per process (extension).
    #[serde(
        default = "defaults::database_max_connections",
        deserialize_with = "parse::positive_u32"
    )]
    pub database_max_connections: u32,
}

/// The built-in defaults of `config.md`, one function per key that has one.
mod defaults {
    use super::*;
    const H: u64 = 3600;
    pub fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    }
    pub fn data_dir() -> PathBuf {
        PathBuf::from("./herald-data")
    }
    pub fn retry_schedule() -> Vec<Duration> {
        [5, 300, 1800, 2 * H, 5 * H, 10 * H, 10 * H]
            .into_iter()
            .map(Duration::from_secs)
            .collect()
    }
    pub fn retry_jitter() -> f64 {
        0.2
    }
    pub fn connect_timeout() -> Duration {
        Duration::from_secs(5)
    }
    pub fn attempt_timeout() -> Duration {
        Duration::from_secs(15)
    }
    pub fn max_event_bytes() -> usize {
        1_048_576
    }
    pub fn max_batch_bytes() -> usize {
        5_242_880
    }
    pub fn secret_grace_period() -> Duration {
        Duration::from_secs(24 * H)
    }
    pub fn auto_disable_after() -> Duration {
        Duration::from_secs(5 * 24 * H)
    }
    pub fn retention() -> Duration {
        Duration::from_secs(30 * 24 * H)
    }
    pub fn idempotency_retention() -> Duration {
        Duration::from_secs(24 * H)
    }
    pub fn max_concurrency() -> usize {
        512
    }
    pub fn sweep_interval() -> Duration {
        Duration::from_secs(30)
    }
    pub fn database_max_connections() -> u32 {
        16
    }
}

/// Every key the file and the environment accept: the fields of [`Config`].
pub fn keys() -> &'static [&'static str] {
    serde_aux::serde_introspection::serde_introspect::<Config>()
}

/// `HERALD_*` variables that name no key (typos, settings of another version), for a warning
/// at start. The client's `HERALD_URL` and `HERALD_API_KEY`, and `HERALD_LOG` (the log
/// filter), are not settings of the server and are not reported.
pub fn unknown_env_vars(env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    const NOT_SETTINGS: [&str; 3] = ["URL", "API_KEY", "LOG"];
    let mut unknown: Vec<String> = env
        .into_iter()
        .filter_map(|(name, _)| {
            let key = name.strip_prefix("HERALD_")?;
            let known =
                NOT_SETTINGS.contains(&key) || keys().contains(&key.to_ascii_lowercase().as_str());
            (!known).then_some(name)
        })
        .collect();
    unknown.sort();
    unknown
}

impl Default for Config {
    fn default() -> Self {
        Figment::new()
            .extract()
            .expect("every key of Config has a default")
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

/// One layer of plain strings (the environment, the flags) under its source's name.
struct Layer {
    name: &'static str,
    values: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name)
    }
    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

impl Config {
    /// Loads defaults ← file ← environment (`env`, usually `std::env::vars()`) ← flags.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            // figment's Toml::file is silent about a missing file; the contract is not.
            std::fs::metadata(path).map_err(|e| ConfigError::File {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            figment = figment.merge(figment::providers::Toml::file(path));
        }
        let env: Dict = env
            .into_iter()
            .filter_map(|(name, value)| {
                let key = name.strip_prefix("HERALD_")?.to_ascii_lowercase();
                keys()
                    .contains(&key.as_str())
                    .then(|| (key, Value::from(value)))
            })
            .collect();
        figment = figment.merge(Layer {
            name: "environment",
            values: env,
        });
        let mut given = Dict::new();
        let flag_values = [
            ("listen", flags.listen.as_ref()),
            ("data_dir", flags.data_dir.as_ref()),
            ("database_url", flags.database_url.as_ref()),
        ];
        for (key, value) in flag_values {
            if let Some(v) = value {
                given.insert(key.into(), Value::from(v.clone()));
            }
        }
        if flags.allow_private_targets {
            given.insert("allow_private_targets".into(), Value::from(true));
        }
        figment = figment.merge(Layer {
            name: "command line",
            values: given,
        });
        figment
            .extract()
            .map_err(|e| ConfigError::from_figment(e, file))
    }

    /// The base of links the server hands out.
    pub fn public_base(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }
}

impl ConfigError {
    fn from_figment(e: figment::Error, file: Option<&Path>) -> ConfigError {
        use figment::error::Kind;
        if let Kind::UnknownField(key, _) = &e.kind {
            return ConfigError::UnknownKey(key.clone());
        }
        if e.path.is_empty() {
            // Not about one key: the file itself does not parse.
            return ConfigError::File {
                path: file.map(|p| p.display().to_string()).unwrap_or_default(),
                message: e.kind.to_string(),
            };
        }
        let key = e.path.last().cloned().unwrap_or_default();
        let source_name = e
            .metadata
            .as_ref()
            .map(|m| m.name.to_string())
            .unwrap_or_else(|| "config".into());
        let message = match &e.kind {
            Kind::Message(m) => m.clone(),
            other => other.to_string(),
        };
        ConfigError::Invalid {
            key,
            source_name,
            message,
        }
    }
}

#[cfg(test)]
mod tests;
