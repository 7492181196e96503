//! Herald SDK: the two sides of webhooks.
//!
//! - Receiving: [`Webhook`] verifies a delivery's Standard Webhooks signature and parses it
//!   (Herald's own format or CloudEvents, structured or binary) into an [`Event`];
//!   [`Dispatcher`] routes verified events to handlers by type (`order.paid`) or prefix
//!   (`order.*`); with the `axum` feature, [`axum_extract::Verified`] does both in a handler.
//! - Sending and managing: [`client::Client`] (see the crate README for what is still to come).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod client;
mod dispatch;
mod event;
mod webhook;

#[cfg(feature = "axum")]
pub mod axum_extract;

pub use dispatch::Dispatcher;
pub use event::Event;
pub use webhook::{Webhook, WebhookError};
