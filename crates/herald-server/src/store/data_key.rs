//! Secrets at rest (`security.md`): every stored secret is sealed with XChaCha20-Poly1305
//! under the store's data key, so a copy of the database alone reveals none.
//!
//! A sealed value is `enc:v1:` and the base64 of a fresh 24-byte nonce followed by the
//! ciphertext and its tag. A value without that prefix is a secret stored in clear by an
//! earlier release; opening the store seals those (`encrypt_clear_secrets` of each backend).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};

use super::StoreError;

/// What every sealed value starts with.
pub const PREFIX: &str = "enc:v1:";
const NONCE_LEN: usize = 24;
/// What the check value seals: a node with another key cannot open it.
const CHECK_TEXT: &str = "herald data key check";

/// The data key. Never printed: `Debug` shows nothing of it.
#[derive(Clone)]
pub struct DataKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

/// A key that is not 32 bytes of base64.
#[derive(Debug, thiserror::Error)]
#[error("an encryption key must be 32 bytes, base64-encoded (44 characters)")]
pub struct BadKey;

impl DataKey {
    /// A key from its base64 form (`encryption_key`, the key file, the settings row).
    pub fn from_base64(text: &str) -> Result<DataKey, BadKey> {
        let bytes = B64.decode(text.trim()).map_err(|_| BadKey)?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| BadKey)?;
        Ok(DataKey { cipher })
    }

    /// A new random key and its base64 form (to be kept by the caller).
    pub fn generate() -> (DataKey, SecretString) {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let text = SecretString::from(B64.encode(key));
        (
            DataKey {
                cipher: XChaCha20Poly1305::new(&key),
            },
            text,
        )
    }

    /// Seals `plain` under a fresh nonce.
    pub fn seal(&self, plain: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .expect("XChaCha20-Poly1305 encrypts any length a secret has");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", B64.encode(out))
    }

    /// The stored form of a secret.
    pub fn seal_secret(&self, secret: &SecretString) -> String {
        self.seal(secret.expose_secret())
    }

    /// Opens a stored value; one stored in clear by an earlier release is returned as is.
    /// A value this key did not seal (another key, or altered bytes) is an error.
    pub fn open(&self, stored: &str) -> Result<SecretString, StoreError> {
        let Some(body) = stored.strip_prefix(PREFIX) else {
            return Ok(SecretString::from(stored));
        };
        let bytes = B64
            .decode(body)
            .map_err(|_| StoreError::Corrupt("a sealed secret is not base64".into()))?;
        if bytes.len() < NONCE_LEN {
            return Err(StoreError::Corrupt("a sealed secret is truncated".into()));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), sealed)
            .map_err(|_| {
                StoreError::Corrupt(
                    "a stored secret does not open with this data key (another key, or altered bytes)"
                        .into(),
                )
            })?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| StoreError::Corrupt("a sealed secret is not UTF-8".into()))
    }

    /// Whether `stored` is sealed (not a secret in clear).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// The check value kept in the store: proves at start that a node has the store's key.
    pub fn check_value(&self) -> String {
        self.seal(CHECK_TEXT)
    }

    /// Whether `check` (a stored check value) was made with this key.
    pub fn matches(&self, check: &str) -> bool {
        DataKey::is_sealed(check)
            && self
                .open(check)
                .is_ok_and(|t| t.expose_secret() == CHECK_TEXT)
    }
}

/// The message of a node whose key does not open the store's check value.
pub fn mismatch(source: &str) -> StoreError {
    StoreError::Unavailable(format!(
        "the encryption key ({source}) is not the one this store's secrets are encrypted \
         with: every node needs the store's key (encryption_key / HERALD_ENCRYPTION_KEY); \
         herald rotate-encryption-key changes it on a stopped store"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_only() {
        let (key, text) = DataKey::generate();
        let sealed = key.seal("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert!(DataKey::is_sealed(&sealed));
        assert!(!sealed.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        assert_eq!(
            key.open(&sealed).unwrap().expose_secret(),
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        );
        // The same key from its text form opens it too.
        let again = DataKey::from_base64(text.expose_secret()).unwrap();
        assert!(again.open(&sealed).is_ok());
        let (other, _) = DataKey::generate();
        assert!(matches!(other.open(&sealed), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn each_seal_is_different_and_altered_bytes_are_refused() {
        let (key, _) = DataKey::generate();
        let (a, b) = (key.seal("same"), key.seal("same"));
        assert_ne!(a, b, "a fresh nonce each time");
        let mut bytes = B64.decode(&a[PREFIX.len()..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let altered = format!("{PREFIX}{}", B64.encode(bytes));
        assert!(key.open(&altered).is_err());
        assert!(key.open("enc:v1:AAAA").is_err());
    }

    #[test]
    fn a_secret_in_clear_is_read_as_is() {
        let (key, _) = DataKey::generate();
        assert_eq!(
            key.open("whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
                .unwrap()
                .expose_secret(),
            "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
        );
    }

    #[test]
    fn the_check_value_tells_keys_apart() {
        let (key, _) = DataKey::generate();
        let (other, _) = DataKey::generate();
        let check = key.check_value();
        assert!(key.matches(&check));
        assert!(!other.matches(&check));
        assert!(!key.matches("herald data key check"));
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(DataKey::from_base64("c2hvcnQ=").is_err());
        assert!(DataKey::from_base64("not base64 at all!").is_err());
        let (_, text) = DataKey::generate();
        assert!(DataKey::from_base64(text.expose_secret()).is_ok());
        assert!(!format!("{:?}", DataKey::generate().0).contains(text.expose_secret()));
    }
}
