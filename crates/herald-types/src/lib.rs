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

use serde::{Deserialize, Deserializer};

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`) in a PATCH.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
