//! Events: sending (one, a batch, dead letters again) and reading.

use serde_json::value::RawValue;

use super::dead_letter::read_jsonl;
use super::pages::{paginate, with_query};
use super::{
    BatchIn, BatchReceipt, Client, DeadLetter, Error, Event, EventFilter, EventReceipt, Method,
    NewEvent, Page, ReplayReport,
};
use crate::client::redact;

fn null_payload() -> Box<RawValue> {
    RawValue::from_string("null".into()).expect("null is JSON")
}

impl Client {
    /// Sends one event to application `app` (id or uid). Without `idempotency_key` one is
    /// generated, so retries of this call never duplicate the event.
    pub async fn send_event(
        &self,
        app: &str,
        event: NewEvent,
        idempotency_key: Option<&str>,
    ) -> Result<EventReceipt, Error> {
        let generated;
        let key = match idempotency_key {
            Some(k) => k,
            None => {
                generated = super::new_idempotency_key();
                &generated
            }
        };
        let body = Self::json(&event)?; // serialised once: every retry sends these bytes
        if tracing::enabled!(tracing::Level::DEBUG) {
            let payload = event.payload.as_deref().map_or("null", RawValue::get);
            let shown = if self.redact_logs {
                redact(payload)
            } else {
                payload.to_string()
            };
            tracing::debug!(%app, event_type = %event.event_type, payload = %shown, "sending event");
        }
        let result = self
            .call(
                Method::POST,
                &format!("/v1/apps/{app}/events"),
                Some(body),
                Some(key),
            )
            .await;
        if let (Err(e), Some(sink)) = (&result, &self.dead_letters) {
            // Only failures that a later attempt could fix; a 400 would fail again.
            if e.is_retryable() || matches!(e, Error::RetriesExhausted { .. }) {
                sink.put(&DeadLetter {
                    app: app.to_string(),
                    event_type: event.event_type.clone(),
                    payload: event.payload.clone().unwrap_or_else(null_payload),
                    idempotency_key: key.to_string(),
                    error: e.to_string(),
                });
            }
        }
        result
    }

    /// Sends again every dead letter of a JSONL file (with its original idempotency key, so
    /// nothing is duplicated) and rewrites the file with those that still fail.
    pub async fn replay_dead_letters(&self, path: &std::path::Path) -> Result<ReplayReport, Error> {
        let letters =
            read_jsonl(path).map_err(|e| Error::Decode(format!("{}: {e}", path.display())))?;
        let mut report = ReplayReport::default();
        let mut still = Vec::new();
        for letter in letters {
            let event = NewEvent {
                event_type: letter.event_type.clone(),
                payload: Some(letter.payload.clone()),
                ..Default::default()
            };
            let body = Self::json(&event)?;
            let events_path = format!("/v1/apps/{}/events", letter.app);
            match self
                .call::<EventReceipt>(
                    Method::POST,
                    &events_path,
                    Some(body),
                    Some(&letter.idempotency_key),
                )
                .await
            {
                Ok(_) => report.sent += 1,
                Err(e) => {
                    report.failed += 1;
                    still.push(DeadLetter {
                        error: e.to_string(),
                        ..letter
                    });
                }
            }
        }
        let text: String = still
            .iter()
            .filter_map(|l| serde_json::to_string(l).ok())
            .map(|l| l + "\n")
            .collect();
        std::fs::write(path, text)
            .map_err(|e| Error::Decode(format!("{}: {e}", path.display())))?;
        Ok(report)
    }

    /// Sends up to 100 events in one request; each item may carry its own idempotency key
    /// (generated when absent, so a retried batch never duplicates).
    pub async fn send_batch(
        &self,
        app: &str,
        mut events: Vec<NewEvent>,
    ) -> Result<BatchReceipt, Error> {
        for e in &mut events {
            e.idempotency_key
                .get_or_insert_with(super::new_idempotency_key);
        }
        self.post(
            &format!("/v1/apps/{app}/events/batch"),
            &BatchIn { items: events },
        )
        .await
    }

    /// One event with its payload and a summary of its deliveries.
    pub async fn event(&self, app: &str, event: &str) -> Result<Event, Error> {
        self.get(&format!("/v1/apps/{app}/events/{event}")).await
    }

    /// A page of events, newest first, with the filters set in `filter`.
    pub async fn list_events(
        &self,
        app: &str,
        filter: &EventFilter,
        cursor: Option<&str>,
    ) -> Result<Page<Event>, Error> {
        let path = with_query(&format!("/v1/apps/{app}/events"), filter, cursor)?;
        self.get(&path).await
    }

    /// Every event of `app` that `filter` lets through, newest first, fetched page by page.
    pub fn all_events<'a>(
        &'a self,
        app: &'a str,
        filter: &'a EventFilter,
    ) -> impl futures_util::Stream<Item = Result<Event, Error>> + 'a {
        paginate(
            move |cursor| async move { self.list_events(app, filter, cursor.as_deref()).await },
        )
    }
}
