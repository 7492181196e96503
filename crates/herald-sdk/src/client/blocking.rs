//! A blocking client (feature `blocking`): the async [`Client`](super::Client) driven by a
//! runtime of its own, for programs without async.

use std::path::Path;

use super::*;

/// The blocking twin of [`super::Client`]; every method waits for its answer.
///
/// ```no_run
/// use herald_sdk::client::{blocking, NewEvent};
/// let client = blocking::Client::new(herald_sdk::client::Client::builder("http://127.0.0.1:8080", "hrd_…")).unwrap();
/// let receipt = client.send_event("acme", NewEvent::json("order.paid", &1).unwrap(), None).unwrap();
/// println!("{}", receipt.id);
/// ```
#[derive(Debug)]
pub struct Client {
    inner: super::Client,
    rt: tokio::runtime::Runtime,
}

impl Client {
    /// Builds the client from an async builder's settings.
    pub fn new(builder: ClientBuilder) -> Result<Client, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Decode(e.to_string()))?;
        // reqwest's client must be built inside a runtime context.
        let inner = rt.block_on(async { builder.build() })?;
        Ok(Client { inner, rt })
    }
}

/// Defines blocking wrappers that forward to the async methods of the same name.
macro_rules! blocking {
    ($( $(#[$doc:meta])* fn $name:ident($($arg:ident : $ty:ty),*) -> $ret:ty; )*) => {
        impl Client {
            $(
                $(#[$doc])*
                pub fn $name(&self, $($arg: $ty),*) -> Result<$ret, Error> {
                    self.rt.block_on(self.inner.$name($($arg),*))
                }
            )*
        }
    };
}

blocking! {
    /// See [`super::Client::send_event`].
    fn send_event(app: &str, event: NewEvent, idempotency_key: Option<&str>) -> EventReceipt;
    /// See [`super::Client::send_batch`].
    fn send_batch(app: &str, events: Vec<NewEvent>) -> BatchReceipt;
    /// See [`super::Client::replay_dead_letters`].
    fn replay_dead_letters(path: &Path) -> ReplayReport;
    /// See [`super::Client::event`].
    fn event(app: &str, event: &str) -> Event;
    /// See [`super::Client::list_events`].
    fn list_events(app: &str, filter: &EventFilter, cursor: Option<&str>) -> Page<Event>;
    /// See [`super::Client::create_app`].
    fn create_app(name: &str, uid: Option<&str>) -> App;
    /// See [`super::Client::app`].
    fn app(app: &str) -> App;
    /// See [`super::Client::list_apps`].
    fn list_apps(cursor: Option<&str>) -> Page<App>;
    /// See [`super::Client::delete_app`].
    fn delete_app(app: &str) -> ();
    /// See [`super::Client::create_event_type`].
    fn create_event_type(event_type: &EventTypeIn) -> EventType;
    /// See [`super::Client::list_event_types`].
    fn list_event_types(cursor: Option<&str>) -> Page<EventType>;
    /// See [`super::Client::create_endpoint`].
    fn create_endpoint(app: &str, endpoint: &NewEndpoint) -> Endpoint;
    /// See [`super::Client::endpoint`].
    fn endpoint(app: &str, endpoint: &str) -> Endpoint;
    /// See [`super::Client::list_endpoints`].
    fn list_endpoints(app: &str, cursor: Option<&str>) -> Page<Endpoint>;
    /// See [`super::Client::delete_endpoint`].
    fn delete_endpoint(app: &str, endpoint: &str) -> ();
    /// See [`super::Client::endpoint_secret`].
    fn endpoint_secret(app: &str, endpoint: &str) -> Secret;
    /// See [`super::Client::rotate_secret`].
    fn rotate_secret(app: &str, endpoint: &str, rotate: &RotateIn) -> Secret;
    /// See [`super::Client::test_endpoint`].
    fn test_endpoint(app: &str, endpoint: &str) -> EventReceipt;
    /// See [`super::Client::recover_endpoint`].
    fn recover_endpoint(app: &str, endpoint: &str, since: &str) -> RecoverOut;
    /// See [`super::Client::endpoint_stats`].
    fn endpoint_stats(app: &str, endpoint: &str) -> EndpointStats;
    /// See [`super::Client::test_filter`].
    fn test_filter(app: &str, endpoint: &str, test: &FilterTestIn) -> FilterTestOut;
    /// See [`super::Client::test_transformation`].
    fn test_transformation(app: &str, endpoint: &str, test: &TransformationTestIn) -> TransformationTestOut;
    /// See [`super::Client::delivery`].
    fn delivery(app: &str, delivery: &str) -> Delivery;
    /// See [`super::Client::list_deliveries`].
    fn list_deliveries(app: &str, filter: &DeliveryFilter, cursor: Option<&str>) -> Page<Delivery>;
    /// See [`super::Client::attempts`].
    fn attempts(app: &str, delivery: &str, cursor: Option<&str>) -> Page<Attempt>;
    /// See [`super::Client::retry_delivery`].
    fn retry_delivery(app: &str, delivery: &str) -> Delivery;
    /// See [`super::Client::create_key`].
    fn create_key(name: &str, scope: &str, app_id: Option<&str>) -> KeyCreated;
    /// See [`super::Client::list_keys`].
    fn list_keys(cursor: Option<&str>) -> Page<Key>;
    /// See [`super::Client::revoke_key`].
    fn revoke_key(key: &str) -> ();
    /// See [`super::Client::update_app`].
    fn update_app(app: &str, changes: &AppPatch) -> App;
    /// See [`super::Client::update_endpoint`].
    fn update_endpoint(app: &str, endpoint: &str, changes: &EndpointPatch) -> Endpoint;
    /// See [`super::Client::event_type`].
    fn event_type(name: &str) -> EventType;
    /// See [`super::Client::update_event_type`].
    fn update_event_type(name: &str, changes: &EventTypePatch) -> EventType;
    /// See [`super::Client::delete_event_type`].
    fn delete_event_type(name: &str) -> ();
    /// See [`super::Client::portal_session`].
    fn portal_session(app: &str, session: &PortalSessionIn) -> PortalSession;
    /// See [`super::Client::session`].
    fn session() -> Session;
}
