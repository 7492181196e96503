//! Request parsing shared by every route: the caller's key, JSON bodies (content type, size,
//! unknown fields) and pagination parameters, each failing with the contract's error body.

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderMap};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::AppState;
use crate::error::ApiError;
use crate::store::{App, PageReq, Scope};
use crate::timefmt::now_ms;

// ---------------------------------------------------------------- path and query

/// `axum::extract::Path`, failing with the contract's error (`code: invalid_path`), e.g. for
/// a segment that is not UTF-8.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// `axum::extract::Query`, failing with the contract's error (`code: invalid_query`), e.g.
/// for a parameter given twice or a value of the wrong type.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        ApiError::bad("invalid_path", r.body_text(), None)
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad("invalid_query", r.body_text(), None)
    }
}

// ---------------------------------------------------------------- authentication

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: String,
    pub scope: Scope,
    /// App-scoped keys and portal sessions see only this application.
    pub app_id: Option<String>,
    pub read_only: bool,
    /// Portal sessions expire; keys do not.
    pub expires_at: Option<i64>,
}

/// sha256 hex of an API key; only this is stored.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    "missing_api_key",
                    "missing API key: send Authorization: Bearer <key>",
                )
            })?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    "invalid_api_key",
                    "Authorization must be a Bearer API key",
                )
            })?;
        let key = state
            .store
            .key_by_hash(&hash_key(token))
            .await?
            .ok_or_else(|| ApiError::unauthenticated("invalid_api_key", "unknown API key"))?;
        if key.expires_at.is_some_and(|t| t <= now_ms()) {
            return Err(ApiError::unauthenticated(
                "expired_session",
                "this session has expired",
            ));
        }
        let p = Principal {
            key_id: key.id,
            scope: key.scope,
            app_id: key.app_id,
            read_only: key.read_only,
            expires_at: key.expires_at,
        };
        if p.read_only && parts.method != axum::http::Method::GET {
            return Err(ApiError::forbidden(
                "read_only",
                "this session is read-only",
            ));
        }
        Ok(p)
    }
}

impl Principal {
    /// Server-wide administration (keys, apps, event types).
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.scope == Scope::Admin && self.app_id.is_none() {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "insufficient_scope",
                "this key needs the admin scope",
            ))
        }
    }

    /// Managing one application's endpoints: admin keys, app-scoped admin keys and
    /// portal sessions.
    pub fn require_manage(&self) -> Result<(), ApiError> {
        match self.scope {
            Scope::Admin | Scope::Portal => Ok(()),
            Scope::Producer => Err(ApiError::forbidden(
                "insufficient_scope",
                "producer keys may only send and read events and deliveries",
            )),
        }
    }

    /// Loads `{app}` (id or uid) if this key may see it; 404 otherwise.
    pub async fn app(&self, state: &AppState, id_or_uid: &str) -> Result<App, ApiError> {
        let app = state
            .store
            .app(id_or_uid)
            .await?
            .ok_or_else(|| ApiError::not_found("application"))?;
        match &self.app_id {
            Some(only) if *only != app.id => Err(ApiError::not_found("application")),
            _ => Ok(app),
        }
    }
}

// ---------------------------------------------------------------- bodies

/// The raw request body, after the content type and the largest size limit were checked.
/// Routes apply their own (smaller) limits with [`RawJson::within`].
pub struct RawJson(pub Bytes);

impl FromRequest<AppState> for RawJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state
            .config
            .max_batch_bytes
            .max(state.config.max_event_bytes);
        let too_large = || ApiError::PayloadTooLarge(format!("request body over {limit} bytes"));
        if let Some(len) = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
        {
            if len > limit {
                return Err(too_large());
            }
        }
        let json_type = is_json(req.headers());
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| too_large())?;
        match json_type {
            Some(true) => Ok(RawJson(bytes)),
            // No content type with no body: an action route called without arguments.
            None if bytes.iter().all(u8::is_ascii_whitespace) => Ok(RawJson(Bytes::new())),
            _ => Err(ApiError::UnsupportedMediaType(
                "the request body must be JSON (content-type: application/json)".into(),
            )),
        }
    }
}

/// `Some(true)` for a JSON content type, `Some(false)` for another one, `None` when absent.
fn is_json(headers: &HeaderMap) -> Option<bool> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json")),
    )
}

impl RawJson {
    /// 413 when the body is over `limit` bytes.
    pub fn within(&self, limit: usize) -> Result<&[u8], ApiError> {
        if self.0.len() > limit {
            return Err(ApiError::PayloadTooLarge(format!(
                "request body of {} bytes is over the limit of {limit} bytes",
                self.0.len()
            )));
        }
        Ok(&self.0)
    }

    /// Parses the body as `T`; an empty body reads as `{}`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let bytes: &[u8] = if self.0.is_empty() { b"{}" } else { &self.0 };
        parse_json(bytes)
    }
}

/// Parses JSON into `T`, naming the offending field in `param` when it can.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad("malformed_json", format!("malformed JSON: {e}"), None))?;
    from_value(value)
}

/// Deserializes an already-parsed value into `T` with field-precise errors.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad(
            "invalid_body",
            "the request body must be a JSON object",
            None,
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        let named = |marker: &str| {
            inner.strip_prefix(marker).and_then(|rest| {
                let end = rest.find('`')?;
                Some(rest[..end].to_string())
            })
        };
        let join = |field: String| {
            if path == "." || path.is_empty() {
                field
            } else {
                format!("{path}.{field}")
            }
        };
        if let Some(f) = named("unknown field `") {
            // The path already ends at the unknown key.
            let param = if path.ends_with(&f) {
                path.clone()
            } else {
                join(f)
            };
            ApiError::bad(
                "unknown_field",
                format!("unknown field `{param}`"),
                Some(param),
            )
        } else if let Some(f) = named("missing field `") {
            let param = join(f);
            ApiError::bad(
                "missing_field",
                format!("missing required field `{param}`"),
                Some(param),
            )
        } else {
            let param = (path != ".").then_some(path.clone());
            ApiError::bad("invalid_field", format!("{path}: {inner}"), param)
        }
    })
}

/// Splits an event request object into its raw `payload` bytes and its other fields.
pub fn split_payload(bytes: &[u8]) -> Result<(Vec<u8>, serde_json::Value), ApiError> {
    let map: HashMap<String, &RawValue> = serde_json::from_slice(bytes).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data {
            ApiError::bad("invalid_body", "an event must be a JSON object", None)
        } else {
            ApiError::bad("malformed_json", format!("malformed JSON: {e}"), None)
        }
    })?;
    let mut rest = serde_json::Map::new();
    let mut payload = None;
    for (k, raw) in map {
        if k == "payload" {
            payload = Some(raw.get().as_bytes().to_vec());
        } else {
            let v: serde_json::Value = serde_json::from_str(raw.get()).map_err(|e| {
                ApiError::bad("malformed_json", format!("malformed JSON: {e}"), None)
            })?;
            rest.insert(k, v);
        }
    }
    let payload = payload.ok_or_else(|| {
        ApiError::bad(
            "missing_field",
            "missing required field `payload`",
            Some("payload".into()),
        )
    })?;
    Ok((payload, serde_json::Value::Object(rest)))
}

// ---------------------------------------------------------------- pagination

#[derive(Debug, Deserialize, Default)]
pub struct PageQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn req(&self, ascending: bool) -> Result<PageReq, ApiError> {
        let limit = match &self.limit {
            None => 50,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (1..=250).contains(&n) => n,
                _ => {
                    return Err(ApiError::invalid(
                        "limit",
                        "limit must be an integer from 1 to 250",
                    ))
                }
            },
        };
        let before = match &self.cursor {
            None => None,
            Some(c) if c.is_empty() => None,
            Some(c) => Some(
                decode_cursor(c).ok_or_else(|| ApiError::invalid("cursor", "invalid cursor"))?,
            ),
        };
        Ok(PageReq {
            limit,
            before,
            ascending,
        })
    }
}

pub fn encode_cursor(seq: i64) -> String {
    B64URL.encode(format!("c1:{seq}"))
}

fn decode_cursor(c: &str) -> Option<i64> {
    let raw = B64URL.decode(c).ok()?;
    std::str::from_utf8(&raw)
        .ok()?
        .strip_prefix("c1:")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Probe {
        name: String,
        n: Option<i64>,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse_json::<Probe>(br#"{"name":"x","colour":"red"}"#).unwrap_err();
        assert_eq!(e.detail().param.as_deref(), Some("colour"));
        let e = parse_json::<Probe>(br#"{"n":1}"#).unwrap_err();
        assert_eq!(e.detail().param.as_deref(), Some("name"));
        let e = parse_json::<Probe>(br#"{"name":"x","n":"one"}"#).unwrap_err();
        assert_eq!(e.detail().param.as_deref(), Some("n"));
        let e = parse_json::<Probe>(br#"{"name":"#).unwrap_err();
        assert_eq!(e.detail().code.as_deref(), Some("malformed_json"));
    }

    #[test]
    fn payload_bytes_are_kept_verbatim() {
        let (p, rest) =
            split_payload(br#"{"type":"a","payload": {"b": 1.50,  "a":"\u00e9"}}"#).unwrap();
        assert_eq!(p, br#"{"b": 1.50,  "a":"\u00e9"}"#);
        assert_eq!(rest["type"], "a");
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("nonsense"), None);
    }
}
