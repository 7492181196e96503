//! One HTTP attempt: send, read up to 4 KiB of the answer, classify the outcome.

use std::error::Error as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::request::Prepared;
use super::retry::parse_retry_after;
use super::ssrf::{AddressPolicy, GuardedResolver, ResolveError};

/// Idle keep-alive connections kept per host (each ~20 KB of buffers), for 60 s at most.
const MAX_IDLE_PER_HOST: usize = 1024;

/// Bytes of the response body kept for the record.
pub const RESPONSE_BODY_LIMIT: usize = 4096;

/// What came of one attempt.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub duration: Duration,
    pub status: Option<u16>,
    pub response_body: Option<String>,
    /// (kind, message) for anything but a 2xx.
    pub error: Option<(&'static str, String)>,
    pub retry_after: Option<Duration>,
    /// A transformation cancelled the delivery: nothing was sent, no attempt is recorded.
    pub cancelled: bool,
}

impl AttemptResult {
    /// No request: the transformation cancelled it, or failed with `error`.
    pub fn not_sent(error: Option<String>) -> AttemptResult {
        AttemptResult {
            duration: Duration::ZERO,
            status: None,
            response_body: None,
            cancelled: error.is_none(),
            error: error.map(|e| ("transformation", e)),
            retry_after: None,
        }
    }

    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The shared HTTP client and the address policy.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
    attempt_timeout: Duration,
}

impl Sender {
    pub fn new(
        policy: AddressPolicy,
        connect_timeout: Duration,
        attempt_timeout: Duration,
    ) -> Self {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            // Many endpoints can share one host (a customer's gateway, the bench's sink): the
            // pool is per host, so a cap below their summed `max_in_flight` closed connections
            // that the next attempts then opened again (~1 in 5 deliveries at 10 × 16).
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .no_proxy()
            .build()
            .expect("the HTTP client configuration is valid");
        Sender {
            client,
            policy,
            attempt_timeout,
        }
    }

    /// Sends one attempt; never fails, every problem is an outcome.
    pub async fn send(&self, req: Prepared) -> AttemptResult {
        let start = Instant::now();
        let done = |status, body, error, retry_after| AttemptResult {
            duration: start.elapsed(),
            status,
            response_body: body,
            error,
            retry_after,
            cancelled: false,
        };
        let parsed = match reqwest::Url::parse(&req.url) {
            Ok(u) => u,
            Err(e) => {
                return done(
                    None,
                    None,
                    Some(("other", format!("invalid url: {e}"))),
                    None,
                )
            }
        };
        // IP-literal hosts never reach the resolver: check them here.
        if let Some(host) = parsed.host_str() {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = bare.parse::<IpAddr>() {
                if !self.policy.permits(ip) {
                    let msg = format!(
                        "{ip} is a blocked address (loopback, private, link-local or reserved)"
                    );
                    return done(None, None, Some(("blocked_address", msg)), None);
                }
            }
        }
        let mut headers = HeaderMap::with_capacity(req.headers.len());
        for (k, v) in &req.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                headers.append(name, value);
            }
        }
        let work = async {
            let mut resp = self
                .client
                .request(req.method, parsed)
                .headers(headers)
                .body(req.body)
                .send()
                .await?;
            let status = resp.status().as_u16();
            let retry_after = if status == 429 || status == 503 {
                resp.headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()))
            } else {
                None
            };
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut body = Vec::new();
            while body.len() < RESPONSE_BODY_LIMIT {
                match resp.chunk().await? {
                    Some(chunk) => body.extend_from_slice(&chunk),
                    None => break,
                }
            }
            body.truncate(RESPONSE_BODY_LIMIT);
            Ok::<_, reqwest::Error>((status, retry_after, location, body))
        };
        match tokio::time::timeout(self.attempt_timeout, work).await {
            Err(_) => done(
                None,
                None,
                Some((
                    "timeout",
                    format!("no complete answer within {:?}", self.attempt_timeout),
                )),
                None,
            ),
            Ok(Err(e)) => done(None, None, Some(classify(&e)), None),
            Ok(Ok((status, retry_after, location, body))) => {
                let text = utf8_prefix(&body);
                let error = if (200..300).contains(&status) {
                    None
                } else if (300..400).contains(&status) {
                    let to = location.unwrap_or_else(|| "(no location)".into());
                    Some((
                        "http_status",
                        format!("HTTP {status}: redirect to {to} not followed"),
                    ))
                } else {
                    Some(("http_status", format!("HTTP {status}")))
                };
                done(Some(status), Some(text), error, retry_after)
            }
        }
    }
}

/// The body as text, cut at a character boundary.
fn utf8_prefix(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(e) if e.error_len().is_none() => {
            String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned()
        }
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Maps a transport error to the contract's error kinds.
fn classify(e: &reqwest::Error) -> (&'static str, String) {
    let mut chain = String::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.source();
    let mut kind = None;
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<ResolveError>() {
            kind = Some(match r {
                ResolveError::Dns(..) => "dns",
                ResolveError::Blocked(..) => "blocked_address",
            });
        }
        // The TLS layer reports handshake and certificate failures as InvalidData I/O errors.
        if kind.is_none()
            && s.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
        {
            kind = Some("tls");
        }
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    let message = format!("{e}{chain}");
    if let Some(k) = kind {
        return (k, message);
    }
    let lower = message.to_ascii_lowercase();
    let k = if e.is_timeout() {
        "timeout"
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        "tls"
    } else if e.is_connect() {
        "connect"
    } else {
        "other"
    };
    (k, message)
}
