//! The JSON shapes of Herald's HTTP API (`http-api.md`), written once: the server answers
//! with them (and builds its OpenAPI document from them, feature `openapi`), the Rust SDK
//! sends and reads them.
//!
//! Naming: `XIn` is a create request, `XPatch` an update (an absent field is left alone,
//! `Some(None)` clears a nullable one), `XOut` what the server answers, `XList` a page.
//! Requests reject unknown fields; an absent optional field is not serialised.
//!
//! ```
//! let patch = herald_types::EndpointPatch { disabled: Some(true), ..Default::default() };
//! assert_eq!(serde_json::to_string(&patch).unwrap(), r#"{"disabled":true}"#);
//! ```

mod apps;
mod deliveries;
mod endpoints;
mod enums;
mod error;
mod event_types;
mod events;
mod keys;
mod lists;
mod portal;
mod queries;
mod routing;

pub use apps::*;
pub use deliveries::*;
pub use endpoints::*;
pub use enums::*;
pub use error::*;
pub use event_types::*;
pub use events::*;
pub use keys::*;
pub use lists::*;
pub use portal::*;
pub use queries::*;
pub use routing::*;

use serde::{Deserialize, Deserializer};

/// Integer fields of requests: any JSON number with an integral value (`5`, `5.0`, `5e0`);
/// `5.5` is refused (`security.md`, Errors).
mod integer {
    use serde::{Deserialize, Deserializer};

    fn integral<E: serde::de::Error>(n: serde_json::Number) -> Result<i64, E> {
        if let Some(i) = n.as_i64() {
            return Ok(i);
        }
        match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f <= i64::MAX as f64 => {
                Ok(f as i64)
            }
            _ => Err(E::custom(format!("expected an integer, got {n}"))),
        }
    }

    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Option::<serde_json::Number>::deserialize(d)?
            .map(integral)
            .transpose()
    }

    pub fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
        option(d).map(Some)
    }

    #[cfg(test)]
    mod tests {
        #[derive(serde::Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "super::option")]
            n: Option<i64>,
        }

        #[test]
        fn integral_numbers_pass_and_fractions_do_not() {
            for (text, want) in [("5", 5), ("5.0", 5), ("5e0", 5), ("-3.0", -3)] {
                let t: T = serde_json::from_str(&format!(r#"{{"n": {text}}}"#)).unwrap();
                assert_eq!(t.n, Some(want), "{text}");
            }
            for text in ["5.5", "1e300", "\"5\""] {
                assert!(
                    serde_json::from_str::<T>(&format!(r#"{{"n": {text}}}"#)).is_err(),
                    "{text}"
                );
            }
            let t: T = serde_json::from_str("{}").unwrap();
            assert_eq!(t.n, None);
        }
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`) in a PATCH.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
