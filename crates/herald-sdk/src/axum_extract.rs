//! An axum extractor that verifies a delivery and yields its [`Event`](crate::Event).

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::{Event, Webhook, WebhookError};

/// A verified event. Put a [`Webhook`] in the router's state (directly or via `FromRef`).
/// Rejects with 401 when the signature does not verify and 400 when the request is malformed.
///
/// ```
/// use axum::{routing::post, Router};
/// use herald_sdk::{axum_extract::Verified, Webhook};
///
/// async fn hook(Verified(event): Verified) -> &'static str {
///     println!("{} {}", event.event_type, event.id);
///     "ok"
/// }
/// let app: Router = Router::new()
///     .route("/webhooks", post(hook))
///     .with_state(Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap());
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct Verified(pub Event);

/// Why [`Verified`] rejected a request.
#[derive(Debug)]
pub struct Rejection(pub WebhookError);

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status = if self.0.is_unauthenticated() {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        (status, self.0.to_string()).into_response()
    }
}

impl<S> FromRequest<S> for Verified
where
    S: Send + Sync,
    Webhook: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let webhook = Webhook::from_ref(state);
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        webhook
            .verify(&headers, &body)
            .map(Verified)
            .map_err(|e| Rejection(e).into_response())
    }
}
