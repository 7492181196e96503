//! Row → model mapping, shared by the backends: the column names and types are the same in
//! both schemas, only the row type differs, so one macro body serves both.

/// Defines `key`, `app`, `event_type`, `endpoint`, `event`, `delivery`, `attempt` and `all`
/// mapping functions for the row type `$row`.
macro_rules! row_mappers {
    ($row:ty) => {
        use sqlx::Row;

        use crate::store::*;

        fn json(text: Option<String>) -> Result<serde_json::Value> {
            match text {
                None => Ok(serde_json::Value::Null),
                Some(t) => serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(e.to_string())),
            }
        }

        pub fn key(r: &$row) -> Result<(i64, ApiKey)> {
            let scope: String = r.try_get("scope")?;
            Ok((
                r.try_get("seq")?,
                ApiKey {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    scope: Scope::parse(&scope)
                        .ok_or_else(|| StoreError::Corrupt(scope.clone()))?,
                    app_id: r.try_get("app_id")?,
                    key_hash: r.try_get("key_hash")?,
                    read_only: r.try_get("read_only")?,
                    expires_at: r.try_get("expires_at")?,
                    created_at: r.try_get("created_at")?,
                },
            ))
        }

        pub fn app(r: &$row) -> Result<(i64, App)> {
            Ok((
                r.try_get("seq")?,
                App {
                    id: r.try_get("id")?,
                    uid: r.try_get("uid")?,
                    name: r.try_get("name")?,
                    metadata: json(r.try_get("metadata")?)?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                },
            ))
        }

        pub fn event_type(r: &$row) -> Result<(i64, EventType)> {
            let schema = json(r.try_get("schema")?)?;
            Ok((
                r.try_get("seq")?,
                EventType {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    description: r.try_get("description")?,
                    schema: (!schema.is_null()).then_some(schema),
                    archived: r.try_get("archived")?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                },
            ))
        }

        /// Reads endpoint columns; `prefix` is the column alias prefix used by joins ("" or "ep_").
        pub fn endpoint(r: &$row, prefix: &str) -> Result<(i64, Endpoint)> {
            let c = |n: &str| format!("{prefix}{n}");
            let status: String = r.try_get(c("status").as_str())?;
            let format: String = r.try_get(c("format").as_str())?;
            let scheme: String = r.try_get(c("signature_scheme").as_str())?;
            let event_types = json(r.try_get(c("event_types").as_str())?)?;
            let headers = match json(r.try_get(c("headers").as_str())?)? {
                serde_json::Value::Object(m) => m,
                _ => Default::default(),
            };
            Ok((
                r.try_get(c("seq").as_str())?,
                Endpoint {
                    id: r.try_get(c("id").as_str())?,
                    app_id: r.try_get(c("app_id").as_str())?,
                    url: r.try_get(c("url").as_str())?,
                    description: r.try_get(c("description").as_str())?,
                    event_types: serde_json::from_value(event_types)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    status: EndpointStatus::parse(&status)
                        .ok_or_else(|| StoreError::Corrupt(status))?,
                    disabled_reason: r.try_get(c("disabled_reason").as_str())?,
                    rate_limit: r.try_get(c("rate_limit").as_str())?,
                    max_in_flight: r.try_get(c("max_in_flight").as_str())?,
                    headers,
                    format: Format::parse(&format).ok_or_else(|| StoreError::Corrupt(format))?,
                    ordered: r.try_get(c("ordered").as_str())?,
                    metadata: json(r.try_get(c("metadata").as_str())?)?,
                    signature_scheme: SignatureScheme::parse(&scheme)
                        .ok_or_else(|| StoreError::Corrupt(scheme))?,
                    secret: secrecy::SecretString::from(
                        r.try_get::<String, _>(c("secret").as_str())?,
                    ),
                    prev_secret: r
                        .try_get::<Option<String>, _>(c("prev_secret").as_str())?
                        .map(secrecy::SecretString::from),
                    prev_secret_until: r.try_get(c("prev_secret_until").as_str())?,
                    first_failure_at: r.try_get(c("first_failure_at").as_str())?,
                    created_at: r.try_get(c("created_at").as_str())?,
                    updated_at: r.try_get(c("updated_at").as_str())?,
                },
            ))
        }

        pub fn event(r: &$row) -> Result<(i64, Event)> {
            let seq = r.try_get("seq")?;
            Ok((
                seq,
                Event {
                    seq,
                    id: r.try_get("id")?,
                    app_id: r.try_get("app_id")?,
                    event_type: r.try_get("type")?,
                    payload: r.try_get("payload")?,
                    source: r.try_get("source")?,
                    subject: r.try_get("subject")?,
                    metadata: json(r.try_get("metadata")?)?,
                    created_at: r.try_get("created_at")?,
                },
            ))
        }

        pub fn delivery(r: &$row) -> Result<(i64, Delivery)> {
            Ok((
                r.try_get("seq")?,
                Delivery {
                    id: r.try_get("id")?,
                    app_id: r.try_get("app_id")?,
                    event_id: r.try_get("event_id")?,
                    endpoint_id: r.try_get("endpoint_id")?,
                    status: {
                        let s: String = r.try_get("status")?;
                        DeliveryStatus::parse(&s).ok_or(StoreError::Corrupt(s))?
                    },
                    attempts: r.try_get("attempts")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                    last_attempt_at: r.try_get("last_attempt_at")?,
                    last_status_code: r.try_get("last_status_code")?,
                    created_at: r.try_get("created_at")?,
                },
            ))
        }

        pub fn attempt(r: &$row) -> Result<(i64, Attempt)> {
            Ok((
                r.try_get("seq")?,
                Attempt {
                    id: r.try_get("id")?,
                    delivery_id: r.try_get("delivery_id")?,
                    number: r.try_get("number")?,
                    started_at: r.try_get("started_at")?,
                    duration_ms: r.try_get("duration_ms")?,
                    status_code: r.try_get("status_code")?,
                    response_body: r.try_get("response_body")?,
                    error_kind: r.try_get("error_kind")?,
                    error_message: r.try_get("error_message")?,
                },
            ))
        }

        /// Collects mapped rows, failing on the first bad one.
        pub fn all<T>(
            rows: Vec<$row>,
            f: impl Fn(&$row) -> Result<(i64, T)>,
        ) -> Result<Vec<(i64, T)>> {
            rows.iter().map(f).collect()
        }
    };
}

pub(crate) use row_mappers;
