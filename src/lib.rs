//! scim-gateway: a multi-tenant SCIM 2.0 gateway and reverse proxy.
//!
//! The pure SCIM protocol core lives in [`scim`]; the built-in reference
//! store (the embedded default upstream) lives in [`store`]; the gateway's
//! runtime configuration is a `snapshot::Snapshot` compiled by [`config`].
//!
//! What is `pub` is the API the crate's other targets use (the binary, the
//! integration tests, the benches, the fuzz targets); everything else is
//! `pub(crate)`, and `unreachable_pub` keeps it so.
#![warn(unreachable_pub)]
pub mod audit;
pub mod authn;
pub(crate) mod boxed;
pub(crate) mod cache;
pub mod client_addr;
pub mod config;
pub mod conn_info;
pub(crate) mod creates;
pub mod dialect;
pub mod drift;
pub(crate) mod error;
pub mod events;
pub mod guardrail;
pub(crate) mod http_client;
pub mod limit;
pub mod mapping;
pub(crate) mod offload;
pub mod probe;
pub mod redis_conn;
pub(crate) mod request_id;
pub(crate) mod rewrite;
pub mod run;
pub mod scim;
pub mod scim11;
pub(crate) mod secret;
pub(crate) mod server;
pub mod shadow;
/// The HTTP/1 server's parsers as the fuzz target drives them.
#[doc(hidden)]
pub use server::h1::fuzz as server_h1;
pub(crate) mod snapshot;
pub mod stack;
pub mod store;
pub mod telemetry;
pub(crate) mod tenant;
pub(crate) mod tenant_id;
pub mod tls;
pub(crate) mod traces;
pub mod upstream;
