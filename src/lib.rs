//! scim-gateway: a multi-tenant SCIM 2.0 gateway and reverse proxy.
//!
//! The pure SCIM protocol core lives in [`scim`]; the built-in reference
//! store (the embedded default upstream) lives in [`store`].
pub mod scim;
pub mod store;
