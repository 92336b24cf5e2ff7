//! Shared helpers of the integration tests (real sockets, real peers).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
pub mod echo;
pub mod faulty;
pub mod gateway;
pub mod http;
pub mod issuer;
pub mod outbox;
pub mod peers;
pub mod pki;
pub mod process;
pub mod recorder;
pub mod redis;
pub mod scim11;
pub mod store;
pub mod tansu;
pub mod webhook;
pub mod writes;
