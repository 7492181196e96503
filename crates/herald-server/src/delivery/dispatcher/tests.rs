//! The dispatcher against a real SQLite file and a real loopback receiver; slots and
//! token buckets alone.
use sqlx::Connection;

use std::collections::VecDeque;

use super::claim::CLAIM_ERROR_PAUSE;
use super::slot::{Held, TokenBucket, DEPTH_FAST, DEPTH_SLOW};
use super::*;
use crate::handoff::IngestSide;
use crate::store::Job;

/// A loopback receiver: its URL, and one message per request it got.
async fn receiver() -> (String, mpsc::UnboundedReceiver<()>) {
    let (arrived_tx, arrived) = mpsc::unbounded_channel::<()>();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move || {
            let _ = arrived_tx.send(());
            async { "" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, arrived)
}

/// A job for an endpoint at `url`.
fn job_to(url: String) -> Job {
    let mut job =
        crate::delivery::request::tests::job(crate::store::Format::StandardWebhooks, b"{}");
    Arc::make_mut(&mut job.endpoint).url = url;
    job
}

async fn store_in(dir: &tempfile::TempDir) -> crate::store::sqlite::SqliteStore {
    crate::store::sqlite::SqliteStore::open(dir.path(), false, None, IngestSide::detached())
        .await
        .unwrap()
}

/// A dispatcher on `store` (loopback targets allowed), and its hand-over channel. Its
/// finished attempts go nowhere: nothing is recorded.
fn dispatcher_on(store: crate::store::sqlite::SqliteStore) -> (Dispatcher, IngestSide) {
    let policy = super::super::ssrf::AddressPolicy {
        allow_private: true,
        allowed: Vec::new(),
    };
    let sender = Sender::new(policy, Duration::from_secs(5), Duration::from_secs(5));
    let (handoff_tx, handoff) = crate::handoff::channel(60_000);
    let (finished, _) = mpsc::unbounded_channel();
    let (_, recorded) = mpsc::unbounded_channel();
    let (_, changes) = mpsc::unbounded_channel();
    let links = Links {
        wake: handoff.wake_signal(),
        changes,
        finished,
        recorded,
        handoff,
    };
    let nodes = Arc::new(AtomicI64::new(1));
    let config = Arc::new(Config::default());
    let dispatcher = Dispatcher::new(Arc::new(store), config, sender, links, nodes);
    (dispatcher, handoff_tx)
}

/// A delivery handed over while the dispatcher awaits a store read (here one that ends
/// only when the test says so) is sent at once, not after the read.
#[tokio::test]
async fn a_handed_over_delivery_goes_out_while_a_store_read_is_pending() {
    let (url, mut arrived) = receiver().await;

    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir).await;
    let (mut dispatcher, handoff_tx) = dispatcher_on(store);

    let job = job_to(url);
    handoff_tx.send(vec![(job, i64::MAX)]);
    let (end_read, read) = tokio::sync::oneshot::channel::<()>();
    let served = dispatcher.serving(async move {
        let _ = read.await;
    });
    tokio::pin!(served);
    tokio::select! {
        _ = &mut served => panic!("the read ended by itself"),
        got = tokio::time::timeout(Duration::from_secs(10), arrived.recv()) => {
            assert!(matches!(got, Ok(Some(()))), "the delivery waited for the read");
        }
    }
    end_read.send(()).unwrap();
    served.await;
}

/// Claims failing (here the endpoints table is gone from the real file) pause claiming,
/// not the dispatcher: a delivery handed over during the pause goes out at once.
#[tokio::test]
async fn a_failed_claim_does_not_hold_up_handed_over_deliveries() {
    let (url, mut arrived) = receiver().await;

    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir).await;
    let mut raw = sqlx::SqliteConnection::connect(&format!(
        "sqlite://{}",
        dir.path().join("herald.db").display()
    ))
    .await
    .unwrap();
    sqlx::query("ALTER TABLE endpoints RENAME TO endpoints_gone")
        .execute(&mut raw)
        .await
        .unwrap();
    let (dispatcher, handoff_tx) = dispatcher_on(store);
    let stop = CancellationToken::new();
    let running = tokio::spawn(dispatcher.run(stop.clone()));
    // The first claim fails at once; hand over while its pause runs.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let job = job_to(url);
    let sent = Instant::now();
    handoff_tx.send(vec![(job, i64::MAX)]);
    let got = tokio::time::timeout(Duration::from_secs(10), arrived.recv()).await;
    assert!(matches!(got, Ok(Some(()))), "the delivery never came");
    let took = sent.elapsed();
    assert!(
        took < CLAIM_ERROR_PAUSE / 2,
        "the delivery waited {took:?}, as if for the claim pause"
    );
    stop.cancel();
    running.await.unwrap();
}

#[test]
fn token_bucket_paces_to_the_rate() {
    let mut b = TokenBucket::new(2.0);
    let t0 = Instant::now();
    assert!(b.take(t0).is_ok());
    let wait = b.take(t0).unwrap_err();
    assert!(wait <= Duration::from_millis(500), "{wait:?}");
    assert!(b.take(t0 + Duration::from_millis(600)).is_ok());
}

#[test]
fn a_slot_is_deep_while_its_endpoint_is_fast_and_shallow_once_slow() {
    let mut slot = Slot::new();
    slot.max_in_flight = 4;
    assert_eq!(slot.capacity(), 4 * DEPTH_FAST);
    slot.slow = true;
    assert_eq!(slot.capacity(), 4 * DEPTH_SLOW);
    slot.in_flight = 4;
    for _ in 0..4 {
        assert!(!slot.full());
        slot.in_flight += 1; // stands in for queued jobs: both count
    }
    assert!(slot.full());
    // A rate limit caps the depth at two seconds' worth, whatever the speed.
    let mut limited = Slot::new();
    limited.bucket = Some(TokenBucket::new(3.0));
    assert_eq!(limited.capacity(), 6);
}

fn due(id: &str, at: i64) -> Held {
    let mut job =
        crate::delivery::request::tests::job(crate::store::Format::StandardWebhooks, b"{}");
    job.delivery_id = id.into();
    job.due_at = at;
    (job, at + 60_000, None)
}

fn ids(q: &VecDeque<Held>) -> Vec<&str> {
    q.iter().map(|(j, _, _)| j.delivery_id.as_str()).collect()
}

#[test]
fn jobs_claimed_ahead_wait_for_their_due_time_in_due_order() {
    let mut slot = Slot::new();
    slot.push(due("late", 1_080), 1_000);
    slot.push(due("now", 1_000), 1_000);
    slot.push(due("soon", 1_030), 1_000);
    slot.push(due("sooner", 1_010), 1_000);
    assert_eq!(ids(&slot.queue), ["now"]);
    assert_eq!(ids(&slot.later), ["sooner", "soon", "late"]);
    // Held jobs take room in memory like queued ones.
    slot.max_in_flight = 1;
    slot.slow = true;
    assert!(slot.full());
    assert!(!slot.is_empty());

    assert_eq!(slot.release_due(1_009), Some(1_010));
    assert_eq!(ids(&slot.queue), ["now"]);
    assert_eq!(slot.release_due(1_030), Some(1_080));
    assert_eq!(ids(&slot.queue), ["now", "sooner", "soon"]);
    assert_eq!(slot.release_due(1_080), None);
    assert_eq!(ids(&slot.queue), ["now", "sooner", "soon", "late"]);

    slot.push(due("held", 2_000), 1_100);
    let all: Vec<String> = slot.drain().into_iter().map(|j| j.delivery_id).collect();
    assert_eq!(all, ["now", "sooner", "soon", "late", "held"]);
    assert!(slot.is_empty());
}
