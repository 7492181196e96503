//! Where sends that finally failed go, so that nothing is silently dropped; and the helper
//! that sends them again.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A send that failed after every retry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The application (id or uid) it was sent to.
    pub app: String,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The payload, byte for byte.
    pub payload: Box<RawValue>,
    /// The idempotency key used: a replay uses it again, so it cannot duplicate.
    pub idempotency_key: String,
    /// The last error.
    pub error: String,
}

/// Where dead letters go.
///
/// ```
/// let sink = herald_sdk::client::DeadLetterSink::callback(|letter| eprintln!("lost: {}", letter.event_type));
/// # let _ = sink;
/// ```
#[derive(Clone)]
pub enum DeadLetterSink {
    /// Appended, one JSON object per line, to this file.
    Jsonl(PathBuf),
    /// Handed to this function.
    Callback(Arc<dyn Fn(&DeadLetter) + Send + Sync>),
}

impl std::fmt::Debug for DeadLetterSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeadLetterSink::Jsonl(p) => write!(f, "Jsonl({})", p.display()),
            DeadLetterSink::Callback(_) => f.write_str("Callback"),
        }
    }
}

impl DeadLetterSink {
    /// A sink that calls `f` for each dead letter.
    pub fn callback(f: impl Fn(&DeadLetter) + Send + Sync + 'static) -> Self {
        DeadLetterSink::Callback(Arc::new(f))
    }

    /// Records one dead letter (errors writing the file are logged, never raised).
    pub fn put(&self, letter: &DeadLetter) {
        match self {
            DeadLetterSink::Callback(f) => f(letter),
            DeadLetterSink::Jsonl(path) => {
                let line = match serde_json::to_string(letter) {
                    Ok(l) => l,
                    Err(e) => return tracing::error!(error = %e, "cannot encode a dead letter"),
                };
                let written = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut f| writeln!(f, "{line}"));
                if let Err(e) = written {
                    tracing::error!(error = %e, path = %path.display(), "cannot write a dead letter");
                }
            }
        }
    }
}

/// Reads the dead letters of a JSONL file.
pub fn read_jsonl(path: &std::path::Path) -> std::io::Result<Vec<DeadLetter>> {
    let file = std::fs::File::open(path)?;
    let mut out = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(&line)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?,
        );
    }
    Ok(out)
}
