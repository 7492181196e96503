//! Row → model mapping: the column names and types are the same in both schemas.

use super::query::{Column, Index};
use super::Backend;
use secrecy::ExposeSecret;

use crate::store::data_key::DataKey;
use crate::store::*;

/// Reads a column of a row of either backend (sqlx's `try_get`, for the shared SQL).
pub trait Get {
    fn col<T: Column, I: Index>(&self, index: I) -> sqlx::Result<T>;
}

impl<R: sqlx::Row> Get for R
where
    R::Database: Backend,
{
    fn col<T: Column, I: Index>(&self, index: I) -> sqlx::Result<T> {
        <R::Database as Backend>::get(self, index)
    }
}

fn json(text: Option<String>) -> Result<serde_json::Value> {
    match text {
        None => Ok(serde_json::Value::Null),
        Some(t) => serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(e.to_string())),
    }
}

pub fn key(r: &impl Get) -> Result<(i64, ApiKey)> {
    let scope: String = r.col("scope")?;
    Ok((
        r.col("seq")?,
        ApiKey {
            id: r.col("id")?,
            name: r.col("name")?,
            scope: Scope::parse(&scope).ok_or_else(|| StoreError::Corrupt(scope.clone()))?,
            app_id: r.col("app_id")?,
            key_hash: r.col("key_hash")?,
            read_only: r.col("read_only")?,
            expires_at: r.col("expires_at")?,
            created_at: r.col("created_at")?,
        },
    ))
}

pub fn app(r: &impl Get) -> Result<(i64, App)> {
    Ok((
        r.col("seq")?,
        App {
            id: r.col("id")?,
            uid: r.col("uid")?,
            name: r.col("name")?,
            metadata: json(r.col("metadata")?)?,
            created_at: r.col("created_at")?,
            updated_at: r.col("updated_at")?,
        },
    ))
}

pub fn event_type(r: &impl Get) -> Result<(i64, EventType)> {
    let schema = json(r.col("schema")?)?;
    Ok((
        r.col("seq")?,
        EventType {
            id: r.col("id")?,
            name: r.col("name")?,
            description: r.col("description")?,
            schema: (!schema.is_null()).then_some(schema),
            archived: r.col("archived")?,
            created_at: r.col("created_at")?,
            updated_at: r.col("updated_at")?,
        },
    ))
}

/// Reads endpoint columns; `prefix` is the column alias prefix used by joins ("" or "ep_");
/// `key` opens its secrets.
pub fn endpoint(r: &impl Get, prefix: &str, key: &DataKey) -> Result<(i64, Endpoint)> {
    let c = |n: &str| format!("{prefix}{n}");
    let status: String = r.col(c("status").as_str())?;
    let format: String = r.col(c("format").as_str())?;
    let scheme: String = r.col(c("signature_scheme").as_str())?;
    let event_types = json(r.col(c("event_types").as_str())?)?;
    let headers = match json(r.col(c("headers").as_str())?)? {
        serde_json::Value::Object(m) => m,
        _ => Default::default(),
    };
    Ok((
        r.col(c("seq").as_str())?,
        Endpoint {
            id: r.col(c("id").as_str())?,
            app_id: r.col(c("app_id").as_str())?,
            url: r.col(c("url").as_str())?,
            description: r.col(c("description").as_str())?,
            event_types: serde_json::from_value(event_types)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            status: EndpointStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(status))?,
            disabled_reason: r.col(c("disabled_reason").as_str())?,
            rate_limit: r.col(c("rate_limit").as_str())?,
            max_in_flight: r.col(c("max_in_flight").as_str())?,
            headers,
            format: Format::parse(&format).ok_or_else(|| StoreError::Corrupt(format))?,
            ordered: r.col(c("ordered").as_str())?,
            metadata: json(r.col(c("metadata").as_str())?)?,
            signature_scheme: SignatureScheme::parse(&scheme)
                .ok_or_else(|| StoreError::Corrupt(scheme))?,
            secret: key.open(&r.col::<String, _>(c("secret").as_str())?)?,
            previous_secrets: previous_secrets(
                key.open(&r.col::<String, _>(c("previous_secrets").as_str())?)?
                    .expose_secret(),
            )?,
            first_failure_at: r.col(c("first_failure_at").as_str())?,
            filter: r
                .col::<Option<String>, _>(c("filter").as_str())?
                .map(|f| crate::routing::Filter::stored(&f)),
            transformation: transformation(r.col(c("transformation").as_str())?)?,
            created_at: r.col(c("created_at").as_str())?,
            updated_at: r.col(c("updated_at").as_str())?,
        },
    ))
}

/// The stored `{"code", "enabled"}`.
fn transformation(stored: Option<String>) -> Result<Option<Transformation>> {
    let Some(text) = stored else {
        return Ok(None);
    };
    let t: herald_types::Transformation =
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Some(Transformation {
        code: t.code.into(),
        enabled: t.enabled,
    }))
}

/// The column's text for a transformation.
pub fn transformation_json(t: &Option<Transformation>) -> Option<String> {
    t.as_ref()
        .map(|t| serde_json::json!({"code": &*t.code, "enabled": t.enabled}).to_string())
}

pub fn event(r: &impl Get) -> Result<(i64, Event)> {
    let seq = r.col("seq")?;
    Ok((
        seq,
        Event {
            seq,
            id: r.col("id")?,
            app_id: r.col("app_id")?,
            event_type: r.col("type")?,
            payload: r.col("payload")?,
            source: r.col("source")?,
            subject: r.col("subject")?,
            metadata: json(r.col("metadata")?)?,
            created_at: r.col("created_at")?,
        },
    ))
}

pub fn delivery(r: &impl Get) -> Result<(i64, Delivery)> {
    Ok((
        r.col("seq")?,
        Delivery {
            id: r.col("id")?,
            app_id: r.col("app_id")?,
            event_id: r.col("event_id")?,
            endpoint_id: r.col("endpoint_id")?,
            status: {
                let s: String = r.col("status")?;
                DeliveryStatus::parse(&s).ok_or(StoreError::Corrupt(s))?
            },
            attempts: r.col("attempts")?,
            next_attempt_at: r.col("next_attempt_at")?,
            last_attempt_at: r.col("last_attempt_at")?,
            last_status_code: r.col("last_status_code")?,
            created_at: r.col("created_at")?,
        },
    ))
}

pub fn attempt(r: &impl Get) -> Result<(i64, Attempt)> {
    Ok((
        r.col("seq")?,
        Attempt {
            id: r.col("id")?,
            delivery_id: r.col("delivery_id")?,
            number: r.col("number")?,
            started_at: r.col("started_at")?,
            duration_ms: r.col("duration_ms")?,
            status_code: r.col("status_code")?,
            response_body: r.col("response_body")?,
            error_kind: r.col("error_kind")?,
            error_message: r.col("error_message")?,
        },
    ))
}

/// The stored form of an endpoint's previous secrets: `[{"secret": …, "until": ms}, …]`.
pub fn previous_secrets_json(list: &[PreviousSecret]) -> String {
    serde_json::Value::Array(
        list.iter()
            .map(|p| serde_json::json!({"secret": p.secret.expose_secret(), "until": p.until}))
            .collect(),
    )
    .to_string()
}

fn previous_secrets(text: &str) -> Result<Vec<PreviousSecret>> {
    #[derive(serde::Deserialize)]
    struct Stored {
        secret: String,
        until: i64,
    }
    let stored: Vec<Stored> = serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("previous_secrets: {e}")))?;
    Ok(stored
        .into_iter()
        .map(|s| PreviousSecret {
            secret: s.secret.into(),
            until: s.until,
        })
        .collect())
}

/// Collects mapped rows, failing on the first bad one.
pub fn all<R: Get, T>(rows: Vec<R>, f: impl Fn(&R) -> Result<(i64, T)>) -> Result<Vec<(i64, T)>> {
    rows.iter().map(f).collect()
}
