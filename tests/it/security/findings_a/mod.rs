//! Findings of the security review (part A), each over real sockets:
//! - `okta_hook`: the Okta Event Hook checks its secret before it spends a
//!   rate-limit token or reads the body, and damps wrong secrets;
//! - `framing`: an upstream's `Content-Length` never reaches the client
//!   beside a body it does not describe;
//! - `damping`: failure damping refuses failed credentials, never a valid
//!   one behind the same address;
//! - `forwarding`: the client's forwarding, override and rewrite headers
//!   never reach the upstream; the gateway writes `X-Forwarded-*` itself.
mod damping;
mod forwarding;
mod framing;
mod okta_hook;
