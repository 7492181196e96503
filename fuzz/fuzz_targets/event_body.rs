//! An event request body from the fuzzer, through the splitter that keeps `payload`'s bytes
//! as received: it never panics, and a payload it keeps is one JSON value, byte-identical to
//! what the body held.
#![no_main]

use herald_server::api::extract::split_payload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((payload, rest)) = split_payload(data) {
        let value: serde_json::Value =
            serde_json::from_slice(&payload).expect("a kept payload is one JSON value");
        let _ = value;
        assert!(rest.is_object());
        assert!(rest.get("payload").is_none());
        // The payload's bytes appear in the body as they were.
        assert!(data
            .windows(payload.len().max(1))
            .any(|w| w == payload.as_slice()));
    }
});
