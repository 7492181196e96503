//! API keys, the calling key's session, and portal links.

use super::pages::{paginate, with_cursor};
use super::{Client, Error, Key, KeyCreated, KeyIn, Page, PortalSession, PortalSessionIn, Session};

impl Client {
    /// Creates an API key (`admin` or `producer`), optionally scoped to one application.
    pub async fn create_key(
        &self,
        name: &str,
        scope: &str,
        app_id: Option<&str>,
    ) -> Result<KeyCreated, Error> {
        let body = KeyIn {
            name: name.to_string(),
            scope: scope.to_string(),
            app_id: app_id.map(str::to_string),
        };
        self.post("/v1/keys", &body).await
    }

    /// A page of keys (never their secrets).
    pub async fn list_keys(&self, cursor: Option<&str>) -> Result<Page<Key>, Error> {
        self.get(&with_cursor("/v1/keys", cursor)).await
    }

    /// Revokes a key; effective at once.
    pub async fn revoke_key(&self, key: &str) -> Result<(), Error> {
        self.delete(&format!("/v1/keys/{key}")).await
    }

    /// Every key, fetched page by page.
    pub fn all_keys(&self) -> impl futures_util::Stream<Item = Result<Key, Error>> + '_ {
        paginate(move |cursor| async move { self.list_keys(cursor.as_deref()).await })
    }

    /// What the client's own key (or portal session) is: its scope and application.
    pub async fn session(&self) -> Result<Session, Error> {
        self.get("/v1/session").await
    }

    /// A portal link for one application (`read_only`, `expires_in` seconds, branding).
    pub async fn portal_session(
        &self,
        app: &str,
        session: &PortalSessionIn,
    ) -> Result<PortalSession, Error> {
        self.post(&format!("/v1/apps/{app}/portal-sessions"), session)
            .await
    }
}
