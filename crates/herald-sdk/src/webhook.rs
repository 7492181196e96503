//! Verifying and parsing deliveries.

use herald_signature::{SignatureError, SigningKey, Verifier};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::Event;

/// Why a delivery was rejected.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// A key given to [`Webhook::new`] is not a `whsec_`/`whpk_` key.
    #[error("invalid key: {0}")]
    InvalidKey(SignatureError),
    /// `webhook-id`, `webhook-timestamp` or `webhook-signature` is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// The signature, its timestamp or its format is wrong.
    #[error("signature rejected: {0}")]
    Signature(SignatureError),
    /// The body does not parse as the format its headers announce.
    #[error("invalid body: {0}")]
    InvalidBody(String),
}

impl WebhookError {
    /// True when the request is not authentic (answer 401); false when it is malformed (400).
    ///
    /// ```
    /// let e = herald_sdk::WebhookError::MissingHeader("webhook-id");
    /// assert!(!e.is_unauthenticated());
    /// ```
    pub fn is_unauthenticated(&self) -> bool {
        matches!(
            self,
            WebhookError::Signature(_) | WebhookError::InvalidKey(_)
        )
    }
}

/// Verifies deliveries with one or more keys (several during a secret rotation).
///
/// ```
/// use herald_sdk::Webhook;
/// let wh = Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
/// let body = br#"{"type":"order.paid","timestamp":"2026-11-22T14:03:07.123Z","data":{"n":1}}"#;
/// let now = 1_763_820_187;
/// let headers = wh.sign_headers("evt_1", now, body).unwrap();
/// let event = wh.verify_at(&headers, body, now).unwrap();
/// assert_eq!((event.id.as_str(), event.event_type.as_str()), ("evt_1", "order.paid"));
/// ```
#[derive(Clone, Debug)]
pub struct Webhook {
    verifier: Verifier,
    signer: Option<String>,
}

impl Webhook {
    /// A verifier for one `whsec_…` secret or `whpk_…` public key.
    ///
    /// ```
    /// assert!(herald_sdk::Webhook::new("nope").is_err());
    /// ```
    pub fn new(key: &str) -> Result<Webhook, WebhookError> {
        Self::with_keys(&[key])
    }

    /// A verifier accepting a signature by any of `keys` (e.g. the old and the new secret).
    ///
    /// ```
    /// let wh = herald_sdk::Webhook::with_keys(&[
    ///     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ///     "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY",
    /// ]);
    /// assert!(wh.is_ok());
    /// ```
    pub fn with_keys<S: AsRef<str>>(keys: &[S]) -> Result<Webhook, WebhookError> {
        let verifier = Verifier::new(keys).map_err(WebhookError::InvalidKey)?;
        let signer = keys
            .first()
            .map(|k| k.as_ref().to_string())
            .filter(|k| k.starts_with("whsec_"));
        Ok(Webhook { verifier, signer })
    }

    /// Accepts timestamps up to `seconds` away from the clock (default 300).
    ///
    /// ```
    /// let wh = herald_sdk::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap().tolerance(60);
    /// # let _ = wh;
    /// ```
    pub fn tolerance(mut self, seconds: i64) -> Webhook {
        self.verifier = self.verifier.with_tolerance(seconds);
        self
    }

    /// Verifies `body` against `headers` now and parses the event.
    ///
    /// ```
    /// let wh = herald_sdk::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    /// assert!(wh.verify(&http::HeaderMap::new(), b"{}").is_err());
    /// ```
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Event, WebhookError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.verify_at(headers, body, now)
    }

    /// Verifies as if the clock read `now` (unix seconds), then parses the event.
    ///
    /// ```
    /// let wh = herald_sdk::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    /// let headers = wh.sign_headers("evt_1", 100, b"{}").unwrap();
    /// assert!(wh.verify_at(&headers, b"{}", 100 + 301).is_err());
    /// ```
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Event, WebhookError> {
        let get = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(WebhookError::MissingHeader(name))
        };
        let id = get("webhook-id")?;
        let ts = get("webhook-timestamp")?;
        let sig = get("webhook-signature")?;
        self.verifier
            .verify_at(id, ts, sig, body, now)
            .map_err(WebhookError::Signature)?;
        parse(id, headers, body)
    }

    /// The `webhook-signature` value for `body` (`v1,<base64>`), signed with the first
    /// secret, for tests of receivers. Needs a `whsec_` secret.
    ///
    /// ```
    /// let wh = herald_sdk::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    /// let sig = wh.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#).unwrap();
    /// assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /// ```
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<String, WebhookError> {
        let secret = self.signer.as_deref().ok_or(WebhookError::InvalidKey(
            SignatureError::MalformedKey("signing needs a whsec_ secret"),
        ))?;
        let key = SigningKey::parse(secret).map_err(WebhookError::InvalidKey)?;
        Ok(key.sign(id, timestamp, body))
    }

    /// The three `webhook-*` headers for `body`, signed with the first secret (for tests of
    /// receivers). Needs a `whsec_` secret.
    ///
    /// ```
    /// let wh = herald_sdk::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    /// let h = wh.sign_headers("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#).unwrap();
    /// assert_eq!(h["webhook-signature"], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /// ```
    pub fn sign_headers(
        &self,
        id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<HeaderMap, WebhookError> {
        let signature = self.sign(id, timestamp, body)?;
        let mut h = HeaderMap::new();
        let value = |s: String| {
            http::HeaderValue::from_str(&s).map_err(|e| WebhookError::InvalidBody(e.to_string()))
        };
        h.insert("webhook-id", value(id.to_string())?);
        h.insert("webhook-timestamp", value(timestamp.to_string())?);
        h.insert("webhook-signature", value(signature)?);
        Ok(h)
    }
}

#[derive(Deserialize)]
struct StandardBody {
    #[serde(rename = "type")]
    event_type: String,
    timestamp: Option<String>,
    data: Box<RawValue>,
}

#[derive(Deserialize)]
struct StructuredCloudEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    source: Option<String>,
    time: Option<String>,
    subject: Option<String>,
    data: Option<Box<RawValue>>,
}

/// Parses the body per the format the headers announce.
fn parse(webhook_id: &str, headers: &HeaderMap, body: &[u8]) -> Result<Event, WebhookError> {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let text = std::str::from_utf8(body).map_err(|e| WebhookError::InvalidBody(e.to_string()))?;
    let bad = |e: serde_json::Error| WebhookError::InvalidBody(e.to_string());
    if let Some(ce_id) = header("ce-id") {
        // CloudEvents binary mode: attributes in headers, the body is the data.
        return Ok(Event {
            id: ce_id,
            event_type: header("ce-type").ok_or(WebhookError::MissingHeader("ce-type"))?,
            time: header("ce-time"),
            source: header("ce-source"),
            subject: header("ce-subject"),
            data: RawValue::from_string(text.to_string()).map_err(bad)?,
        });
    }
    let content_type = header("content-type").unwrap_or_default();
    if content_type.starts_with("application/cloudevents+json") {
        let ce: StructuredCloudEvent = serde_json::from_str(text).map_err(bad)?;
        return Ok(Event {
            id: ce.id,
            event_type: ce.event_type,
            time: ce.time,
            source: ce.source,
            subject: ce.subject,
            data: ce
                .data
                .unwrap_or_else(|| RawValue::from_string("null".into()).expect("null is JSON")),
        });
    }
    let std: StandardBody = serde_json::from_str(text).map_err(bad)?;
    Ok(Event {
        id: webhook_id.to_string(),
        event_type: std.event_type,
        time: std.timestamp,
        source: None,
        subject: None,
        data: std.data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn official_vector_verifies_and_tampering_fails() {
        let wh = Webhook::new(SECRET).unwrap();
        let body = br#"{"test": 2432232314}"#;
        let mut h = HeaderMap::new();
        h.insert(
            "webhook-id",
            "msg_p5jXN8AQM9LWM0D4loKWxJek".parse().unwrap(),
        );
        h.insert("webhook-timestamp", "1614265330".parse().unwrap());
        h.insert(
            "webhook-signature",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
                .parse()
                .unwrap(),
        );
        // The vector's body is not a Herald event: the signature passes, parsing says why.
        match wh.verify_at(&h, body, 1614265330) {
            Err(WebhookError::InvalidBody(_)) => {}
            other => panic!("{other:?}"),
        }
        let err = wh
            .verify_at(&h, br#"{"test": 2432232315}"#, 1614265330)
            .unwrap_err();
        assert!(err.is_unauthenticated(), "{err}");
    }

    #[test]
    fn parses_all_three_formats() {
        let wh = Webhook::new(SECRET).unwrap();
        let std_body = br#"{"type":"order.paid","timestamp":"t","data":{"n": 1.50}}"#;
        let h = wh.sign_headers("evt_1", 10, std_body).unwrap();
        let e = wh.verify_at(&h, std_body, 10).unwrap();
        assert_eq!(e.data.get(), r#"{"n": 1.50}"#);

        let ce = br#"{"specversion":"1.0","id":"evt_2","source":"/s","type":"a.b","time":"t","datacontenttype":"application/json","subject":"x","data":[1]}"#;
        let mut h = wh.sign_headers("evt_2", 10, ce).unwrap();
        h.insert(
            "content-type",
            "application/cloudevents+json".parse().unwrap(),
        );
        let e = wh.verify_at(&h, ce, 10).unwrap();
        assert_eq!(
            (e.id.as_str(), e.subject.as_deref(), e.data.get()),
            ("evt_2", Some("x"), "[1]")
        );

        let bin = br#"{"k":"v"}"#;
        let mut h = wh.sign_headers("evt_3", 10, bin).unwrap();
        for (k, v) in [
            ("ce-id", "evt_3"),
            ("ce-type", "c.d"),
            ("ce-source", "/s"),
            ("ce-specversion", "1.0"),
        ] {
            h.insert(k, v.parse().unwrap());
        }
        let e = wh.verify_at(&h, bin, 10).unwrap();
        assert_eq!(
            (e.event_type.as_str(), e.data.get()),
            ("c.d", r#"{"k":"v"}"#)
        );
    }

    #[test]
    fn missing_headers_are_not_authentication_failures() {
        let wh = Webhook::new(SECRET).unwrap();
        let err = wh.verify_at(&HeaderMap::new(), b"{}", 0).unwrap_err();
        assert!(matches!(err, WebhookError::MissingHeader("webhook-id")));
        assert!(!err.is_unauthenticated());
    }
}
