//! Filters and transformations of endpoints: the two test routes (`routing.md`). The filter
//! and the code themselves are endpoint fields (`NewEndpoint::filter`,
//! `NewEndpoint::transformation`).

use super::{
    Client, Error, FilterTestIn, FilterTestOut, TransformationTestIn, TransformationTestOut,
};

impl Client {
    /// Evaluates a CEL filter (`test.filter`, or the endpoint's own when `None`) against an
    /// event; a runtime error answers `matches: false` with the error, a filter that does
    /// not compile is an [`Error`] with code `invalid_filter`.
    ///
    /// ```no_run
    /// # async fn demo(client: herald_sdk::client::Client) -> Result<(), herald_sdk::client::Error> {
    /// use herald_sdk::client::FilterTestIn;
    /// let test = FilterTestIn {
    ///     filter: Some("data.amount >= 100".into()),
    ///     event_type: "order.paid".into(),
    ///     payload: serde_json::json!({"amount": 120}),
    ///     ..Default::default()
    /// };
    /// assert!(client.test_filter("acme", "ep_…", &test).await?.matches);
    /// # Ok(()) }
    /// ```
    pub async fn test_filter(
        &self,
        app: &str,
        endpoint: &str,
        test: &FilterTestIn,
    ) -> Result<FilterTestOut, Error> {
        self.post(
            &format!("/v1/apps/{app}/endpoints/{endpoint}/filter/test"),
            test,
        )
        .await
    }

    /// Runs a transformation (`test.code`, or the endpoint's saved code when `None`) on an
    /// event and answers the request that would be sent, signed, or `cancelled`. A script
    /// that throws is an [`Error`] with code `transformation_error`; code that does not
    /// compile, `invalid_transformation`.
    ///
    /// ```no_run
    /// # async fn demo(client: herald_sdk::client::Client) -> Result<(), herald_sdk::client::Error> {
    /// use herald_sdk::client::TransformationTestIn;
    /// let test = TransformationTestIn {
    ///     code: Some("function handler(w) { w.payload = {text: w.eventType}; return w; }".into()),
    ///     event_type: "order.paid".into(),
    ///     payload: serde_json::json!({"id": 1}),
    /// };
    /// let request = client.test_transformation("acme", "ep_…", &test).await?;
    /// assert_eq!(request.body.as_deref(), Some(r#"{"text":"order.paid"}"#));
    /// # Ok(()) }
    /// ```
    pub async fn test_transformation(
        &self,
        app: &str,
        endpoint: &str,
        test: &TransformationTestIn,
    ) -> Result<TransformationTestOut, Error> {
        self.post(
            &format!("/v1/apps/{app}/endpoints/{endpoint}/transformation/test"),
            test,
        )
        .await
    }
}
