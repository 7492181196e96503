//! Outcome batches riding in an ingest's commit (`store::sqlite::carpool`), on a real SQLite file.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Sqlite;

use super::SqliteStore;
use crate::delivery::request::tests::job;
use crate::handoff::IngestSide;
use crate::store::sql::outcomes;
use crate::store::*;

const APP: &str = "app_1";

/// A store with one app and one endpoint (`ep_1`); outcome batches of any size wait up
/// to a minute for a ride, so one recorded within seconds of an ingest was carried by it.
async fn store(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    let mut store = SqliteStore::open(dir.path(), false, None, IngestSide::detached())
        .await
        .unwrap();
    let memory = store.memory.as_mut().unwrap();
    memory.ride_min = 1;
    memory.ride_patience = Duration::from_secs(60);
    let app = App {
        id: APP.into(),
        uid: None,
        name: "a".into(),
        metadata: serde_json::json!({}),
        created_at: 0,
        updated_at: 0,
    };
    store.insert_app(&app).await.unwrap();
    let endpoint = (*job(Format::StandardWebhooks, b"{}").endpoint).clone();
    store.insert_endpoint(&endpoint).await.unwrap();
    Arc::new(store)
}

/// Ingests one event; its one delivery's id.
async fn ingest(store: &SqliteStore, id: &str) -> String {
    let event = NewEvent {
        id: id.into(),
        event_type: "order.paid".into(),
        payload: br#"{"n":1}"#.to_vec(),
        source: None,
        subject: None,
        metadata: serde_json::json!({}),
        created_at: 1,
        targets: Targets::Subscribed,
        idempotency: None,
        idempotency_cutoff: 0,
    };
    match store.ingest(APP, vec![event]).await.unwrap().remove(0) {
        IngestResult::Accepted { receipt, .. } => receipt.deliveries[0].id.clone(),
        _ => panic!("the event was not accepted"),
    }
}

fn success(attempt_id: &str, delivery_id: &str) -> RecordedOutcome {
    RecordedOutcome {
        attempt: Attempt {
            id: attempt_id.into(),
            delivery_id: delivery_id.into(),
            number: 1,
            started_at: 2,
            duration_ms: 1,
            status_code: Some(200),
            response_body: Some(String::new()),
            error_kind: None,
            error_message: None,
        },
        endpoint_id: "ep_1".into(),
        ordered: false,
        next: NextStep::Succeeded,
        now: 3,
        auto_disable_after_ms: 1_000_000,
    }
}

async fn attempts(store: &SqliteStore, delivery_id: &str) -> Vec<String> {
    let page = PageReq {
        limit: 10,
        before: None,
        ascending: true,
    };
    let found = store.list_attempts(delivery_id, page).await.unwrap();
    found.items.into_iter().map(|a| a.id).collect()
}

/// Starts recording `outcomes` and returns once the batch waits in the seat.
async fn seated(
    store: &Arc<SqliteStore>,
    outcomes: Vec<RecordedOutcome>,
) -> tokio::task::JoinHandle<Result<Vec<EndpointChange>>> {
    let recording = tokio::spawn({
        let store = store.clone();
        async move { store.record_outcomes(&outcomes).await }
    });
    while !store.memory.as_ref().unwrap().carpool.waiting() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    recording
}

#[tokio::test]
async fn an_outcome_batch_is_committed_with_the_next_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let first = ingest(&store, "evt_1").await;
    let recording = seated(&store, vec![success("att_1", &first)]).await;
    assert!(attempts(&store, &first).await.is_empty(), "not yet written");

    ingest(&store, "evt_2").await;
    let recorded = tokio::time::timeout(Duration::from_secs(5), recording)
        .await
        .expect("the ingest carried the batch (it would wait a minute alone)");
    assert!(recorded.unwrap().unwrap().is_empty());
    assert_eq!(attempts(&store, &first).await, ["att_1"]);
    let delivery = store.delivery(APP, &first).await.unwrap().unwrap();
    assert_eq!(delivery.status, crate::store::DeliveryStatus::Succeeded);
    assert!(store.event(APP, "evt_2").await.unwrap().is_some());
}

#[tokio::test]
async fn a_batch_below_the_riding_size_is_written_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let first = ingest(&store, "evt_1").await;
    let second = ingest(&store, "evt_2").await;
    let mut small = Arc::into_inner(store).unwrap();
    small.memory.as_mut().unwrap().ride_min = 3;
    let small = Arc::new(small);
    let batch = [success("att_1", &first), success("att_2", &second)];
    let recorded = tokio::time::timeout(Duration::from_secs(5), small.record_outcomes(&batch))
        .await
        .expect("no wait for a ride (it would wait a minute)");
    assert!(recorded.unwrap().is_empty());
    assert_eq!(attempts(&small, &first).await, ["att_1"]);
    assert_eq!(attempts(&small, &second).await, ["att_2"]);
}

#[tokio::test]
async fn a_batch_that_fails_leaves_the_carrying_ingest_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let first = ingest(&store, "evt_1").await;
    outcomes::record::<Sqlite>(&store.write, &[success("att_1", &first)], None)
        .await
        .unwrap();
    // The same attempt id again breaks the attempts' primary key.
    let recording = seated(&store, vec![success("att_1", &first)]).await;

    ingest(&store, "evt_2").await;
    assert!(store.event(APP, "evt_2").await.unwrap().is_some());
    let recorded = tokio::time::timeout(Duration::from_secs(5), recording)
        .await
        .expect("the failed ride came back at once");
    assert!(recorded.unwrap().is_err(), "written alone, it fails too");
    assert_eq!(attempts(&store, &first).await, ["att_1"]);
}
