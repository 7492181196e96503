//! Deliveries and their attempts.

use super::pages::{paginate, with_cursor, with_query};
use super::{Attempt, Client, Delivery, DeliveryFilter, Error, Page};

impl Client {
    /// One delivery.
    pub async fn delivery(&self, app: &str, delivery: &str) -> Result<Delivery, Error> {
        self.get(&format!("/v1/apps/{app}/deliveries/{delivery}"))
            .await
    }

    /// A page of deliveries of `app`, newest first, with the filters set in `filter`.
    pub async fn list_deliveries(
        &self,
        app: &str,
        filter: &DeliveryFilter,
        cursor: Option<&str>,
    ) -> Result<Page<Delivery>, Error> {
        let path = with_query(&format!("/v1/apps/{app}/deliveries"), filter, cursor)?;
        self.get(&path).await
    }

    /// A page of the attempts of a delivery, oldest first.
    pub async fn attempts(
        &self,
        app: &str,
        delivery: &str,
        cursor: Option<&str>,
    ) -> Result<Page<Attempt>, Error> {
        let path = format!("/v1/apps/{app}/deliveries/{delivery}/attempts");
        self.get(&with_cursor(&path, cursor)).await
    }

    /// One more attempt now, whatever the delivery's status.
    pub async fn retry_delivery(&self, app: &str, delivery: &str) -> Result<Delivery, Error> {
        self.post(
            &format!("/v1/apps/{app}/deliveries/{delivery}/retry"),
            &serde_json::json!({}),
        )
        .await
    }

    /// Every attempt of a delivery, oldest first, fetched page by page.
    pub fn all_attempts<'a>(
        &'a self,
        app: &'a str,
        delivery: &'a str,
    ) -> impl futures_util::Stream<Item = Result<Attempt, Error>> + 'a {
        paginate(move |cursor| async move { self.attempts(app, delivery, cursor.as_deref()).await })
    }

    /// Every delivery of `app` that `filter` lets through, newest first, fetched page by page.
    pub fn all_deliveries<'a>(
        &'a self,
        app: &'a str,
        filter: &'a DeliveryFilter,
    ) -> impl futures_util::Stream<Item = Result<Delivery, Error>> + 'a {
        paginate(
            move |cursor| async move { self.list_deliveries(app, filter, cursor.as_deref()).await },
        )
    }
}
