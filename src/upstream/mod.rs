//! Upstream calls: the pooled HTTP(S) client, the in-process built-in
//! store, header hygiene and credential injection, timeouts and body caps.
//!
//! Failures are classified here (connect → 502, timeout → 504, oversized
//! or broken response → 502) with a detail safe for the client; the
//! internal cause (addresses, transport errors) goes to the logs only.
//!
//! Layout: [`target`] (the settings types the config compiles: what an
//! upstream is), [`endpoint`] (one remote server, or several behind a
//! [`balance`]r), `call` (emulation, resilience and the attempts),
//! `attempt` (one exchange), [`pool`] and [`h1`] (the connections),
//! `headers` (hygiene on both legs), [`emulate`], [`resilience`] and
//! [`oauth`] (the upstream's OAuth 2.0 credential).
//!
//! May import the ground (`error`, `request_id`, `secret`, `telemetry`),
//! the pure cores (`scim`, `mapping`, `dialect`, `rewrite`, `offload`),
//! the built-in `store` it calls in-process and `limit`'s settings type;
//! never the snapshot, a tenant or the config: callers pass what a
//! function needs.
mod attempt;
pub(crate) mod balance;
mod call;
pub(crate) mod emulate;
pub(crate) mod endpoint;
// Public only for the fuzz target of the response parser (fuzz/).
#[doc(hidden)]
pub mod h1;
mod headers;
pub(crate) mod oauth;
pub(crate) mod pool;
pub(crate) mod resilience;
pub(crate) mod target;

pub(crate) use call::{forward, forward_with, send};
pub(crate) use endpoint::{Endpoint, HttpTarget};
pub use target::{Upstream, UpstreamAuth, UpstreamProtocol, UpstreamTarget};

use crate::request_id::RequestId;
use bytes::Bytes;
use http::{HeaderMap, Method};
use std::net::IpAddr;
use std::time::Duration;
use tokio::time::Instant;

/// A request on its way upstream.
#[derive(Debug)]
pub struct UpstreamRequest {
    pub method: Method,
    /// The SCIM path relative to the base, e.g. `/Users/123` (may be empty).
    pub path: String,
    /// The raw query, passed through untouched.
    pub query: Option<String>,
    /// The client's headers (cleaned here).
    pub headers: HeaderMap,
    pub body: Bytes,
    pub request_id: RequestId,
    /// The request's client (resolved behind balancers and proxies).
    pub client_ip: IpAddr,
    /// The `X-Forwarded-For` chain vouched for (client, proxies, the
    /// socket peer), when proxies stood in front; `None`: `client_ip`
    /// alone (`crate::client_addr::Client::forwarded_for`).
    pub forwarded_for: Option<http::HeaderValue>,
    pub client_proto: &'static str,
    pub client_host: String,
    /// The tenant's public SCIM base URL. The in-process store writes its
    /// locations with it directly, so its responses need no rewriting.
    pub public_base: Option<String>,
    /// A PATCH whose value-filtered adds and replaces create the element
    /// when their filter selects nothing (the tenant's dialect has
    /// `filtered_upsert` on: Entra ID). Resolved against the resource
    /// before the PATCH is applied, natively or emulated
    /// (`emulate::upsert`).
    pub filtered_upsert: bool,
}

/// When the whole request must be answered, and the configured limit
/// behind it (for the message).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    pub within: Duration,
}

/// The base URL the upstream writes into its locations (for the built-in
/// store, a synthetic base that the gateway rewrites back).
pub(crate) fn public_base_of(upstream: &Upstream) -> String {
    match &upstream.target {
        UpstreamTarget::Http(http) => http.rebase().as_str().to_string(),
        UpstreamTarget::Builtin(_) => format!("http://builtin.invalid/{}", upstream.name),
    }
}

#[cfg(test)]
mod tests;
