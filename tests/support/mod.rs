//! Shared helpers of the integration tests (real sockets, real peers).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
pub mod echo;
pub mod faulty;
pub mod gateway;
pub mod http;
pub mod issuer;
pub mod peers;
pub mod pki;
pub mod process;
pub mod redis;
pub mod store;
pub mod tansu;
