//! The event type catalogue.

use super::pages::{paginate, with_cursor};
use super::{Client, Error, EventType, EventTypeIn, EventTypePatch, Page};

impl Client {
    /// Registers an event type, optionally with a description and a JSON Schema.
    pub async fn create_event_type(&self, event_type: &EventTypeIn) -> Result<EventType, Error> {
        self.post("/v1/event-types", event_type).await
    }

    /// One event type.
    pub async fn event_type(&self, name: &str) -> Result<EventType, Error> {
        self.get(&format!("/v1/event-types/{name}")).await
    }

    /// A page of event types.
    pub async fn list_event_types(&self, cursor: Option<&str>) -> Result<Page<EventType>, Error> {
        self.get(&with_cursor("/v1/event-types", cursor)).await
    }

    /// Changes an event type (`description`, `schema`, `archived`).
    pub async fn update_event_type(
        &self,
        name: &str,
        changes: &EventTypePatch,
    ) -> Result<EventType, Error> {
        self.patch(&format!("/v1/event-types/{name}"), changes)
            .await
    }

    /// Deletes an event type.
    pub async fn delete_event_type(&self, name: &str) -> Result<(), Error> {
        self.delete(&format!("/v1/event-types/{name}")).await
    }

    /// Every event type, fetched page by page.
    pub fn all_event_types(
        &self,
    ) -> impl futures_util::Stream<Item = Result<EventType, Error>> + '_ {
        paginate(move |cursor| async move { self.list_event_types(cursor.as_deref()).await })
    }
}
