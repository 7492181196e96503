//! Event type schemas: compiled once per (type, version) and cached, validated on ingest.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;

use crate::error::ApiError;

/// Compiles a JSON Schema (draft 2020-12 unless `$schema` says otherwise).
pub fn compile(schema: &serde_json::Value) -> Result<Validator, String> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// A compiled schema and the event type version (`updated_at`) it was compiled from.
type Compiled = (i64, Arc<Validator>);

/// Compiled validators keyed by event type name.
#[derive(Default, Clone)]
pub struct SchemaCache {
    inner: Arc<RwLock<HashMap<String, Compiled>>>,
}

impl SchemaCache {
    /// Validates `payload` against the type's schema; 400 `schema_violation` naming the
    /// failing field as `payload.<path>`.
    pub fn validate(
        &self,
        type_name: &str,
        version: i64,
        schema: &serde_json::Value,
        payload: &[u8],
    ) -> Result<(), ApiError> {
        let validator = self.get(type_name, version, schema)?;
        let instance: serde_json::Value = serde_json::from_slice(payload).map_err(|e| {
            ApiError::bad(
                "malformed_json",
                format!("payload: {e}"),
                Some("payload".into()),
            )
        })?;
        let Some(err) = validator.iter_errors(&instance).next() else {
            return Ok(());
        };
        let mut segments: Vec<String> = err
            .instance_path
            .as_str()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        if let ValidationErrorKind::Required { property } = &err.kind {
            if let Some(p) = property.as_str() {
                segments.push(p.to_string());
            }
        }
        let param = std::iter::once("payload".to_string())
            .chain(segments)
            .collect::<Vec<_>>()
            .join(".");
        Err(ApiError::bad(
            "schema_violation",
            format!("{param}: {err}"),
            Some(param),
        ))
    }

    fn get(
        &self,
        name: &str,
        version: i64,
        schema: &serde_json::Value,
    ) -> Result<Arc<Validator>, ApiError> {
        if let Some((v, val)) = self
            .inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
        {
            if *v == version {
                return Ok(val.clone());
            }
        }
        let compiled = Arc::new(compile(schema).map_err(|e| {
            ApiError::Internal(format!("stored schema of {name} does not compile: {e}"))
        })?);
        self.inner
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), (version, compiled.clone()));
        Ok(compiled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn violation_names_the_payload_field() {
        let schema = json!({"type":"object","required":["amount"],"properties":{"amount":{"type":"number"},"items":{"type":"array","items":{"type":"integer"}}}});
        let c = SchemaCache::default();
        assert!(c.validate("t", 1, &schema, br#"{"amount": 1}"#).is_ok());
        let e = c
            .validate("t", 1, &schema, br#"{"amount": "ten"}"#)
            .unwrap_err();
        assert_eq!(e.detail().param.as_deref(), Some("payload.amount"));
        assert_eq!(e.detail().code.as_deref(), Some("schema_violation"));
        let e = c.validate("t", 1, &schema, br#"{}"#).unwrap_err();
        assert_eq!(e.detail().param.as_deref(), Some("payload.amount"));
        let e = c
            .validate("t", 1, &schema, br#"{"amount":1,"items":[1,"x"]}"#)
            .unwrap_err();
        assert_eq!(e.detail().param.as_deref(), Some("payload.items.1"));
    }

    #[test]
    fn invalid_schema_does_not_compile() {
        assert!(compile(&json!({"type": 12})).is_err());
    }
}
