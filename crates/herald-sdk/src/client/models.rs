//! The API's objects: the shapes of `herald-types`, which the server answers with, under the
//! names this SDK has always used. Requests serialise only the fields that are set.

use serde::{Deserialize, Serialize};

pub use herald_types::*;

/// An application (tenant).
pub type App = AppOut;
/// An endpoint (subscription). It never carries the secret.
pub type Endpoint = EndpointOut;
/// What to create an endpoint with (`url` is required).
///
/// ```
/// let ep = herald_sdk::client::NewEndpoint { url: "https://example.test/hook".into(), ..Default::default() };
/// assert_eq!(serde_json::to_value(&ep).unwrap(), serde_json::json!({"url": "https://example.test/hook"}));
/// ```
pub type NewEndpoint = EndpointIn;
/// An event to send; [`EventIn::json`] makes one from any serialisable payload.
pub type NewEvent = EventIn;
/// The answer to a send: the event id and its deliveries.
pub type EventReceipt = EventAccepted;
/// One delivery in an event receipt.
pub type ReceiptDelivery = ReceiptDeliveryOut;
/// A delivery of an event to an endpoint.
pub type Delivery = DeliveryOut;
/// An event as stored, with its payload (and, when read alone, its deliveries).
pub type Event = EventOut;
/// An event type of the catalogue.
pub type EventType = EventTypeOut;
/// One attempt of a delivery.
pub type Attempt = AttemptOut;
/// An API key (the secret only in [`KeyCreated`]).
pub type Key = KeyOut;
/// A portal link for one application.
pub type PortalSession = PortalSessionOut;
/// One item of a batch answer.
pub type BatchItem = BatchItemOut;
/// A batch answer.
pub type BatchReceipt = BatchOut;
/// The signing secret (or, for `v1a`, the public key) of an endpoint.
pub type Secret = SecretOut;
/// Delivery counts of an endpoint over the last 24 h, and its last attempt.
pub type EndpointStats = StatsOut;
/// The key (or portal session) a client authenticates with.
pub type Session = SessionOut;

/// A page of a list, whatever its items.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items, newest first (attempts: oldest first).
    pub data: Vec<T>,
    /// Pass back to get the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}
