//! Builds what is sent for one attempt: the body for the endpoint's format (with the
//! payload's original bytes spliced in, never re-encoded), the endpoint's transformation
//! when it has one on, and every header, signed over the body actually sent.

use herald_signature::SigningKey;
use secrecy::ExposeSecret;

use super::chat;
use crate::routing::transform::{self, Outcome, WebhookIn};
use crate::store::{Format, Job, Transformation};
use crate::timefmt::format_ms;

/// The request of one attempt.
#[derive(Debug)]
pub struct Prepared {
    pub method: reqwest::Method,
    pub url: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

/// What an attempt does.
#[derive(Debug)]
pub enum Prep {
    Send(Prepared),
    /// The transformation set `cancel`: no request, no attempt.
    Cancelled,
    /// The transformation failed (`error.kind = "transformation"`).
    Failed(String),
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The request body for the endpoint's format.
pub fn body(job: &Job) -> Vec<u8> {
    let time = format_ms(job.event_created_at);
    match job.endpoint.format {
        Format::StandardWebhooks => {
            let mut b = Vec::with_capacity(job.payload.len() + job.event_type.len() + 64);
            b.extend_from_slice(b"{\"type\":");
            b.extend_from_slice(json_str(&job.event_type).as_bytes());
            b.extend_from_slice(b",\"timestamp\":");
            b.extend_from_slice(json_str(&time).as_bytes());
            b.extend_from_slice(b",\"data\":");
            b.extend_from_slice(&job.payload);
            b.push(b'}');
            b
        }
        Format::Cloudevents => {
            let mut b = Vec::with_capacity(job.payload.len() + 256);
            b.extend_from_slice(b"{\"specversion\":\"1.0\",\"id\":");
            b.extend_from_slice(json_str(&job.event_id).as_bytes());
            b.extend_from_slice(b",\"source\":");
            b.extend_from_slice(json_str(&source(job)).as_bytes());
            b.extend_from_slice(b",\"type\":");
            b.extend_from_slice(json_str(&job.event_type).as_bytes());
            b.extend_from_slice(b",\"time\":");
            b.extend_from_slice(json_str(&time).as_bytes());
            b.extend_from_slice(b",\"datacontenttype\":\"application/json\"");
            if let Some(subject) = &job.subject {
                b.extend_from_slice(b",\"subject\":");
                b.extend_from_slice(json_str(subject).as_bytes());
            }
            b.extend_from_slice(b",\"data\":");
            b.extend_from_slice(&job.payload);
            b.push(b'}');
            b
        }
        Format::CloudeventsBinary => job.payload.to_vec(),
        Format::Slack => chat::slack(&job.event_type, &job.event_id, &job.payload),
        Format::Discord => chat::discord(&job.event_type, &job.event_id, &job.payload),
    }
}

fn source(job: &Job) -> String {
    job.source
        .clone()
        .unwrap_or_else(|| format!("/herald/apps/{}", job.app_id))
}

/// The keys that sign now: the current one, and each previous one in its grace period.
pub fn signing_keys(job: &Job, now_ms: i64) -> Vec<SigningKey> {
    job.endpoint
        .signing_secrets(now_ms)
        .filter_map(|s| SigningKey::parse(s.expose_secret()).ok())
        .collect()
}

/// A delivery's transformation, started while it waits in its endpoint's queue (see
/// [`start_ahead`]), with the body it was given.
pub struct Ahead {
    pending: transform::Pending,
}

/// Starts the endpoint's transformation for `job` now, if it has one on: the script runs
/// while the job waits for its turn, so its time does not hold one of the endpoint's
/// `max_in_flight` slots. The run is for this attempt only (a retry is queued, and started,
/// anew).
pub fn start_ahead(job: &Job) -> Option<Ahead> {
    let code = Transformation::active(&job.endpoint.transformation)?;
    let body = body(job);
    let webhook = WebhookIn {
        url: &job.endpoint.url,
        headers: &job.endpoint.headers,
        event_type: &job.event_type,
        event_id: &job.event_id,
        body: &body,
    };
    Some(Ahead {
        pending: transform::start(code, &webhook),
    })
}

/// The request for attempt number `attempt` at `now_ms`: the format's body, through the
/// endpoint's transformation when it has one on (`ahead`, when it was started early),
/// signed.
pub async fn prepare(job: &Job, attempt: i64, now_ms: i64, ahead: Option<Ahead>) -> Prep {
    let Some(ahead) = ahead.or_else(|| start_ahead(job)) else {
        return Prep::Send(prepare_plain(job, attempt, now_ms));
    };
    let started = std::time::Instant::now();
    let outcome = ahead.pending.outcome().await;
    // What the attempt waited for it (the whole run when it was not started early).
    metrics::histogram!("herald_transformation_wait_seconds")
        .record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(Outcome::Send(r)) => Prep::Send(signed(
            job, attempt, now_ms, r.method, r.url, r.body, &r.headers,
        )),
        Ok(Outcome::Cancelled) => Prep::Cancelled,
        Err(e) => Prep::Failed(e),
    }
}

/// The plain request (no transformation) for attempt number `attempt`, signed at `now_ms`.
pub fn prepare_plain(job: &Job, attempt: i64, now_ms: i64) -> Prepared {
    let url = job.endpoint.url.clone();
    signed(
        job,
        attempt,
        now_ms,
        reqwest::Method::POST,
        url,
        body(job),
        &[],
    )
}

/// `body` with every header, signed; `extra` (a transformation's) replaces the endpoint's
/// custom headers of the same name.
fn signed(
    job: &Job,
    attempt: i64,
    now_ms: i64,
    method: reqwest::Method,
    url: String,
    body: Vec<u8>,
    extra: &[(String, String)],
) -> Prepared {
    let ts = now_ms.div_euclid(1000);
    let signature = signing_keys(job, now_ms)
        .iter()
        .map(|k| k.sign(&job.event_id, ts, &body))
        .collect::<Vec<_>>()
        .join(" ");
    let content_type = match job.endpoint.format {
        Format::Cloudevents => "application/cloudevents+json",
        _ => "application/json",
    };
    let mut headers = vec![
        ("content-type".to_string(), content_type.to_string()),
        ("user-agent".to_string(), crate::USER_AGENT.to_string()),
        ("webhook-id".to_string(), job.event_id.clone()),
        ("webhook-timestamp".to_string(), ts.to_string()),
        ("webhook-signature".to_string(), signature),
        ("herald-delivery-id".to_string(), job.delivery_id.clone()),
        ("herald-attempt".to_string(), attempt.to_string()),
    ];
    if job.endpoint.format == Format::CloudeventsBinary {
        headers.push(("ce-specversion".into(), "1.0".into()));
        headers.push(("ce-id".into(), job.event_id.clone()));
        headers.push(("ce-source".into(), source(job)));
        headers.push(("ce-type".into(), job.event_type.clone()));
        headers.push(("ce-time".into(), format_ms(job.event_created_at)));
        if let Some(subject) = &job.subject {
            headers.push(("ce-subject".into(), subject.clone()));
        }
    }
    for (name, value) in &job.endpoint.headers {
        let replaced = extra.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if let (Some(v), false) = (value.as_str(), replaced) {
            headers.push((name.clone(), v.to_string()));
        }
    }
    headers.extend(extra.iter().cloned());
    Prepared {
        method,
        url,
        body,
        headers,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::{Endpoint, EndpointStatus, PreviousSecret, SignatureScheme};

    pub fn job(format: Format, payload: &[u8]) -> Job {
        Job {
            delivery_id: "del_1".into(),
            attempts: 0,
            app_id: "app_1".into(),
            event_id: "evt_1".into(),
            event_type: "order.paid".into(),
            payload: bytes::Bytes::copy_from_slice(payload),
            source: None,
            subject: Some("order/1".into()),
            event_created_at: 1_763_820_187_123,
            due_at: 0,
            endpoint: std::sync::Arc::new(Endpoint {
                id: "ep_1".into(),
                app_id: "app_1".into(),
                url: "http://127.0.0.1/".into(),
                description: None,
                event_types: None,
                status: EndpointStatus::Active,
                disabled_reason: None,
                rate_limit: None,
                max_in_flight: 16,
                headers: serde_json::from_str(r#"{"x-a":"b"}"#).unwrap(),
                format,
                ordered: false,
                metadata: serde_json::json!({}),
                signature_scheme: SignatureScheme::V1,
                secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
                previous_secrets: vec![PreviousSecret {
                    secret: "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY".into(),
                    until: 2_000_000_000_000,
                }],
                first_failure_at: None,
                filter: None,
                transformation: None,
                created_at: 0,
                updated_at: 0,
            }),
        }
    }

    #[test]
    fn an_endpoint_never_prints_its_secrets() {
        let j = job(Format::StandardWebhooks, b"{}");
        let shown = format!("{:?}", j.endpoint);
        assert!(
            !shown.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "{shown}"
        );
        assert!(
            !shown.contains("QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"),
            "{shown}"
        );
        assert!(shown.contains("REDACTED"), "{shown}");
    }

    #[test]
    fn standard_body_keeps_payload_bytes() {
        let payload = br#"{"b": 1.50,  "a":"\u00e9"}"#;
        let b = body(&job(Format::StandardWebhooks, payload));
        assert_eq!(
            b,
            br#"{"type":"order.paid","timestamp":"2025-11-22T14:03:07.123Z","data":{"b": 1.50,  "a":"\u00e9"}}"#
        );
    }

    #[test]
    fn rotation_signs_with_both_secrets_and_both_verify() {
        let j = job(Format::StandardWebhooks, b"{}");
        let now = 1_763_820_187_000;
        let p = prepare_plain(&j, 1, now);
        let get = |n: &str| {
            p.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let sig = get("webhook-signature");
        assert_eq!(sig.split(' ').count(), 2, "{sig}");
        for secret in [&j.endpoint.secret, &j.endpoint.previous_secrets[0].secret] {
            let v = herald_signature::Verifier::new(&[secret.expose_secret()]).unwrap();
            v.verify_at(
                "evt_1",
                &get("webhook-timestamp"),
                &sig,
                &p.body,
                now / 1000,
            )
            .unwrap();
        }
        assert_eq!(get("x-a"), "b");
        // After the grace period only the new secret signs.
        let later = prepare_plain(&j, 2, 2_000_000_000_001);
        let sig = later
            .headers
            .iter()
            .find(|(k, _)| k == "webhook-signature")
            .unwrap();
        assert_eq!(sig.1.split(' ').count(), 1);
    }

    #[test]
    fn cloudevents_formats() {
        let j = job(Format::Cloudevents, b"[1, 2]");
        let v: serde_json::Value = serde_json::from_slice(&body(&j)).unwrap();
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["source"], "/herald/apps/app_1");
        assert_eq!(v["subject"], "order/1");
        assert_eq!(v["data"], serde_json::json!([1, 2]));
        let j = job(Format::CloudeventsBinary, b"[1, 2]");
        let p = prepare_plain(&j, 1, 0);
        assert_eq!(p.body, b"[1, 2]");
        assert!(p
            .headers
            .iter()
            .any(|(k, v)| k == "ce-type" && v == "order.paid"));
    }
}
