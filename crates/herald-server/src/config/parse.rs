//! The value parsers of the settings, one per kind of value. Each takes what any source may
//! give (a TOML value of its native type, or a string from the environment or a flag) and
//! says what was wrong in a message that figment attaches to the key and the source.

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// What a source may hold for one key.
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    List(Vec<Raw>),
}

impl Raw {
    /// The value as text, as the environment would give it.
    fn text(&self) -> String {
        match self {
            Raw::Bool(b) => b.to_string(),
            Raw::Int(n) => n.to_string(),
            Raw::Float(f) => f.to_string(),
            Raw::Text(s) => s.trim().to_string(),
            Raw::List(items) => items.iter().map(Raw::text).collect::<Vec<_>>().join(","),
        }
    }

    /// A list given as a TOML array or as comma-separated text.
    fn items(&self) -> Vec<String> {
        match self {
            Raw::List(items) => items.iter().map(Raw::text).collect(),
            other => other
                .text()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        }
    }
}

/// Reads the raw value and maps it with `f`; `f`'s message becomes the error.
fn with<'de, D: Deserializer<'de>, T>(
    d: D,
    f: impl FnOnce(&Raw) -> Result<T, String>,
) -> Result<T, D::Error> {
    let raw = Raw::deserialize(d)?;
    f(&raw).map_err(D::Error::custom)
}

pub fn socket_addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    with(d, |r| {
        let t = r.text();
        t.parse().map_err(|e| format!("{t:?}: {e}"))
    })
}

pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    with(d, |r| match r.text().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("expected true or false, got {:?}", r.text())),
    })
}

fn positive_text(t: &str) -> Result<usize, String> {
    match t.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a positive integer, got {t:?}")),
    }
}

pub fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    with(d, |r| positive_text(&r.text()))
}

pub fn positive_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    with(d, |r| {
        let n = positive_text(&r.text())?;
        u32::try_from(n).map_err(|_| "too large".to_string())
    })
}

pub fn jitter<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    with(d, |r| {
        let t = r.text();
        let j: f64 = t.parse().map_err(|_| format!("not a number: {t:?}"))?;
        if !(0.0..1.0).contains(&j) {
            return Err("must be between 0 and 1".into());
        }
        Ok(j)
    })
}

/// `500ms`, `5s`, `5m`, `2h`, `5d` (and combinations humantime accepts).
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    humantime::parse_duration(v).map_err(|e| format!("{v:?} is not a duration ({e})"))
}

fn positive_duration_text(v: &str) -> Result<Duration, String> {
    let d = parse_duration(v)?;
    if d.is_zero() {
        return Err(format!("{v:?} must be more than zero"));
    }
    Ok(d)
}

pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    with(d, |r| parse_duration(&r.text()))
}

pub fn positive_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    with(d, |r| positive_duration_text(&r.text()))
}

pub fn sweep_interval<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    with(d, |r| {
        let d = positive_duration_text(&r.text())?;
        if d > Duration::from_secs(60) {
            return Err("must be at most 1m".into());
        }
        Ok(d)
    })
}

pub fn durations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    with(d, |r| r.items().iter().map(|t| parse_duration(t)).collect())
}

pub fn cidrs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    with(d, |r| {
        r.items()
            .iter()
            .map(|c| c.parse::<IpNet>().map_err(|e| format!("{c}: {e}")))
            .collect()
    })
}

pub fn database_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    with(d, |r| {
        let t = r.text();
        Ok((!t.is_empty()).then(|| SecretString::from(t)))
    })
}

pub fn admin_key<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    with(d, |r| {
        let t = r.text();
        if !t.starts_with("hrd_") || t.len() < 20 {
            // The value itself is not echoed: it is a secret, even when mistyped.
            return Err("must be hrd_ followed by at least 16 characters".into());
        }
        Ok(Some(SecretString::from(t)))
    })
}

pub fn encryption_key<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    with(d, |r| {
        let t = r.text();
        crate::store::data_key::DataKey::from_base64(&t).map_err(|e| e.to_string())?;
        Ok(Some(SecretString::from(t)))
    })
}

pub fn public_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    with(d, |r| {
        let t = r.text();
        url::Url::parse(&t).map_err(|e| e.to_string())?;
        Ok(Some(t.trim_end_matches('/').to_string()))
    })
}
