//! Applications (tenants).

use super::pages::{paginate, with_cursor};
use super::{App, AppPatch, Client, Error, Page};

impl Client {
    /// Creates an application; `uid` is your own slug for it (usable wherever an id is).
    pub async fn create_app(&self, name: &str, uid: Option<&str>) -> Result<App, Error> {
        let body = herald_types::AppIn {
            name: name.to_string(),
            uid: uid.map(str::to_string),
            metadata: None,
        };
        self.post("/v1/apps", &body).await
    }

    /// One application by id or uid.
    pub async fn app(&self, app: &str) -> Result<App, Error> {
        self.get(&format!("/v1/apps/{app}")).await
    }

    /// A page of applications.
    pub async fn list_apps(&self, cursor: Option<&str>) -> Result<Page<App>, Error> {
        self.get(&with_cursor("/v1/apps", cursor)).await
    }

    /// Changes an application: the fields set in `changes` (`uid: Some(None)` clears it).
    pub async fn update_app(&self, app: &str, changes: &AppPatch) -> Result<App, Error> {
        self.patch(&format!("/v1/apps/{app}"), changes).await
    }

    /// Deletes an application with its endpoints.
    pub async fn delete_app(&self, app: &str) -> Result<(), Error> {
        self.delete(&format!("/v1/apps/{app}")).await
    }

    /// Every application, fetched page by page as the stream is read.
    pub fn all_apps(&self) -> impl futures_util::Stream<Item = Result<App, Error>> + '_ {
        paginate(move |cursor| async move { self.list_apps(cursor.as_deref()).await })
    }
}
