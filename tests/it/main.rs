//! Integration tests: one binary, a module per area.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod audit_events;
mod audit_file;
mod balance;
mod cache;
mod client_identity;
mod conformance;
mod dialect;
mod emulation;
mod events;
mod faults;
mod gateway;
mod kafka;
mod kafka_gateway_tls;
mod kafka_sasl;
mod kafka_tls;
mod limits;
mod mapped_filter;
mod mapped_patch;
mod mapped_scim11;
mod mapped_upsert;
mod matrix;
mod mtls;
mod no_loss;
mod no_loss_hangup;
mod oauth;
mod peers_selftest;
mod probe;
mod race;
mod replay;
mod replica_events;
mod replicas;
mod resilience;
mod reuse_port;
mod scim11;
mod security;
mod shared_limits;
mod shipped_configs;
mod slis;
mod store_api;
mod store_errors;
mod write_order;
