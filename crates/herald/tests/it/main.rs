//! End-to-end tests: each one runs a real `herald serve` process (SQLite in a temporary
//! directory) and real HTTP receivers on 127.0.0.1.

mod api_auth;
mod api_events;
mod api_resources;
mod bench;
mod cli;
mod cluster;
mod delivery_durability;
mod delivery_isolation;
mod delivery_outcomes;
mod delivery_request;
mod ops;
mod sdk;
mod support;
