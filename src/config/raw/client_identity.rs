//! `[server.proxy_protocol]`: the balancers allowed to send a PROXY
//! header (with `[server] trusted_proxies` and `forwarded_header`, who a
//! request's client is behind balancers and proxies).
use serde::Deserialize;

/// `[server.proxy_protocol]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyProtocolSection {
    /// The balancers' addresses (ranges such as `"10.0.0.0/8"` or single
    /// addresses). Every connection must come from one of them and open
    /// with a PROXY protocol header (v1 or v2); any other is closed.
    pub allow: Vec<String>,
}
