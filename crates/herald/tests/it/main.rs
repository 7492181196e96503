//! End-to-end tests: each one runs a real `herald serve` process (SQLite in a temporary
//! directory, or a fresh PostgreSQL database) and real HTTP receivers on 127.0.0.1. A test
//! declared with `on_backends!` runs once per backend (`support.rs`).

#[macro_use]
mod support;

mod api_auth;
mod api_events;
mod api_idempotency;
mod api_resources;
mod bench;
mod cli;
mod cluster;
mod delivery_durability;
mod delivery_isolation;
mod delivery_outcomes;
mod delivery_request;
mod ops;
mod routing;
mod routing_clients;
mod sdk;
mod secrets_at_rest;
