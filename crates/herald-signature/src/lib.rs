//! Standard Webhooks signatures, for both sides of a webhook.
//!
//! The signed content is `"{webhook-id}.{webhook-timestamp}.{body}"`. Scheme `v1` is
//! HMAC-SHA256 keyed by the base64-decoded part of a `whsec_` secret; scheme `v1a` is an
//! ed25519 signature by a key whose public half is shared as `whpk_<base64>`. A header may
//! carry several space-separated signatures (secret rotation): one valid entry is enough.
//!
//! This crate has no async runtime and no I/O so that receivers can depend on it alone.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer as _, Verifier as _};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Prefix of symmetric secrets.
pub const SECRET_PREFIX: &str = "whsec_";
/// Prefix of ed25519 signing keys (Herald keeps these; never sent to receivers).
pub const SIGNING_KEY_PREFIX: &str = "whsk_";
/// Prefix of ed25519 public keys.
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";
/// Default tolerance between `webhook-timestamp` and the verifier's clock, in seconds.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Why a key or a webhook was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    /// The key text is not `whsec_`/`whpk_`/`whsk_` followed by valid base64 of the right size.
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// A required header is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// The `webhook-timestamp` header is not an integer.
    #[error("malformed webhook-timestamp header")]
    MalformedTimestamp,
    /// The `webhook-signature` header has no parseable `version,signature` entry.
    #[error("malformed webhook-signature header")]
    MalformedSignature,
    /// The timestamp is older than the tolerance allows.
    #[error("timestamp too old ({0} s before now)")]
    TimestampTooOld(i64),
    /// The timestamp lies further in the future than the tolerance allows.
    #[error("timestamp too new ({0} s after now)")]
    TimestampTooNew(i64),
    /// No signature in the header matches the content.
    #[error("no matching signature")]
    InvalidSignature,
}

/// A key that signs webhooks.
///
/// ```
/// use herald_signature::SigningKey;
/// let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
/// let sig = key.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b"{\"test\": 2432232314}");
/// assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// ```
#[derive(Clone)]
pub enum SigningKey {
    /// HMAC-SHA256 (`v1`) with the decoded secret bytes.
    Hmac(Vec<u8>),
    /// ed25519 (`v1a`).
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

impl SigningKey {
    /// Parses `whsec_<base64>` (HMAC) or `whsk_<base64 of a 32-byte seed>` (ed25519).
    ///
    /// ```
    /// assert!(herald_signature::SigningKey::parse("nope").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        if let Some(b) = text.strip_prefix(SECRET_PREFIX) {
            let raw = decode_b64(b).ok_or(SignatureError::MalformedKey("invalid base64"))?;
            if raw.is_empty() {
                return Err(SignatureError::MalformedKey("empty secret"));
            }
            Ok(SigningKey::Hmac(raw))
        } else if let Some(b) = text.strip_prefix(SIGNING_KEY_PREFIX) {
            let raw = decode_b64(b).ok_or(SignatureError::MalformedKey("invalid base64"))?;
            let seed: [u8; 32] = raw
                .try_into()
                .map_err(|_| SignatureError::MalformedKey("ed25519 key must be 32 bytes"))?;
            Ok(SigningKey::Ed25519(Box::new(
                ed25519_dalek::SigningKey::from_bytes(&seed),
            )))
        } else {
            Err(SignatureError::MalformedKey("unknown prefix"))
        }
    }

    /// Signs one message; returns `v1,<base64>` or `v1a,<base64>`.
    ///
    /// ```
    /// let k = herald_signature::SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    /// assert!(k.sign("id", 1, b"{}").starts_with("v1,"));
    /// ```
    pub fn sign(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
        let content = signed_content(webhook_id, timestamp, body);
        match self {
            SigningKey::Hmac(key) => format!("v1,{}", B64.encode(hmac_sha256(key, &content))),
            SigningKey::Ed25519(key) => {
                format!("v1a,{}", B64.encode(key.sign(&content).to_bytes()))
            }
        }
    }

    /// The `whpk_` public key of an ed25519 key; `None` for HMAC secrets.
    ///
    /// ```
    /// let (sk, pk) = herald_signature::generate_ed25519();
    /// assert_eq!(herald_signature::SigningKey::parse(&sk).unwrap().public_key(), Some(pk));
    /// ```
    pub fn public_key(&self) -> Option<String> {
        match self {
            SigningKey::Hmac(_) => None,
            SigningKey::Ed25519(k) => Some(format!(
                "{PUBLIC_KEY_PREFIX}{}",
                B64.encode(k.verifying_key().to_bytes())
            )),
        }
    }
}

/// Generates a new `whsec_` secret of 32 random bytes.
///
/// ```
/// assert!(herald_signature::generate_secret().starts_with("whsec_"));
/// ```
pub fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{SECRET_PREFIX}{}", B64.encode(bytes))
}

/// Generates an ed25519 key pair: (`whsk_` signing key, `whpk_` public key).
///
/// ```
/// let (sk, pk) = herald_signature::generate_ed25519();
/// assert!(sk.starts_with("whsk_") && pk.starts_with("whpk_"));
/// ```
pub fn generate_ed25519() -> (String, String) {
    let seed: [u8; 32] = rand::random();
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    (
        format!("{SIGNING_KEY_PREFIX}{}", B64.encode(seed)),
        format!(
            "{PUBLIC_KEY_PREFIX}{}",
            B64.encode(key.verifying_key().to_bytes())
        ),
    )
}

/// Checks that a client-chosen secret is `whsec_` + base64 of 24..=64 bytes.
///
/// ```
/// assert!(herald_signature::validate_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
/// assert!(herald_signature::validate_secret("whsec_c2hvcnQ=").is_err());
/// ```
pub fn validate_secret(text: &str) -> Result<(), SignatureError> {
    let b = text
        .strip_prefix(SECRET_PREFIX)
        .ok_or(SignatureError::MalformedKey("must start with whsec_"))?;
    let raw = decode_b64(b).ok_or(SignatureError::MalformedKey("invalid base64"))?;
    if !(24..=64).contains(&raw.len()) {
        return Err(SignatureError::MalformedKey(
            "must be base64 of 24 to 64 bytes",
        ));
    }
    Ok(())
}

/// A key that verifies webhooks: a `whsec_` secret or a `whpk_` public key.
#[derive(Clone)]
enum VerifyKey {
    Hmac(Vec<u8>),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// Verifies received webhooks against one or more keys (several during a rotation).
///
/// ```
/// use herald_signature::{SigningKey, Verifier};
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// let sig = SigningKey::parse(secret).unwrap().sign("msg_1", 1_700_000_000, b"{}");
/// let v = Verifier::new(&[secret]).unwrap();
/// assert!(v.verify_at("msg_1", "1700000000", &sig, b"{}", 1_700_000_010).is_ok());
/// ```
#[derive(Clone)]
pub struct Verifier {
    keys: Vec<VerifyKey>,
    tolerance: i64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Verifier([redacted] x{})", self.keys.len())
    }
}

impl Verifier {
    /// Builds a verifier from `whsec_…` secrets and/or `whpk_…` public keys.
    ///
    /// ```
    /// assert!(herald_signature::Verifier::new(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).is_ok());
    /// ```
    pub fn new<S: AsRef<str>>(keys: &[S]) -> Result<Self, SignatureError> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let k = k.as_ref();
            if let Some(b) = k.strip_prefix(PUBLIC_KEY_PREFIX) {
                let raw = decode_b64(b).ok_or(SignatureError::MalformedKey("invalid base64"))?;
                let arr: [u8; 32] = raw
                    .try_into()
                    .map_err(|_| SignatureError::MalformedKey("public key must be 32 bytes"))?;
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&arr)
                    .map_err(|_| SignatureError::MalformedKey("invalid ed25519 public key"))?;
                out.push(VerifyKey::Ed25519(vk));
            } else {
                match SigningKey::parse(k)? {
                    SigningKey::Hmac(raw) => out.push(VerifyKey::Hmac(raw)),
                    SigningKey::Ed25519(sk) => out.push(VerifyKey::Ed25519(sk.verifying_key())),
                }
            }
        }
        if out.is_empty() {
            return Err(SignatureError::MalformedKey("no key given"));
        }
        Ok(Verifier {
            keys: out,
            tolerance: DEFAULT_TOLERANCE_SECS,
        })
    }

    /// Sets the accepted clock difference in seconds (default 300).
    ///
    /// ```
    /// let v = herald_signature::Verifier::new(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap();
    /// let _strict = v.with_tolerance(30);
    /// ```
    pub fn with_tolerance(mut self, seconds: i64) -> Self {
        self.tolerance = seconds;
        self
    }

    /// Verifies against the system clock.
    ///
    /// ```
    /// let v = herald_signature::Verifier::new(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap();
    /// assert!(v.verify("id", "1", "v1,AAAA", b"{}").is_err());
    /// ```
    pub fn verify(
        &self,
        webhook_id: &str,
        timestamp: &str,
        signature_header: &str,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.verify_at(webhook_id, timestamp, signature_header, body, now)
    }

    /// Verifies as if the clock read `now` (unix seconds).
    ///
    /// ```
    /// let v = herald_signature::Verifier::new(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap();
    /// let r = v.verify_at("id", "100", "v1,AAAA", b"{}", 10_000);
    /// assert!(matches!(r, Err(herald_signature::SignatureError::TimestampTooOld(_))));
    /// ```
    pub fn verify_at(
        &self,
        webhook_id: &str,
        timestamp: &str,
        signature_header: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::MalformedTimestamp)?;
        if now - ts > self.tolerance {
            return Err(SignatureError::TimestampTooOld(now - ts));
        }
        if ts - now > self.tolerance {
            return Err(SignatureError::TimestampTooNew(ts - now));
        }
        let entries: Vec<(&str, Vec<u8>)> = signature_header
            .split(' ')
            .filter(|p| !p.is_empty())
            .filter_map(|p| {
                let (version, sig) = p.split_once(',')?;
                Some((version, decode_b64(sig)?))
            })
            .collect();
        if entries.is_empty() {
            return Err(SignatureError::MalformedSignature);
        }
        let content = signed_content(webhook_id, ts, body);
        for key in &self.keys {
            match key {
                VerifyKey::Hmac(k) => {
                    let expected = hmac_sha256(k, &content);
                    for (v, sig) in &entries {
                        if *v == "v1" && constant_time_eq(&expected, sig) {
                            return Ok(());
                        }
                    }
                }
                VerifyKey::Ed25519(vk) => {
                    for (v, sig) in &entries {
                        if *v != "v1a" {
                            continue;
                        }
                        let Ok(arr) = <[u8; 64]>::try_from(sig.as_slice()) else {
                            continue;
                        };
                        let s = ed25519_dalek::Signature::from_bytes(&arr);
                        if vk.verify(&content, &s).is_ok() {
                            return Ok(());
                        }
                    }
                }
            }
        }
        Err(SignatureError::InvalidSignature)
    }
}

fn signed_content(webhook_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(webhook_id.len() + body.len() + 24);
    content.extend_from_slice(webhook_id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.to_string().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

fn hmac_sha256(key: &[u8], content: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(content);
    mac.finalize().into_bytes().to_vec()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    B64.decode(text).ok().or_else(|| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text)
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The official Standard Webhooks test vectors (standard-webhooks/standard-webhooks, spec).
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TS: i64 = 1614265330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_official_vector() {
        let k = SigningKey::parse(VECTOR_SECRET).unwrap();
        assert_eq!(k.sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY), VECTOR_SIG);
    }

    #[test]
    fn verifies_the_official_vector_and_rejects_tampering() {
        let v = Verifier::new(&[VECTOR_SECRET]).unwrap();
        let ts = VECTOR_TS.to_string();
        assert_eq!(
            v.verify_at(VECTOR_ID, &ts, VECTOR_SIG, VECTOR_BODY, VECTOR_TS),
            Ok(())
        );
        assert_eq!(
            v.verify_at(
                VECTOR_ID,
                &ts,
                VECTOR_SIG,
                br#"{"test": 2432232315}"#,
                VECTOR_TS
            ),
            Err(SignatureError::InvalidSignature)
        );
        assert_eq!(
            v.verify_at("msg_other", &ts, VECTOR_SIG, VECTOR_BODY, VECTOR_TS),
            Err(SignatureError::InvalidSignature)
        );
        assert!(matches!(
            v.verify_at(VECTOR_ID, &ts, VECTOR_SIG, VECTOR_BODY, VECTOR_TS + 301),
            Err(SignatureError::TimestampTooOld(301))
        ));
        assert!(matches!(
            v.verify_at(VECTOR_ID, &ts, VECTOR_SIG, VECTOR_BODY, VECTOR_TS - 301),
            Err(SignatureError::TimestampTooNew(301))
        ));
        assert_eq!(
            v.verify_at(VECTOR_ID, "abc", VECTOR_SIG, VECTOR_BODY, VECTOR_TS),
            Err(SignatureError::MalformedTimestamp)
        );
        assert_eq!(
            v.verify_at(VECTOR_ID, &ts, "garbage", VECTOR_BODY, VECTOR_TS),
            Err(SignatureError::MalformedSignature)
        );
    }

    #[test]
    fn any_of_several_signatures_is_enough() {
        let v = Verifier::new(&[VECTOR_SECRET]).unwrap();
        let header = format!("v1,Zm9vYmFyYmF6cXV4 v1a,AAAA {VECTOR_SIG}");
        let ts = VECTOR_TS.to_string();
        assert!(v
            .verify_at(VECTOR_ID, &ts, &header, VECTOR_BODY, VECTOR_TS)
            .is_ok());
    }

    #[test]
    fn ed25519_round_trip_and_wrong_key() {
        let (sk, pk) = generate_ed25519();
        let (_, other_pk) = generate_ed25519();
        let sig = SigningKey::parse(&sk).unwrap().sign("evt_1", 10, b"{}");
        assert!(sig.starts_with("v1a,"));
        assert!(Verifier::new(&[&pk])
            .unwrap()
            .verify_at("evt_1", "10", &sig, b"{}", 10)
            .is_ok());
        assert_eq!(
            Verifier::new(&[&other_pk])
                .unwrap()
                .verify_at("evt_1", "10", &sig, b"{}", 10),
            Err(SignatureError::InvalidSignature)
        );
    }

    #[test]
    fn secret_validation_bounds() {
        assert!(validate_secret(&generate_secret()).is_ok());
        let short = format!("whsec_{}", B64.encode([0u8; 23]));
        let long = format!("whsec_{}", B64.encode([0u8; 65]));
        assert!(validate_secret(&short).is_err());
        assert!(validate_secret(&long).is_err());
        assert!(validate_secret("whsec_!!!").is_err());
    }
}
