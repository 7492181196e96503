//! Payload filters (`routing.md`): a CEL expression compiled once per distinct text and
//! evaluated at fan-out against the event's parsed payload.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use cel::{Context, Env, Program, Value};

/// Longest expression accepted, in characters.
pub const MAX_LEN: usize = 4096;

/// Distinct compiled expressions kept; past it the cache starts over (a store holds far
/// fewer distinct filters than this, but a client could send many to the test route).
const CACHE_MAX: usize = 4096;

static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));
static COMPILED: LazyLock<Mutex<HashMap<Arc<str>, Arc<Program>>>> = LazyLock::new(Default::default);

/// An endpoint's filter: its text and its compiled program, shared by every endpoint copy
/// and every event that uses the same text.
#[derive(Clone)]
pub struct Filter {
    source: Arc<str>,
    /// `Err` only for a stored text that no longer compiles (it then matches nothing).
    program: Result<Arc<Program>, String>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Filter").field(&self.source).finish()
    }
}

impl PartialEq for Filter {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// Why an expression was refused: the problem and where.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFilter(pub String);

impl Filter {
    /// Compiles `source`, or answers what is wrong with it and where.
    pub fn compile(source: &str) -> Result<Filter, InvalidFilter> {
        let chars = source.chars().count();
        if chars > MAX_LEN {
            return Err(InvalidFilter(format!(
                "the filter is {chars} characters long; at most {MAX_LEN} are accepted"
            )));
        }
        if source.trim().is_empty() {
            return Err(InvalidFilter(
                "the filter is empty (use null for no filter)".into(),
            ));
        }
        let program = compiled(source)?;
        Ok(Filter {
            source: source.into(),
            program: Ok(program),
        })
    }

    /// A stored filter: compiled like [`Filter::compile`], kept even when it does not
    /// compile (so the endpoint still reads), then matching nothing.
    pub fn stored(source: &str) -> Filter {
        Filter {
            source: source.into(),
            program: compiled(source).map_err(|e| e.0),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// `Ok(true)` when the event passes; `Err` for a runtime error or a result that is not
    /// a boolean (both mean no delivery).
    pub fn matches(&self, event: &EventVars) -> Result<bool, String> {
        let program = self
            .program
            .as_ref()
            .map_err(|e| format!("the filter does not compile: {e}"))?;
        let mut ctx = Context::with_env(ENV.clone());
        ctx.add_variable_from_value("type", event.event_type.clone());
        ctx.add_variable_from_value("data", event.data.clone());
        ctx.add_variable_from_value("source", event.source.clone());
        ctx.add_variable_from_value("subject", event.subject.clone());
        ctx.add_variable_from_value("metadata", event.metadata.clone());
        // The fan-out runs in the ingest writer: a panic of the evaluator must stay a
        // non-match, never end the writer.
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| program.execute(&ctx)))
                .map_err(|_| "the filter's evaluation failed".to_string())?;
        match result {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!(
                "the filter gave {}, not a boolean",
                other.type_of()
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn compiled(source: &str) -> Result<Arc<Program>, InvalidFilter> {
    if let Some(p) = COMPILED.lock().expect("filter cache").get(source) {
        return Ok(p.clone());
    }
    let parsed = std::panic::catch_unwind(|| Program::compile(source))
        .map_err(|_| InvalidFilter("the filter could not be parsed".into()))?;
    let program = Arc::new(parsed.map_err(|errors| {
        let first = errors.errors.first();
        InvalidFilter(match first {
            Some(e) => format!(
                "line {}, column {}: {}",
                e.pos.0,
                e.pos.1,
                e.msg.trim_start_matches("Syntax error: ")
            ),
            None => errors.to_string(),
        })
    })?);
    let mut cache = COMPILED.lock().expect("filter cache");
    if cache.len() >= CACHE_MAX {
        cache.clear();
    }
    cache.insert(source.into(), program.clone());
    Ok(program)
}

/// The variables a filter sees, built once per event (and only for an event that meets a
/// filtered endpoint).
pub struct EventVars {
    event_type: Value,
    data: Value,
    source: Value,
    subject: Value,
    metadata: Value,
}

impl EventVars {
    /// From the payload's JSON bytes (a payload that does not parse is `null`).
    pub fn new(
        event_type: &str,
        payload: &[u8],
        source: Option<&str>,
        subject: Option<&str>,
        metadata: &serde_json::Value,
    ) -> EventVars {
        let data = serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| cel::to_value(v).ok())
            .unwrap_or(Value::Null);
        EventVars::with_data(event_type, data, source, subject, metadata)
    }

    pub fn parsed(
        event_type: &str,
        payload: &serde_json::Value,
        source: Option<&str>,
        subject: Option<&str>,
        metadata: &serde_json::Value,
    ) -> EventVars {
        let data = cel::to_value(payload).unwrap_or(Value::Null);
        EventVars::with_data(event_type, data, source, subject, metadata)
    }

    fn with_data(
        event_type: &str,
        data: Value,
        source: Option<&str>,
        subject: Option<&str>,
        metadata: &serde_json::Value,
    ) -> EventVars {
        let text = |s: Option<&str>| s.map_or(Value::Null, |s| Value::from(s.to_string()));
        let metadata = match metadata {
            serde_json::Value::Object(_) => cel::to_value(metadata).unwrap_or(Value::Null),
            _ => cel::to_value(serde_json::Map::new()).unwrap_or(Value::Null),
        };
        EventVars {
            event_type: Value::from(event_type.to_string()),
            data,
            source: text(source),
            subject: text(subject),
            metadata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(payload: &str) -> EventVars {
        EventVars::new(
            "order.paid",
            payload.as_bytes(),
            None,
            Some("order/1"),
            &serde_json::json!({"region": "eu"}),
        )
    }

    #[test]
    fn the_contract_example_matches_numbers_of_any_spelling() {
        let f = Filter::compile(
            r#"type == "order.paid" && data.amount >= 100 && data.currency in ["EUR", "USD"]"#,
        )
        .unwrap();
        assert_eq!(
            f.matches(&vars(r#"{"amount": 100, "currency": "EUR"}"#)),
            Ok(true)
        );
        assert_eq!(
            f.matches(&vars(r#"{"amount": 100.5, "currency": "USD"}"#)),
            Ok(true)
        );
        assert_eq!(
            f.matches(&vars(r#"{"amount": 99.9, "currency": "USD"}"#)),
            Ok(false)
        );
        assert_eq!(
            f.matches(&vars(r#"{"amount": 1e3, "currency": "GBP"}"#)),
            Ok(false)
        );
        let qty = Filter::compile("data.qty == 3").unwrap();
        assert_eq!(qty.matches(&vars(r#"{"qty": 3.0}"#)), Ok(true));
        assert_eq!(qty.matches(&vars(r#"{"qty": 3}"#)), Ok(true));
    }

    #[test]
    fn variables_and_macros() {
        let v = vars(r#"{"items": [{"sku": "a"}, {"sku": "b"}], "name": "Ada"}"#);
        for (expr, want) in [
            (r#"subject == "order/1" && source == null"#, true),
            (r#"metadata.region == "eu""#, true),
            ("has(data.items) && size(data.items) == 2", true),
            (r#"data.items.exists(i, i.sku == "b")"#, true),
            (r#"data.items.all(i, i.sku.startsWith("a"))"#, false),
            (r#"data.name.matches("^A")"#, true),
        ] {
            assert_eq!(
                Filter::compile(expr).unwrap().matches(&v),
                Ok(want),
                "{expr}"
            );
        }
    }

    #[test]
    fn runtime_errors_and_non_booleans_do_not_match() {
        let v = vars(r#"{"amount": 1}"#);
        let missing = Filter::compile("data.nope > 1").unwrap().matches(&v);
        assert!(missing.unwrap_err().contains("nope"));
        let number = Filter::compile("data.amount").unwrap().matches(&v);
        assert!(number.unwrap_err().contains("not a boolean"));
    }

    #[test]
    fn bad_expressions_name_their_position() {
        let e = Filter::compile("data.amount >=").unwrap_err().0;
        assert!(e.starts_with("line 1, column "), "{e}");
        let e = Filter::compile("true &&\n  (data.x").unwrap_err().0;
        assert!(e.starts_with("line 2, column "), "{e}");
        let long = format!("true{}", " ".repeat(MAX_LEN));
        assert!(Filter::compile(&long).unwrap_err().0.contains("4096"));
        assert!(Filter::compile("  ").is_err());
        let stored = Filter::stored("(((");
        assert!(stored.matches(&vars("{}")).is_err());
    }
}
