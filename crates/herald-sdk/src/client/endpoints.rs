//! Endpoints: their settings, secrets, test pings, recovery and stats.

use super::pages::{paginate, with_cursor};
use super::{
    Client, Endpoint, EndpointPatch, EndpointStats, Error, EventReceipt, NewEndpoint, Page,
    RecoverIn, RecoverOut, RotateIn, Secret,
};

impl Client {
    /// Creates an endpoint in `app`.
    pub async fn create_endpoint(
        &self,
        app: &str,
        endpoint: &NewEndpoint,
    ) -> Result<Endpoint, Error> {
        self.post(&format!("/v1/apps/{app}/endpoints"), endpoint)
            .await
    }

    /// One endpoint.
    pub async fn endpoint(&self, app: &str, endpoint: &str) -> Result<Endpoint, Error> {
        self.get(&format!("/v1/apps/{app}/endpoints/{endpoint}"))
            .await
    }

    /// A page of endpoints.
    pub async fn list_endpoints(
        &self,
        app: &str,
        cursor: Option<&str>,
    ) -> Result<Page<Endpoint>, Error> {
        self.get(&with_cursor(&format!("/v1/apps/{app}/endpoints"), cursor))
            .await
    }

    /// Changes an endpoint: the fields set in `changes` (`Some(None)` clears a nullable one).
    pub async fn update_endpoint(
        &self,
        app: &str,
        endpoint: &str,
        changes: &EndpointPatch,
    ) -> Result<Endpoint, Error> {
        self.patch(&format!("/v1/apps/{app}/endpoints/{endpoint}"), changes)
            .await
    }

    /// Deletes an endpoint (its pending deliveries are cancelled).
    pub async fn delete_endpoint(&self, app: &str, endpoint: &str) -> Result<(), Error> {
        self.delete(&format!("/v1/apps/{app}/endpoints/{endpoint}"))
            .await
    }

    /// The signing secret of an endpoint (`whsec_…`; for `v1a`, its public key `whpk_…`).
    pub async fn endpoint_secret(&self, app: &str, endpoint: &str) -> Result<Secret, Error> {
        self.get(&format!("/v1/apps/{app}/endpoints/{endpoint}/secret"))
            .await
    }

    /// Rotates the signing secret (to `rotate.secret` if set, else a generated one); the old
    /// one keeps signing during the grace period.
    pub async fn rotate_secret(
        &self,
        app: &str,
        endpoint: &str,
        rotate: &RotateIn,
    ) -> Result<Secret, Error> {
        self.post(
            &format!("/v1/apps/{app}/endpoints/{endpoint}/secret/rotate"),
            rotate,
        )
        .await
    }

    /// Sends a `herald.ping` to this endpoint only.
    pub async fn test_endpoint(&self, app: &str, endpoint: &str) -> Result<EventReceipt, Error> {
        self.post(
            &format!("/v1/apps/{app}/endpoints/{endpoint}/test"),
            &serde_json::json!({}),
        )
        .await
    }

    /// Requeues failed and cancelled deliveries created since `since` (RFC 3339).
    pub async fn recover_endpoint(
        &self,
        app: &str,
        endpoint: &str,
        since: &str,
    ) -> Result<RecoverOut, Error> {
        let body = RecoverIn {
            since: since.to_string(),
        };
        self.post(
            &format!("/v1/apps/{app}/endpoints/{endpoint}/recover"),
            &body,
        )
        .await
    }

    /// Counts by status over 24 h and the last attempt.
    pub async fn endpoint_stats(&self, app: &str, endpoint: &str) -> Result<EndpointStats, Error> {
        self.get(&format!("/v1/apps/{app}/endpoints/{endpoint}/stats"))
            .await
    }

    /// Every endpoint of `app`, fetched page by page.
    pub fn all_endpoints<'a>(
        &'a self,
        app: &'a str,
    ) -> impl futures_util::Stream<Item = Result<Endpoint, Error>> + 'a {
        paginate(move |cursor| async move { self.list_endpoints(app, cursor.as_deref()).await })
    }
}
