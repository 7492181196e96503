//! The one [`Store`] implementation, over any [`Backend`]: each method is a shared query of
//! `store/sql`, or the backend's own (the queue's claiming and leases). A store whose
//! process is the database's only writer (SQLite) also keeps [`Memory`].

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Pool;

use super::ingest::{GroupCommit, GroupWriter, OutcomeCarpool};
use super::{apps, deliveries, endpoints, event_types, events, keys, outcomes, requests, Backend};
use crate::handoff::IngestSide;
use crate::store::data_key::DataKey;
use crate::store::sqlite::active_endpoints::{ActiveEndpoints, Writing};
use crate::store::sqlite::lookups::Lookups;
use crate::store::*;

/// Herald's store in a SQL database (`SqliteStore`, `PgStore`).
pub struct SqlStore<D: Backend> {
    /// Reads (on PostgreSQL the same pool as `write`).
    pub(crate) read: Pool<D>,
    pub(crate) write: Arc<D::Writer>,
    /// Seals and opens the endpoints' secrets (`store::data_key`).
    pub(crate) key: Arc<DataKey>,
    /// This process among those sharing the store (`crate::node`); where several do, each
    /// lease records it, so a restarted node takes its own back at once (a single process
    /// simply releases every lease at start).
    pub(crate) node: String,
    ingest: GroupCommit<D>,
    pub(crate) memory: Option<Memory<D>>,
    /// Held for the store's life (SQLite: the data directory's lock, the checkpointer).
    _held: Option<Arc<dyn Send + Sync>>,
}

/// What a store keeps in memory when its process is the database's only writer: copies of
/// rarely written rows (`sqlite/lookups.rs`), each app's active endpoints for ingest
/// (`sqlite/active_endpoints.rs`; every write that may change them is bracketed with
/// `writing()`), and outcome batches waiting to ride in the next ingest's transaction
/// (`sqlite/carpool.rs`): those of at least `ride_min` outcomes, each waiting up to
/// `ride_patience`.
pub struct Memory<D: Backend> {
    pub(crate) lookups: Lookups,
    pub(crate) active: Arc<ActiveEndpoints>,
    pub(crate) carpool: Arc<OutcomeCarpool<D>>,
    pub(crate) ride_min: usize,
    pub(crate) ride_patience: Duration,
}

impl<D: Backend> SqlStore<D> {
    /// Starts the store's ingest writer; `memory` as above (`None` for several processes),
    /// `held` kept until the store is dropped.
    pub(crate) fn start(
        read: Pool<D>,
        write: Arc<D::Writer>,
        key: DataKey,
        lease_owner: Option<String>,
        handoff: IngestSide,
        memory: Option<Memory<D>>,
        held: Option<Arc<dyn Send + Sync>>,
    ) -> Self {
        let key = Arc::new(key);
        let owns_leases = lease_owner.is_some();
        let node = lease_owner.unwrap_or_else(|| crate::node::NodeId::fresh().id);
        let ingest = GroupCommit::start(GroupWriter {
            writer: write.clone(),
            key: key.clone(),
            lease_owner: owns_leases.then(|| Arc::from(node.as_str())),
            handoff,
            active: memory.as_ref().map(|m| m.active.clone()),
            carpool: memory.as_ref().map(|m| m.carpool.clone()),
        });
        SqlStore {
            read,
            write,
            key,
            node,
            ingest,
            memory,
            _held: held,
        }
    }

    /// Runs a write to api_keys, apps or event_types, forgetting the copies in memory before
    /// and after it (see `lookups`).
    async fn forgetting<T>(&self, write: impl Future<Output = Result<T>>) -> Result<T> {
        let forget = || {
            if let Some(m) = &self.memory {
                m.lookups.forget();
            }
        };
        forget();
        let r = write.await;
        forget();
        r
    }

    /// Marks a write that may change an app's active endpoints (see `active_endpoints`).
    fn writing(&self) -> Option<Writing<'_>> {
        self.memory.as_ref().map(|m| m.active.writing())
    }

    /// The copy in memory when there is one (`hit`); otherwise `read` (not started until
    /// needed), remembered under the generation seen before it began (see `lookups`).
    async fn cached<T>(
        &self,
        hit: impl FnOnce(&Lookups) -> Option<T>,
        read: impl Future<Output = Result<Option<T>>>,
        remember: impl FnOnce(&Lookups, u64, &T),
    ) -> Result<Option<T>> {
        let Some(m) = &self.memory else {
            return read.await;
        };
        if let Some(found) = hit(&m.lookups) {
            return Ok(Some(found));
        }
        let generation = m.lookups.generation();
        let found = read.await?;
        if let Some(row) = &found {
            remember(&m.lookups, generation, row);
        }
        Ok(found)
    }
}

#[async_trait]
impl<D: Backend> Store for SqlStore<D> {
    fn node(&self) -> &str {
        &self.node
    }

    async fn ping(&self) -> Result<()> {
        super::query::query::<D>("SELECT 1")
            .execute(&self.read)
            .await?;
        Ok(())
    }

    async fn count_keys(&self) -> Result<i64> {
        keys::count(&self.read).await
    }
    async fn insert_key(&self, key: &ApiKey) -> Result<()> {
        self.forgetting(keys::insert::<D>(&self.write, key)).await
    }
    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        self.cached(
            |l| l.key(hash),
            keys::by_hash(&self.read, hash),
            |l, g, k| l.remember_key(g, hash, k),
        )
        .await
    }
    async fn list_keys(&self, page: PageReq) -> Result<Page<ApiKey>> {
        keys::list(&self.read, page).await
    }
    async fn delete_key(&self, id: &str) -> Result<()> {
        self.forgetting(keys::delete::<D>(&self.write, id)).await
    }

    async fn insert_app(&self, app: &App) -> Result<()> {
        self.forgetting(apps::insert::<D>(&self.write, app)).await
    }
    async fn app(&self, id_or_uid: &str) -> Result<Option<App>> {
        self.cached(
            |l| l.app(id_or_uid),
            apps::get(&self.read, id_or_uid),
            |l, g, a| l.remember_app(g, id_or_uid, a),
        )
        .await
    }
    async fn list_apps(&self, only: Option<&str>, page: PageReq) -> Result<Page<App>> {
        apps::list(&self.read, only, page).await
    }
    async fn update_app(&self, app: &App) -> Result<()> {
        self.forgetting(apps::update::<D>(&self.write, app)).await
    }
    async fn delete_app(&self, id: &str) -> Result<()> {
        let _writing = self.writing();
        self.forgetting(apps::delete::<D>(&self.write, id)).await
    }

    async fn insert_event_type(&self, et: &EventType) -> Result<()> {
        self.forgetting(event_types::insert::<D>(&self.write, et))
            .await
    }
    async fn event_type(&self, name: &str) -> Result<Option<EventType>> {
        let Some(m) = &self.memory else {
            return event_types::get(&self.read, name).await;
        };
        // Misses are kept too: most events name a type that was never registered.
        if let Some(known) = m.lookups.event_type(name) {
            return Ok(known);
        }
        let generation = m.lookups.generation();
        let found = event_types::get(&self.read, name).await?;
        m.lookups
            .remember_event_type(generation, name, found.as_ref());
        Ok(found)
    }
    async fn list_event_types(&self, page: PageReq) -> Result<Page<EventType>> {
        event_types::list(&self.read, page).await
    }
    async fn update_event_type(&self, et: &EventType) -> Result<()> {
        self.forgetting(event_types::update::<D>(&self.write, et))
            .await
    }
    async fn delete_event_type(&self, name: &str) -> Result<()> {
        self.forgetting(event_types::delete::<D>(&self.write, name))
            .await
    }

    async fn insert_endpoint(&self, ep: &Endpoint) -> Result<()> {
        let _writing = self.writing();
        endpoints::insert::<D>(&self.write, ep, &self.key).await
    }
    async fn endpoint(&self, app_id: &str, id: &str) -> Result<Option<Endpoint>> {
        endpoints::get(&self.read, &self.key, app_id, id).await
    }
    async fn list_endpoints(&self, app_id: &str, page: PageReq) -> Result<Page<Endpoint>> {
        endpoints::list(&self.read, &self.key, app_id, page).await
    }
    async fn update_endpoint(&self, ep: &Endpoint) -> Result<()> {
        let _writing = self.writing();
        endpoints::update::<D>(&self.write, ep, &self.key).await
    }
    async fn delete_endpoint(&self, app_id: &str, id: &str) -> Result<()> {
        let _writing = self.writing();
        endpoints::delete::<D>(&self.write, app_id, id).await
    }
    async fn active_endpoints(&self, app_id: &str) -> Result<Vec<Endpoint>> {
        endpoints::active(&self.read, &self.key, app_id).await
    }
    async fn endpoint_stats(&self, endpoint_id: &str, since_ms: i64) -> Result<EndpointStats> {
        endpoints::stats(&self.read, endpoint_id, since_ms).await
    }

    async fn ingest(&self, app_id: &str, items: Vec<NewEvent>) -> Result<Vec<IngestResult>> {
        self.ingest.ingest(app_id, items).await
    }
    async fn event(&self, app_id: &str, id: &str) -> Result<Option<Event>> {
        events::get(&self.read, app_id, id).await
    }
    async fn list_events(
        &self,
        app_id: &str,
        f: &EventFilter,
        page: PageReq,
    ) -> Result<Page<Event>> {
        events::list(&self.read, app_id, f, page).await
    }
    async fn event_deliveries(&self, event_id: &str) -> Result<Vec<Delivery>> {
        deliveries::of_event(&self.read, event_id).await
    }

    async fn delivery(&self, app_id: &str, id: &str) -> Result<Option<Delivery>> {
        deliveries::get(&self.read, app_id, id).await
    }
    async fn list_deliveries(
        &self,
        app_id: &str,
        f: &DeliveryFilter,
        page: PageReq,
    ) -> Result<Page<Delivery>> {
        deliveries::list(&self.read, app_id, f, page).await
    }
    async fn list_attempts(&self, delivery_id: &str, page: PageReq) -> Result<Page<Attempt>> {
        deliveries::attempts(&self.read, delivery_id, page).await
    }
    async fn retry_delivery(&self, id: &str, now: i64) -> Result<()> {
        deliveries::retry::<D>(&self.write, id, now).await
    }
    async fn recover_endpoint(&self, endpoint_id: &str, since_ms: i64, now: i64) -> Result<u64> {
        deliveries::recover::<D>(&self.write, endpoint_id, since_ms, now).await
    }

    async fn recover_after_restart(&self, now: i64) -> Result<()> {
        D::recover_after_restart(self, now).await
    }
    async fn reap_expired_leases(&self, now: i64) -> Result<u64> {
        D::reap(&self.write, now).await
    }
    async fn heartbeat(&self, node: &str, now: i64) -> Result<i64> {
        D::heartbeat(self, node, now).await
    }
    async fn listen(&self, wake: Arc<tokio::sync::Notify>) -> Result<()> {
        D::listen(self, wake).await
    }
    async fn claim_due(&self, claim: &Claim<'_>) -> Result<Vec<Job>> {
        D::claim(self, claim).await
    }
    async fn next_due_at(&self, skip: &HashSet<String>) -> Result<Option<i64>> {
        outcomes::next_due_at(&self.read, skip).await
    }
    async fn record_outcomes(&self, outcomes: &[RecordedOutcome]) -> Result<Vec<EndpointChange>> {
        let active = self.memory.as_ref().map(|m| &*m.active);
        // An ordered endpoint's next delivery waits for this record: no waiting for a ride.
        if let Some(m) = &self.memory {
            if outcomes.len() >= m.ride_min && !outcomes.iter().any(|o| o.ordered) {
                let ride = m.carpool.ride(outcomes.to_vec(), m.ride_patience).await;
                if let Some(returned) = ride {
                    return outcomes::settle_carried::<D>(&self.write, outcomes, &returned, active)
                        .await;
                }
            }
        }
        outcomes::record::<D>(&self.write, outcomes, active).await
    }
    async fn release_leases(&self, delivery_ids: &[String]) -> Result<()> {
        D::release(&self.write, delivery_ids).await
    }
    async fn count_pending(&self) -> Result<i64> {
        outcomes::count_pending(&self.read).await
    }

    async fn sweep_events(&self, cutoff: i64, batch: i64) -> Result<u64> {
        events::sweep::<D>(&self.write, cutoff, batch).await
    }
    async fn sweep_idempotency(&self, cutoff: i64) -> Result<u64> {
        let events = events::sweep_idempotency::<D>(&self.write, cutoff).await?;
        Ok(events + requests::sweep::<D>(&self.write, cutoff).await?)
    }

    async fn reserve_request(&self, request: &RequestKey<'_>) -> Result<Reserved> {
        requests::reserve::<D>(&self.write, request).await
    }
    async fn finish_request(&self, scope: &str, key: &str, status: u16, body: &[u8]) -> Result<()> {
        requests::finish::<D>(&self.write, scope, key, status, body).await
    }
    async fn release_request(&self, scope: &str, key: &str) -> Result<()> {
        requests::release::<D>(&self.write, scope, key).await
    }
}
