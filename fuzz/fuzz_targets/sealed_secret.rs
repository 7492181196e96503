//! Stored secret values from the fuzzer (a copied or altered database): opening one never
//! panics, and sealing any text then opening it gives the text back.
#![no_main]

use herald_server::store::data_key::DataKey;
use libfuzzer_sys::fuzz_target;
use secrecy_check::expose;

mod secrecy_check {
    pub fn expose(s: &secrecy::SecretString) -> &str {
        use secrecy::ExposeSecret;
        s.expose_secret()
    }
}

fuzz_target!(|data: &[u8]| {
    let key = DataKey::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap();
    let text = String::from_utf8_lossy(data);
    let _ = key.open(&text);
    let sealed = key.seal(&text);
    assert_eq!(expose(&key.open(&sealed).unwrap()), text);
    let _ = key.matches(&text);
});
