//! Integration tests: one binary, a module per area.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod cache;
mod conformance;
mod dialect;
mod emulation;
mod gateway;
mod limits;
mod mtls;
mod oauth;
mod peers_selftest;
mod race;
mod resilience;
mod shared_limits;
mod store_api;
mod store_errors;
