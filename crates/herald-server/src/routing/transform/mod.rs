//! Transformations (`routing.md`): `handler(webhook)` in JavaScript, run by the workers of
//! `engine` off the async runtime, with CPU, memory and size limits. This module builds the
//! webhook object a script gets and checks what it gives back.

mod engine;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::domain::reserved_header;
use engine::{RawOut, Task, Workers};

/// CPU time per run.
pub const CPU_LIMIT: Duration = Duration::from_millis(100);
/// Memory a run may allocate.
pub const MEMORY_LIMIT: usize = 16 << 20;
/// Longest code accepted, in bytes.
pub const MAX_CODE: usize = 64 * 1024;

/// Started at first use: a server with no transformation has no JavaScript threads.
static WORKERS: LazyLock<Arc<Workers>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Workers::start(cores.clamp(2, 8))
});

/// The request as it goes to a script (`payload` is the format's body, parsed).
pub struct WebhookIn<'a> {
    pub url: &'a str,
    pub headers: &'a serde_json::Map<String, serde_json::Value>,
    pub event_type: &'a str,
    pub event_id: &'a str,
    /// The body the endpoint's format makes: JSON.
    pub body: &'a [u8],
}

/// The request a script made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reshaped {
    pub method: reqwest::Method,
    pub url: String,
    /// Lower-cased names, merged over the endpoint's custom headers by the caller.
    pub headers: Vec<(String, String)>,
    /// The payload serialised as compact JSON.
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Send(Reshaped),
    Cancelled,
}

/// Checks that `code` compiles within the limits and defines `handler`: the message says
/// what is wrong and where.
pub async fn check(code: &str) -> Result<(), String> {
    if code.len() > MAX_CODE {
        return Err(format!(
            "the code is {} bytes; at most {MAX_CODE} are accepted",
            code.len()
        ));
    }
    let (reply, answer) = oneshot::channel();
    WORKERS.submit(Task::Check {
        code: code.into(),
        reply,
    });
    answer
        .await
        .unwrap_or_else(|_| Err("the JavaScript engine stopped".into()))
}

/// Runs `code` on `webhook`. `Err` is the transformation error of the contract: the
/// script threw, ran out of time or memory, or returned something that cannot be sent.
pub async fn run(code: &Arc<str>, webhook: &WebhookIn<'_>) -> Result<Outcome, String> {
    start(code, webhook).outcome().await
}

/// A run handed to the workers, its outcome still to come: started as soon as a delivery
/// is queued, it overlaps other attempts instead of waiting for this one's turn.
pub struct Pending(oneshot::Receiver<Result<RawOut, String>>);

/// Hands the run of `code` on `webhook` to the workers at once.
pub fn start(code: &Arc<str>, webhook: &WebhookIn<'_>) -> Pending {
    let (reply, answer) = oneshot::channel();
    WORKERS.submit(Task::Run {
        code: code.clone(),
        input: input_json(webhook),
        reply,
    });
    Pending(answer)
}

impl Pending {
    /// What the run gave (see [`run`]).
    pub async fn outcome(self) -> Result<Outcome, String> {
        let raw = self
            .0
            .await
            .unwrap_or_else(|_| Err("the JavaScript engine stopped".into()))?;
        outcome(raw)
    }
}

fn input_json(w: &WebhookIn<'_>) -> String {
    let text = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let headers: serde_json::Map<String, serde_json::Value> = w
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let body = std::str::from_utf8(w.body).unwrap_or("null");
    format!(
        "{{\"method\":\"POST\",\"url\":{},\"headers\":{},\"eventType\":{},\"eventId\":{},\"payload\":{},\"cancel\":false}}",
        text(w.url),
        serde_json::Value::Object(headers),
        text(w.event_type),
        text(w.event_id),
        if body.trim().is_empty() { "null" } else { body },
    )
}

fn outcome(raw: RawOut) -> Result<Outcome, String> {
    if raw.cancel {
        return Ok(Outcome::Cancelled);
    }
    let method = match raw.method.as_deref() {
        Some("POST") => reqwest::Method::POST,
        Some("PUT") => reqwest::Method::PUT,
        Some("PATCH") => reqwest::Method::PATCH,
        Some(other) => {
            return Err(format!(
                "webhook.method is {other:?}; POST, PUT or PATCH is accepted"
            ))
        }
        None => return Err("webhook.method must be a string: POST, PUT or PATCH".into()),
    };
    let url = raw
        .url
        .ok_or_else(|| "webhook.url must be a string".to_string())?;
    match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {}
        Ok(u) => {
            return Err(format!(
                "webhook.url must be an http(s) URL, not {}:",
                u.scheme()
            ))
        }
        Err(e) => return Err(format!("webhook.url is not a URL: {e}")),
    }
    let mut headers = Vec::new();
    if let Some(json) = raw.headers {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&json).map_err(|e| e.to_string())?;
        for (name, value) in map {
            let name = name.to_ascii_lowercase();
            if reserved_header(&name) {
                return Err(format!(
                    "webhook.headers sets {name}, which Herald sets itself"
                ));
            }
            let Some(value) = value.as_str() else {
                return Err(format!("webhook.headers[{name:?}] must be a string"));
            };
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
                || reqwest::header::HeaderValue::from_str(value).is_err()
            {
                return Err(format!("webhook.headers[{name:?}] is not a valid header"));
            }
            headers.push((name, value.to_string()));
        }
    }
    Ok(Outcome::Send(Reshaped {
        method,
        url,
        headers,
        body: raw.payload.unwrap_or_else(|| "null".into()).into_bytes(),
    }))
}

#[cfg(test)]
mod tests;
