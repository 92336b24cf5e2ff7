//! Who the client of a request is, when proxies stand in front of the
//! gateway: the address every per-client decision uses (failure damping,
//! connection caps, the access log, the audit record's `client_ip`, the
//! `X-Forwarded-For` sent upstream).
//!
//! Two sources, both opt-in and both tied to an allow-list of ranges
//! ([`CidrSet`]), because anything a client sends about itself is a
//! claim:
//!
//! - the PROXY protocol header of a connection from an allow-listed
//!   balancer (parsed by [`proxy_header`], read off the socket by
//!   `server`; the connection's client, per connection), and
//! - `X-Forwarded-For` or `Forwarded` (one of the two, per
//!   [`ForwardedHeader`]) from a peer in `trusted_proxies`, per request
//!   ([`Forwarding::resolve`]): the client is the rightmost address of the
//!   chain that is not itself a trusted proxy. A peer that is not trusted
//!   has its headers ignored; a header the walk cannot read gives the
//!   peer itself.
//!
//! Ground layer: the server (the PROXY header), the pipeline (per
//! request) and the config (the ranges) all name these types.
mod cidr;
mod forwarded;
pub mod proxy_header;

pub use cidr::{canonical, Cidr, CidrError, CidrSet};
pub use forwarded::{entries_from_right, ForwardedHeader, Malformed};

use http::{HeaderMap, HeaderValue};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

/// Most chain entries walked: more trusted hops than this in a row is
/// not a deployment but a header built to make the gateway work; the
/// request is then the peer's.
pub const MAX_HOPS: usize = 16;

/// `trusted_proxies` and the header they write; empty trusts nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forwarding {
    pub trusted: CidrSet,
    pub header: ForwardedHeader,
}

/// A listener's client-identity settings (`[server.proxy_protocol]`,
/// `trusted_proxies`), read per connection from the current config.
#[derive(Debug, Clone, Default)]
pub struct ListenerIdentity {
    /// The balancers allowed to connect, each connection opening with a
    /// PROXY header; `None`: PROXY protocol off.
    pub proxy_protocol: Option<Arc<CidrSet>>,
    /// The proxies whose forwarding header is believed.
    pub forwarding: Arc<Forwarding>,
}

/// A request's client, resolved once per request by
/// `conn_info::ConnInfo::client` (the one way to get it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client's address: what damping, limits, logs and audit use.
    pub ip: IpAddr,
    /// The TCP peer, when it is not the client (a proxy or balancer in
    /// between): for the logs.
    pub via: Option<IpAddr>,
    /// The `X-Forwarded-For` to send upstream: the client, then each
    /// proxy that is vouched for, the socket peer last (addresses only,
    /// re-written, never the client's bytes). `None`: the client alone.
    pub forwarded_for: Option<HeaderValue>,
}

impl Client {
    /// A client reached directly: no proxy in between.
    pub fn direct(ip: IpAddr) -> Client {
        Client {
            ip,
            via: None,
            forwarded_for: None,
        }
    }
}

impl Forwarding {
    /// Whether `trusted_proxies` is set at all.
    pub fn is_on(&self) -> bool {
        !self.trusted.is_empty()
    }

    /// Whether connections from `ip` are a trusted proxy's (many
    /// clients, not one).
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.contains(ip)
    }

    /// The client of a request from `peer` (the connection's client: the
    /// socket peer, or the PROXY header's source), given its headers.
    /// `base` is what to answer when no header is trusted (the
    /// connection's own client, with its chain when a balancer sent a
    /// PROXY header). Allocates only when a trusted proxy forwarded the
    /// request.
    pub fn resolve(
        &self,
        peer: IpAddr,
        headers: &HeaderMap,
        base: impl FnOnce() -> Client,
    ) -> Client {
        if self.trusted.is_empty() || !self.trusted.contains(peer) {
            return base();
        }
        // The walked entries, rightmost first.
        let mut hops = [IpAddr::from([0, 0, 0, 0]); MAX_HOPS];
        let mut walked = 0;
        for entry in entries_from_right(headers, self.header) {
            let Ok(ip) = entry else {
                return base();
            };
            if walked == MAX_HOPS {
                return base();
            }
            hops[walked] = canonical(ip);
            walked += 1;
            if !self.trusted.contains(ip) {
                break;
            }
        }
        // The first untrusted entry, or (every entry trusted) the leftmost.
        let Some(&client) = walked.checked_sub(1).and_then(|last| hops.get(last)) else {
            // A trusted proxy's own request (a health check): no header.
            return base();
        };
        let base = base();
        let mut chain = String::with_capacity(16 * (walked + 2));
        for ip in hops.iter().take(walked).rev() {
            let _ = write!(chain, "{ip}, ");
        }
        match &base.forwarded_for {
            // The balancer's chain (client, balancer) continues it.
            Some(v) => chain.push_str(v.to_str().unwrap_or_default()),
            None => {
                let _ = write!(chain, "{}", base.ip);
            }
        }
        Client {
            ip: client,
            via: base.via.or(Some(base.ip)),
            forwarded_for: HeaderValue::from_str(&chain).ok(),
        }
    }
}

/// `X-Forwarded-For: CLIENT, PEER` for a connection whose client a
/// balancer named (PROXY protocol); built once per connection.
pub fn chain_of(client: IpAddr, peer: IpAddr) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("{}, {}", canonical(client), canonical(peer))).ok()
}

#[cfg(test)]
mod tests;
