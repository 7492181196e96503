//! The `Store` contract, run against both implementations: the same test bodies on a real
//! SQLite file and on a fresh PostgreSQL database (dropped afterwards). The PostgreSQL
//! instances are `#[ignore]`d unless `--ignored` is given (`.ci/run` gives it), so a machine
//! without PostgreSQL reports them as ignored, never as passed.

use std::collections::HashSet;
use std::sync::Arc;

use herald_server::handoff::IngestSide;
use herald_server::node::NodeId;
use herald_server::store::{
    postgres::PgStore, sqlite::SqliteStore, ApiKey, App, Attempt, Claim, DeliveryFilter,
    DeliveryStatus, Endpoint, EndpointStatus, Format, IngestResult, NewEvent, NextStep, PageReq,
    RecordedOutcome, Scope, SignatureScheme, Store, StoreError, Targets,
};
use sqlx::Connection;

/// A store under test, and what must be cleaned up after it.
struct Opened {
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    db: Option<PgDatabase>,
}

/// A fresh PostgreSQL database on `HERALD_TEST_PG_URL` (default: the local server).
struct PgDatabase {
    base: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Drop runs outside the test's runtime, which may already be gone.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                if let Ok(mut c) = sqlx::PgConnection::connect(&format!("{base}/postgres")).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(&sql).execute(&mut c).await;
                }
            })
        })
        .join()
        .unwrap();
    }
}

async fn sqlite() -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), false, None, IngestSide::detached())
        .await
        .unwrap();
    Opened {
        store: Arc::new(store),
        _dir: Some(dir),
        db: None,
    }
}

async fn postgres() -> Opened {
    let base = std::env::var("HERALD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!(
        "herald_store_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
        .await
        .expect("PostgreSQL at HERALD_TEST_PG_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let db = PgDatabase {
        base: base.clone(),
        name: name.clone(),
    };
    let store = PgStore::open(
        &format!("{base}/{name}"),
        4,
        None,
        NodeId::fresh(),
        IngestSide::detached(),
    )
    .await
    .unwrap();
    Opened {
        store: Arc::new(store),
        _dir: None,
        db: Some(db),
    }
}

/// Instantiates each contract test for both stores.
macro_rules! contract {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let opened = super::sqlite().await;
                    super::$name(&*opened.store).await;
                }
                #[tokio::test]
                #[ignore = "PostgreSQL: run with --ignored (HERALD_TEST_PG_URL, default 127.0.0.1:5432)"]
                async fn postgres() {
                    let opened = super::postgres().await;
                    super::$name(&*opened.store).await;
                    drop(opened.db);
                }
            }
        )+
    };
}

contract!(
    keys_apps_and_endpoints_round_trip,
    ingest_fans_out_to_matching_active_endpoints,
    idempotency_replays_and_conflicts,
    claims_lease_and_leases_lapse,
    ordered_endpoints_give_one_at_a_time,
    outcomes_move_deliveries_on,
    retries_recovery_and_deletes,
    two_revocations_at_once_leave_an_admin_key,
    filters_and_transformations_are_kept_and_filters_decide_fan_out,
);

const NOW: i64 = 1_800_000_000_000;

fn page(limit: i64) -> PageReq {
    PageReq {
        limit,
        before: None,
        ascending: false,
    }
}

fn app(id: &str) -> App {
    App {
        id: id.into(),
        uid: Some(format!("{id}-uid")),
        name: id.into(),
        metadata: serde_json::json!({}),
        created_at: NOW,
        updated_at: NOW,
    }
}

fn endpoint(id: &str, app_id: &str, types: Option<&[&str]>) -> Endpoint {
    Endpoint {
        id: id.into(),
        app_id: app_id.into(),
        url: format!("http://127.0.0.1:9/{id}"),
        description: None,
        event_types: types.map(|t| t.iter().map(|s| s.to_string()).collect()),
        status: EndpointStatus::Active,
        disabled_reason: None,
        rate_limit: None,
        max_in_flight: 16,
        headers: serde_json::Map::new(),
        format: Format::StandardWebhooks,
        ordered: false,
        metadata: serde_json::json!({}),
        signature_scheme: SignatureScheme::V1,
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        previous_secrets: Vec::new(),
        first_failure_at: None,
        filter: None,
        transformation: None,
        created_at: NOW,
        updated_at: NOW,
    }
}

fn event(id: &str, event_type: &str, at: i64) -> NewEvent {
    NewEvent {
        id: id.into(),
        event_type: event_type.into(),
        payload: br#"{"n": 1.50}"#.to_vec(),
        source: None,
        subject: None,
        metadata: serde_json::json!({}),
        created_at: at,
        targets: Targets::Subscribed,
        idempotency: None,
        idempotency_cutoff: at - 86_400_000,
    }
}

/// An app with the given endpoints.
async fn setup(s: &dyn Store, app_id: &str, endpoints: &[Endpoint]) {
    s.insert_app(&app(app_id)).await.unwrap();
    for ep in endpoints {
        s.insert_endpoint(ep).await.unwrap();
    }
}

/// Ingests one event and returns its delivery ids by endpoint.
async fn ingest_one(s: &dyn Store, app_id: &str, e: NewEvent) -> Vec<(String, String)> {
    let mut out = s.ingest(app_id, vec![e]).await.unwrap();
    match out.pop().unwrap() {
        IngestResult::Accepted { receipt, replayed } => {
            assert!(!replayed);
            receipt
                .deliveries
                .into_iter()
                .map(|d| (d.endpoint_id, d.id))
                .collect()
        }
        other => panic!("not accepted: {other:?}"),
    }
}

fn claim<'a>(now: i64, skip: &'a HashSet<String>) -> Claim<'a> {
    Claim {
        now,
        due_by: now,
        lease_until: now + 30_000,
        limit: 100,
        per_endpoint: 100,
        skip,
    }
}

fn outcome(delivery_id: &str, endpoint_id: &str, number: i64, next: NextStep) -> RecordedOutcome {
    let ok = matches!(next, NextStep::Succeeded);
    RecordedOutcome {
        attempt: Attempt {
            id: format!("att_{delivery_id}_{number}"),
            delivery_id: delivery_id.into(),
            number,
            started_at: NOW + number,
            duration_ms: 3,
            status_code: Some(if ok { 200 } else { 500 }),
            response_body: Some("body".into()),
            error_kind: (!ok).then(|| "http_status".into()),
            error_message: (!ok).then(|| "500".into()),
        },
        endpoint_id: endpoint_id.into(),
        ordered: false,
        next,
        now: NOW + 10,
        auto_disable_after_ms: 5 * 86_400_000,
    }
}

async fn keys_apps_and_endpoints_round_trip(s: &dyn Store) {
    s.ping().await.unwrap();
    assert_eq!(s.count_keys().await.unwrap(), 0);
    let key = ApiKey {
        id: "key_1".into(),
        name: "k".into(),
        scope: Scope::Producer,
        app_id: Some("app_a".into()),
        key_hash: "h1".into(),
        read_only: false,
        expires_at: None,
        created_at: NOW,
    };
    s.insert_key(&key).await.unwrap();
    assert_eq!(s.count_keys().await.unwrap(), 1);
    assert_eq!(
        s.key_by_hash("h1").await.unwrap().unwrap().scope,
        Scope::Producer
    );
    s.delete_key("key_1").await.unwrap();
    assert!(s.key_by_hash("h1").await.unwrap().is_none());
    // The last admin key that no app scopes cannot be revoked; another one makes it free.
    let admin = |id: &str, app: Option<&str>| ApiKey {
        id: id.into(),
        scope: Scope::Admin,
        app_id: app.map(str::to_string),
        key_hash: format!("hash_{id}"),
        ..key.clone()
    };
    s.insert_key(&admin("key_a", None)).await.unwrap();
    s.insert_key(&admin("key_scoped", Some("app_a")))
        .await
        .unwrap();
    assert!(matches!(
        s.delete_key("key_a").await,
        Err(StoreError::Conflict {
            code: "last_admin_key",
            ..
        })
    ));
    s.insert_key(&admin("key_b", None)).await.unwrap();
    s.delete_key("key_a").await.unwrap();
    assert!(matches!(
        s.delete_key("key_b").await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        s.delete_key("key_gone").await,
        Err(StoreError::NotFound(_))
    ));

    for i in 0..3 {
        s.insert_app(&app(&format!("app_{i}"))).await.unwrap();
    }
    assert_eq!(s.app("app_1-uid").await.unwrap().unwrap().id, "app_1");
    let first = s.list_apps(None, page(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let rest = s
        .list_apps(
            None,
            PageReq {
                before: first.next,
                ..page(2)
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1, "three apps over two pages");
    assert!(s.insert_app(&app("app_0")).await.is_err(), "duplicate id");

    let mut ep = endpoint("ep_1", "app_0", Some(&["order.*"]));
    s.insert_endpoint(&ep).await.unwrap();
    ep.url = "http://127.0.0.1:9/changed".into();
    ep.status = EndpointStatus::Disabled;
    s.update_endpoint(&ep).await.unwrap();
    let got = s.endpoint("app_0", "ep_1").await.unwrap().unwrap();
    assert_eq!(
        (got.url.as_str(), got.status),
        ("http://127.0.0.1:9/changed", EndpointStatus::Disabled)
    );
    assert!(s.active_endpoints("app_0").await.unwrap().is_empty());
    assert!(
        s.endpoint("app_1", "ep_1").await.unwrap().is_none(),
        "other app"
    );
}

async fn ingest_fans_out_to_matching_active_endpoints(s: &dyn Store) {
    let mut off = endpoint("ep_off", "app_f", None);
    off.status = EndpointStatus::Disabled;
    setup(
        s,
        "app_f",
        &[
            endpoint("ep_all", "app_f", None),
            endpoint("ep_orders", "app_f", Some(&["order.*"])),
            endpoint("ep_users", "app_f", Some(&["user.created"])),
            off,
        ],
    )
    .await;
    let mut got = ingest_one(s, "app_f", event("evt_1", "order.paid", NOW)).await;
    got.sort();
    let targets: Vec<&str> = got.iter().map(|(ep, _)| ep.as_str()).collect();
    assert_eq!(targets, ["ep_all", "ep_orders"]);
    let stored = s.event("app_f", "evt_1").await.unwrap().unwrap();
    assert_eq!(
        stored.payload, br#"{"n": 1.50}"#,
        "payload bytes kept as sent"
    );
    assert_eq!(s.event_deliveries("evt_1").await.unwrap().len(), 2);
    assert_eq!(s.count_pending().await.unwrap(), 2);
    let only = DeliveryFilter {
        endpoint_id: Some("ep_orders".into()),
        ..Default::default()
    };
    let listed = s.list_deliveries("app_f", &only, page(10)).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].status, DeliveryStatus::Pending);

    // Explicit targets skip the filters, and must belong to the app.
    let mut explicit = event("evt_2", "order.paid", NOW);
    explicit.targets = Targets::Explicit(vec!["ep_users".into()]);
    let got = ingest_one(s, "app_f", explicit).await;
    assert_eq!(got[0].0, "ep_users");
    let mut stranger = event("evt_3", "order.paid", NOW);
    stranger.targets = Targets::Explicit(vec!["ep_nowhere".into()]);
    match s
        .ingest("app_f", vec![stranger])
        .await
        .unwrap()
        .pop()
        .unwrap()
    {
        IngestResult::UnknownEndpoint(id) => assert_eq!(id, "ep_nowhere"),
        other => panic!("{other:?}"),
    }
}

async fn idempotency_replays_and_conflicts(s: &dyn Store) {
    setup(s, "app_i", &[endpoint("ep_i", "app_i", None)]).await;
    let keyed = |id: &str, hash: &str| {
        let mut e = event(id, "a.b", NOW);
        e.idempotency = Some(("k1".into(), hash.into()));
        e
    };
    let first = ingest_one(s, "app_i", keyed("evt_a", "hash1")).await;
    match s
        .ingest("app_i", vec![keyed("evt_b", "hash1")])
        .await
        .unwrap()
        .pop()
    {
        Some(IngestResult::Accepted { receipt, replayed }) => {
            assert!(replayed);
            assert_eq!(receipt.id, "evt_a", "the first event's receipt");
            assert_eq!(receipt.deliveries[0].id, first[0].1);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.ingest("app_i", vec![keyed("evt_c", "hash2")])
            .await
            .unwrap()[0],
        IngestResult::IdempotencyConflict
    ));
    assert!(s.event("app_i", "evt_b").await.unwrap().is_none());
    // Once the record has expired, the key is free again.
    assert_eq!(s.sweep_idempotency(NOW + 1).await.unwrap(), 1);
    let again = ingest_one(s, "app_i", keyed("evt_d", "hash2")).await;
    assert_eq!(again.len(), 1);
}

async fn claims_lease_and_leases_lapse(s: &dyn Store) {
    setup(
        s,
        "app_c",
        &[
            endpoint("ep_a", "app_c", None),
            endpoint("ep_b", "app_c", None),
        ],
    )
    .await;
    for i in 0..3 {
        ingest_one(s, "app_c", event(&format!("evt_{i}"), "x.y", NOW)).await;
    }
    let none = HashSet::new();
    let skip_b = HashSet::from(["ep_b".to_string()]);
    let jobs = s.claim_due(&claim(NOW, &skip_b)).await.unwrap();
    assert_eq!(jobs.len(), 3, "ep_b is skipped");
    assert!(jobs.iter().all(|j| j.endpoint.id == "ep_a"));
    assert_eq!(jobs[0].payload.as_ref(), br#"{"n": 1.50}"#);
    let jobs_b = s.claim_due(&claim(NOW, &none)).await.unwrap();
    assert_eq!(jobs_b.len(), 3, "only ep_b's are unleased");
    assert!(s.claim_due(&claim(NOW, &none)).await.unwrap().is_empty());
    assert_eq!(s.next_due_at(&none).await.unwrap(), None, "all leased");

    let ids: Vec<String> = jobs.iter().map(|j| j.delivery_id.clone()).collect();
    s.release_leases(&ids).await.unwrap();
    assert_eq!(s.claim_due(&claim(NOW, &none)).await.unwrap().len(), 3);
    // Leases that lapsed are reaped (their process died) and claimable again.
    let later = NOW + 60_000;
    assert_eq!(s.reap_expired_leases(later).await.unwrap(), 6);
    assert_eq!(s.claim_due(&claim(later, &none)).await.unwrap().len(), 6);
}

async fn ordered_endpoints_give_one_at_a_time(s: &dyn Store) {
    let mut ep = endpoint("ep_o", "app_o", None);
    ep.ordered = true;
    setup(s, "app_o", &[ep]).await;
    let mut order = Vec::new();
    for i in 0..3 {
        let got = ingest_one(s, "app_o", event(&format!("evt_{i}"), "x.y", NOW + i)).await;
        order.push(got[0].1.clone());
    }
    let none = HashSet::new();
    let at = NOW + 10;
    let first = s.claim_due(&claim(at, &none)).await.unwrap();
    assert_eq!(first.len(), 1, "only the head of an ordered endpoint");
    assert_eq!(first[0].delivery_id, order[0]);
    assert!(s.claim_due(&claim(at, &none)).await.unwrap().is_empty());
    let mut done = outcome(&order[0], "ep_o", 1, NextStep::Succeeded);
    done.ordered = true;
    s.record_outcomes(&[done]).await.unwrap();
    let next = s.claim_due(&claim(at + 20, &none)).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].delivery_id, order[1], "the successor comes next");
}

async fn outcomes_move_deliveries_on(s: &dyn Store) {
    setup(
        s,
        "app_r",
        &[
            endpoint("ep_ok", "app_r", None),
            endpoint("ep_retry", "app_r", None),
            endpoint("ep_gone", "app_r", None),
        ],
    )
    .await;
    let by_ep: std::collections::HashMap<String, String> =
        ingest_one(s, "app_r", event("evt_1", "x.y", NOW))
            .await
            .into_iter()
            .collect();
    let second = ingest_one(s, "app_r", event("evt_2", "x.y", NOW)).await;
    let none = HashSet::new();
    assert_eq!(s.claim_due(&claim(NOW, &none)).await.unwrap().len(), 6);
    let retry_at = NOW + 5_000;
    let changes = s
        .record_outcomes(&[
            outcome(&by_ep["ep_ok"], "ep_ok", 1, NextStep::Succeeded),
            outcome(
                &by_ep["ep_retry"],
                "ep_retry",
                1,
                NextStep::RetryAt(retry_at),
            ),
            outcome(&by_ep["ep_gone"], "ep_gone", 1, NextStep::Gone),
        ])
        .await
        .unwrap();
    let status = |id: &str| {
        let id = id.to_string();
        async move { s.delivery("app_r", &id).await.unwrap().unwrap() }
    };
    assert_eq!(
        status(&by_ep["ep_ok"]).await.status,
        DeliveryStatus::Succeeded
    );
    let retried = status(&by_ep["ep_retry"]).await;
    assert_eq!(
        (retried.status, retried.attempts, retried.next_attempt_at),
        (DeliveryStatus::Pending, 1, Some(retry_at))
    );
    assert_eq!(
        status(&by_ep["ep_gone"]).await.status,
        DeliveryStatus::Failed
    );
    // 410 disables the endpoint at once and cancels its other pending delivery.
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].endpoint_id, "ep_gone");
    let gone = s.endpoint("app_r", "ep_gone").await.unwrap().unwrap();
    assert_eq!(gone.status, EndpointStatus::AutoDisabled);
    let other = second.iter().find(|(ep, _)| ep == "ep_gone").unwrap();
    assert_eq!(status(&other.1).await.status, DeliveryStatus::Cancelled);
    let attempts = s.list_attempts(&by_ep["ep_retry"], page(10)).await.unwrap();
    assert_eq!(attempts.items[0].status_code, Some(500));
    let stats = s.endpoint_stats("ep_ok", NOW - 1).await.unwrap();
    assert_eq!((stats.succeeded, stats.pending), (1, 1));
    // The retry comes due at its time, not before.
    assert!(s.next_due_at(&none).await.unwrap() >= Some(retry_at));
}

async fn retries_recovery_and_deletes(s: &dyn Store) {
    setup(s, "app_d", &[endpoint("ep_d", "app_d", None)]).await;
    let del = ingest_one(s, "app_d", event("evt_1", "x.y", NOW)).await[0]
        .1
        .clone();
    let none = HashSet::new();
    s.claim_due(&claim(NOW, &none)).await.unwrap();
    s.record_outcomes(&[outcome(&del, "ep_d", 1, NextStep::Failed)])
        .await
        .unwrap();
    assert_eq!(
        s.delivery("app_d", &del).await.unwrap().unwrap().status,
        DeliveryStatus::Failed
    );
    assert_eq!(
        s.recover_endpoint("ep_d", NOW - 1, NOW + 20).await.unwrap(),
        1
    );
    assert_eq!(
        s.delivery("app_d", &del).await.unwrap().unwrap().status,
        DeliveryStatus::Pending
    );
    s.retry_delivery(&del, NOW + 30).await.unwrap();
    assert_eq!(s.claim_due(&claim(NOW + 30, &none)).await.unwrap().len(), 1);
    s.record_outcomes(&[outcome(&del, "ep_d", 2, NextStep::Succeeded)])
        .await
        .unwrap();

    // Deleting an endpoint cancels what it still had pending.
    let pending = ingest_one(s, "app_d", event("evt_2", "x.y", NOW + 40)).await[0]
        .1
        .clone();
    s.delete_endpoint("app_d", "ep_d").await.unwrap();
    assert_eq!(
        s.delivery("app_d", &pending).await.unwrap().unwrap().status,
        DeliveryStatus::Cancelled
    );
    // Retention removes finished events with their deliveries and attempts.
    assert_eq!(s.sweep_events(NOW + 1_000, 100).await.unwrap(), 2);
    assert!(s.event("app_d", "evt_1").await.unwrap().is_none());
    assert!(s.delivery("app_d", &del).await.unwrap().is_none());
}

/// Two requests revoking the last two admin keys at the same moment: one goes through, the
/// other is refused (each alone would see the other's key and go through).
async fn two_revocations_at_once_leave_an_admin_key(s: &dyn Store) {
    let admin = |id: String| ApiKey {
        key_hash: format!("hash_{id}"),
        id,
        name: "admin".into(),
        scope: Scope::Admin,
        app_id: None,
        read_only: false,
        expires_at: None,
        created_at: NOW,
    };
    s.insert_key(&admin("key_r0".into())).await.unwrap();
    let mut survivor = "key_r0".to_string();
    for round in 1..=20 {
        let fresh = format!("key_r{round}");
        s.insert_key(&admin(fresh.clone())).await.unwrap();
        let (a, b) = tokio::join!(s.delete_key(&survivor), s.delete_key(&fresh));
        let refused = |r: &Result<(), StoreError>| {
            matches!(
                r,
                Err(StoreError::Conflict {
                    code: "last_admin_key",
                    ..
                })
            )
        };
        match (&a, &b) {
            (Ok(()), r) if refused(r) => survivor = fresh,
            (r, Ok(())) if refused(r) => {}
            other => panic!("round {round}: {other:?}"),
        }
    }
}

async fn filters_and_transformations_are_kept_and_filters_decide_fan_out(s: &dyn Store) {
    use herald_server::routing::Filter;
    use herald_server::store::Transformation;
    let mut big = endpoint("ep_big", "app_t", None);
    big.filter = Some(Filter::compile("data.amount >= 100").unwrap());
    big.transformation = Some(Transformation {
        code: "function handler(w) { return w; }".into(),
        enabled: false,
    });
    let mut broken = endpoint("ep_broken", "app_t", None);
    broken.filter = Some(Filter::compile("data.nope.deeper == 1").unwrap());
    setup(
        s,
        "app_t",
        &[big, broken, endpoint("ep_plain", "app_t", None)],
    )
    .await;
    let got = s.endpoint("app_t", "ep_big").await.unwrap().unwrap();
    assert_eq!(
        got.filter.as_ref().map(Filter::source),
        Some("data.amount >= 100")
    );
    let t = got.transformation.clone().unwrap();
    assert_eq!(
        (&*t.code, t.enabled),
        ("function handler(w) { return w; }", false)
    );

    let mut small = event("evt_small", "order.paid", NOW);
    small.payload = br#"{"amount": 5}"#.to_vec();
    let mut large = event("evt_large", "order.paid", NOW);
    large.payload = br#"{"amount": 500.0}"#.to_vec();
    let eps = |d: Vec<(String, String)>| {
        let mut e: Vec<String> = d.into_iter().map(|(ep, _)| ep).collect();
        e.sort();
        e
    };
    assert_eq!(eps(ingest_one(s, "app_t", small).await), ["ep_plain"]);
    let delivered = ingest_one(s, "app_t", large).await;
    assert_eq!(eps(delivered.clone()), ["ep_big", "ep_plain"]);

    // Cleared, then another event reaches every endpoint.
    let mut cleared = got;
    cleared.filter = None;
    cleared.transformation = None;
    s.update_endpoint(&cleared).await.unwrap();
    let back = s.endpoint("app_t", "ep_big").await.unwrap().unwrap();
    assert!(back.filter.is_none() && back.transformation.is_none());

    // A transformation's cancel: no attempt row, no attempt counted.
    let (_, del) = delivered.iter().find(|(ep, _)| ep == "ep_big").unwrap();
    let none = HashSet::new();
    assert!(!s.claim_due(&claim(NOW, &none)).await.unwrap().is_empty());
    s.record_outcomes(&[outcome(del, "ep_big", 1, NextStep::Cancelled)])
        .await
        .unwrap();
    let d = s.delivery("app_t", del).await.unwrap().unwrap();
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Cancelled, 0));
    assert!(s
        .list_attempts(del, page(10))
        .await
        .unwrap()
        .items
        .is_empty());
    let ep = s.endpoint("app_t", "ep_big").await.unwrap().unwrap();
    assert_eq!(ep.first_failure_at, None, "a cancel is no failure");
}
