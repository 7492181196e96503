//! `webhook-id`, `webhook-timestamp` and `webhook-signature` headers and a body, all from the
//! fuzzer: verifying never panics, and a signature made with the fuzzer's key over the
//! fuzzer's message always verifies.
#![no_main]

use herald_signature::{SigningKey, Verifier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Four fields separated by 0xFF: id, timestamp, signature header, body.
    let mut parts = data.splitn(4, |b| *b == 0xFF);
    let text = |p: Option<&[u8]>| String::from_utf8_lossy(p.unwrap_or_default()).into_owned();
    let (id, ts, sig) = (text(parts.next()), text(parts.next()), text(parts.next()));
    let body = parts.next().unwrap_or_default();
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let verifier = Verifier::new(&[secret]).unwrap();
    let _ = verifier.verify_at(&id, &ts, &sig, body, 1_763_820_187);
    // Parsing arbitrary secrets never panics either.
    let _ = SigningKey::parse(&sig);
    let _ = herald_signature::validate_secret(&id);
    // What we sign, we verify.
    let key = SigningKey::parse(secret).unwrap();
    let signed = key.sign(&id, 1_763_820_187, body);
    assert!(verifier
        .verify_at(&id, "1763820187", &signed, body, 1_763_820_187)
        .is_ok());
});
