//! The one typed event a receiver gets, whatever the delivery format.

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

/// A verified, parsed webhook event.
///
/// ```
/// let e = herald_sdk::Event::from_parts("evt_1", "order.paid", r#"{"amount":10}"#).unwrap();
/// #[derive(serde::Deserialize)]
/// struct Paid { amount: u32 }
/// assert_eq!(e.data_as::<Paid>().unwrap().amount, 10);
/// ```
#[derive(Debug, Clone)]
pub struct Event {
    /// The event id (`webhook-id`, CloudEvents `id`): the same on every retry; dedupe by it.
    pub id: String,
    /// The event type, e.g. `order.paid`.
    pub event_type: String,
    /// When the event was created (RFC 3339), if the delivery says.
    pub time: Option<String>,
    /// CloudEvents `source`, if any.
    pub source: Option<String>,
    /// CloudEvents `subject`, if any.
    pub subject: Option<String>,
    /// The payload exactly as the producer sent it.
    pub data: Box<RawValue>,
}

impl Event {
    /// Builds an event from its id, type and JSON payload text (mostly for tests).
    ///
    /// ```
    /// assert!(herald_sdk::Event::from_parts("evt_1", "a.b", "not json").is_err());
    /// ```
    pub fn from_parts(id: &str, event_type: &str, data: &str) -> Result<Event, serde_json::Error> {
        Ok(Event {
            id: id.to_string(),
            event_type: event_type.to_string(),
            time: None,
            source: None,
            subject: None,
            data: RawValue::from_string(data.to_string())?,
        })
    }

    /// The payload as a typed value.
    ///
    /// ```
    /// let e = herald_sdk::Event::from_parts("evt_1", "a.b", "[1,2]").unwrap();
    /// assert_eq!(e.data_as::<Vec<u8>>().unwrap(), vec![1, 2]);
    /// ```
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.data.get())
    }
}
