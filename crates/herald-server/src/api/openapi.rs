//! The OpenAPI document as served: the handlers' annotations, completed with what they do
//! not say one by one (`security.md`: "describes exactly what the server does").
//!
//! - the error answers every route shares: 400 (a query or path segment that does not
//!   parse), 401 and 403 (credentials), 404 (an id in the path), 413 and 415 (a body), 409 (a
//!   POST's idempotency key), 500 and 503, each with the error body;
//! - `payload` of an event request (taken from the raw bytes, so no field of the struct
//!   describes it) and of a stored event: any JSON value;
//! - the 207 batch item: a receipt with its `index`, or an `index` and an `error`; and the
//!   batch request's items as the server takes them: 1 to 100 JSON values, each checked
//!   alone (one that is not an event request fails alone, in the 207);
//! - an event type's `schema`: a JSON Schema, so an object or a boolean;
//! - the rules the handlers check (`domain.rs`, `api/*`): patterns, lengths and ranges;
//! - the bodies the server does not require: a PATCH without one changes nothing, a
//!   rotation without one generates the secret, a portal session without one takes the
//!   defaults.

use serde_json::{json, Value};

/// Completes `doc` (the collected document, as JSON).
pub fn complete(mut doc: Value) -> Value {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                document_errors(path, method, op);
                let optional_body = method == "patch"
                    || path.ends_with("/secret/rotate")
                    || path.ends_with("/portal-sessions");
                if optional_body {
                    if let Some(body) = op.get_mut("requestBody") {
                        body["required"] = json!(false);
                    }
                }
            }
        }
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        if let Some(event_in) = schemas.get_mut("EventIn") {
            event_in["properties"]["payload"] = json!({"description": "Any JSON value: its bytes are stored and delivered exactly as received."});
            if let Some(required) = event_in["required"].as_array_mut() {
                required.push(json!("payload"));
            }
        }
        if let Some(event_out) = schemas.get_mut("EventOut") {
            event_out["properties"]["payload"] =
                json!({"description": "The payload exactly as received: any JSON value."});
        }
        for (schema, property, rule) in rules() {
            if let Some(p) = schemas
                .get_mut(schema)
                .and_then(|s| s.pointer_mut(&format!("/properties/{property}")))
            {
                if let (Some(p), Some(rule)) = (p.as_object_mut(), rule.as_object()) {
                    p.extend(rule.clone());
                }
            }
        }
        // A JSON Schema may be a boolean (`true` takes every event, `false` none).
        for name in ["EventTypeIn", "EventTypePatch", "EventTypeOut"] {
            if let Some(s) = schemas.get_mut(name) {
                s["properties"]["schema"]["type"] = json!(["object", "boolean", "null"]);
            }
        }
        if let Some(batch_in) = schemas.get_mut("BatchIn") {
            batch_in["properties"]["items"] = json!({
                "type": "array",
                "minItems": 1,
                "maxItems": 100,
                "description": "Event requests (as `EventIn`, each with an optional `idempotency_key`). Each is checked alone: one that is not a valid event request fails alone, reported in the 207 answer.",
                "items": {}
            });
        }
        schemas.insert(
            "BatchItemOut".into(),
            json!({
                "description": "One item of a batch answer: the receipt, or the error.",
                "oneOf": [
                    {"allOf": [
                        {"$ref": "#/components/schemas/EventAccepted"},
                        {"type": "object", "required": ["index"],
                         "properties": {"index": {"type": "integer", "minimum": 0}}}
                    ]},
                    {"type": "object", "required": ["index", "error"],
                     "properties": {
                         "index": {"type": "integer", "minimum": 0},
                         "error": {"$ref": "#/components/schemas/ErrorDetail"}
                     },
                     "additionalProperties": false}
                ]
            }),
        );
    }
    doc
}

/// Event type names (`domain::valid_event_type_name`).
const TYPE_NAME: &str = r"^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$";

/// The checks of the handlers, as schema keywords: (schema, property, keywords).
fn rules() -> Vec<(&'static str, &'static str, Value)> {
    let not_blank = json!({"minLength": 1, "pattern": r"\S"});
    let uid = json!({"pattern": r"^[a-zA-Z0-9_.-]{1,64}$"});
    let url = json!({"format": "uri", "pattern": r"^[hH][tT][tT][pP][sS]?://[^/?#\s]+"});
    let filters = json!({"items": {"pattern": r"^(\*|[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*(\.\*)?)$", "maxLength": 258}});
    let rate = json!({"minimum": 1, "maximum": 100_000});
    let in_flight = json!({"minimum": 1, "maximum": 1000});
    let secret = json!({"pattern": r"^whsec_[A-Za-z0-9+/]{32,88}={0,2}$"});
    vec![
        ("AppIn", "name", not_blank.clone()),
        ("AppPatch", "name", not_blank.clone()),
        ("AppIn", "uid", uid.clone()),
        ("AppPatch", "uid", uid),
        ("KeyIn", "name", not_blank),
        ("KeyIn", "scope", json!({"enum": ["admin", "producer"]})),
        (
            "EventIn",
            "type",
            json!({"pattern": TYPE_NAME, "maxLength": 256}),
        ),
        (
            "EventTypeIn",
            "name",
            json!({"pattern": TYPE_NAME, "maxLength": 256}),
        ),
        ("EndpointIn", "url", url.clone()),
        ("EndpointPatch", "url", url),
        ("EndpointIn", "event_types", filters.clone()),
        ("EndpointPatch", "event_types", filters),
        ("EndpointIn", "rate_limit", rate.clone()),
        ("EndpointPatch", "rate_limit", rate),
        ("EndpointIn", "max_in_flight", in_flight.clone()),
        ("EndpointPatch", "max_in_flight", in_flight),
        ("EndpointIn", "secret", secret.clone()),
        ("RotateIn", "secret", secret),
        ("RecoverIn", "since", json!({"format": "date-time"})),
        (
            "PortalSessionIn",
            "expires_in",
            json!({"minimum": 1, "maximum": 604_800}),
        ),
    ]
}

/// Adds the error answers `method path` can give that its annotation does not list.
fn document_errors(path: &str, method: &str, op: &mut Value) {
    if !path.starts_with("/v1/") {
        return;
    }
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let mut codes = vec![
        ("400", "The request is invalid (a body, query or path segment that does not parse or breaks a rule)."),
        ("401", "No API key, or one that is unknown, revoked or expired."),
        ("403", "The key may not do this."),
        ("500", "An internal error."),
        ("503", "The store is unavailable; retry."),
    ];
    if path.contains('{') {
        codes.push(("404", "Not found."));
    }
    if matches!(method, "post" | "patch" | "put") {
        codes.push(("413", "The body is too large."));
        codes.push(("415", "The body is not JSON."));
    }
    if method == "post" {
        codes.push((
            "409",
            "A conflict: the idempotency key was used with another request, or a duplicate.",
        ));
    }
    for (code, description) in codes {
        responses.entry(code).or_insert_with(|| {
            json!({
                "description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_v1_operation_lists_the_shared_errors() {
        let doc = complete(json!({
            "paths": {
                "/v1/apps/{app}": {"get": {"responses": {"200": {}}}, "patch": {"responses": {"200": {}}}},
                "/v1/apps": {"post": {"responses": {"201": {}, "409": {"description": "kept"}}}},
                "/healthz": {"get": {"responses": {"200": {}}}}
            },
            "components": {"schemas": {"EventIn": {"required": ["type"], "properties": {}}}}
        }));
        let get = &doc["paths"]["/v1/apps/{app}"]["get"]["responses"];
        for code in ["400", "401", "403", "404", "500", "503"] {
            assert!(get.get(code).is_some(), "{code}");
        }
        assert!(get.get("413").is_none() && get.get("409").is_none());
        let patch = &doc["paths"]["/v1/apps/{app}"]["patch"]["responses"];
        assert!(patch.get("413").is_some() && patch.get("415").is_some());
        let post = &doc["paths"]["/v1/apps"]["post"]["responses"];
        assert_eq!(post["409"]["description"], "kept");
        assert!(post.get("404").is_none());
        assert!(doc["paths"]["/healthz"]["get"]["responses"]
            .get("401")
            .is_none());
        let required = &doc["components"]["schemas"]["EventIn"]["required"];
        assert_eq!(required, &json!(["type", "payload"]));
    }
}
