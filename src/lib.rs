//! scim-gateway: a multi-tenant SCIM 2.0 gateway and reverse proxy.
//!
//! The pure SCIM protocol core lives in [`scim`]; the built-in reference
//! store (the embedded default upstream) lives in [`store`]; the gateway's
//! runtime configuration is a [`snapshot::Snapshot`] compiled by [`config`].
pub mod audit;
pub mod authn;
pub mod cache;
pub mod config;
pub mod conn_info;
pub mod dialect;
pub mod error;
pub mod events;
pub mod http_client;
pub mod limit;
pub mod mapping;
pub mod offload;
pub mod probe;
pub mod request_id;
pub mod rewrite;
pub mod run;
pub mod scim;
pub mod scim11;
pub mod secret;
pub mod server;
pub mod snapshot;
pub mod stack;
pub mod store;
pub mod telemetry;
pub mod tenant;
pub mod tenant_id;
pub mod tls;
pub mod upstream;
