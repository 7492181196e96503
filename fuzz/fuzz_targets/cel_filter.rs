//! A filter from any text: compiling it either refuses it with a message or gives a program
//! that evaluates, against a fixed event, to a boolean or a runtime error, never a panic
//! (the fan-out runs in the ingest writer).
#![no_main]

use herald_server::routing::{EventVars, Filter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let vars = EventVars::new(
        "order.paid",
        br#"{"amount": 120, "currency": "EUR", "items": [{"sku": "a", "qty": 2}], "note": null}"#,
        Some("crm"),
        None,
        &serde_json::json!({"region": "eu"}),
    );
    match Filter::compile(text) {
        Ok(f) => {
            let _ = f.matches(&vars);
        }
        Err(e) => assert!(!e.0.is_empty()),
    }
});
