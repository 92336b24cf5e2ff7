//! What a client connection tells each of its requests: addresses, the TLS
//! session (SNI, ALPN, the client's certificate chain), the verdicts on
//! that chain per tenant policy, and whether the connection has
//! authenticated.
//!
//! The client of a request is [`ConnInfo::client`], the one way to get
//! it: the PROXY-protocol header's client, or the socket peer, or (from a
//! trusted proxy) the forwarding headers' client (`crate::client_addr`).
//! `socket_peer` is the TCP peer only, for what concerns the connection
//! itself.
//!
//! The server fills a [`ConnInfo`] once per connection; the stages read it
//! (authentication verifies the certificate chain and marks the
//! connection authenticated). It sits low so that neither has to import
//! the other: it depends on `tls` (the verified [`ClientIdentity`]) only.
//! The anonymous-connection budget that [`ConnAuth`] releases belongs to
//! the server, which hands it in as an [`AnonymousBudget`].
use crate::client_addr::{Client, Forwarding};
use crate::tls::{CertReason, ClientIdentity};
use http::{HeaderMap, HeaderValue};
use rustls::pki_types::CertificateDer;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// What the connection tells about each of its requests; passed to the
/// handler with each.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The TCP peer: a balancer or proxy when one stands in front. Never
    /// a request's client: that is [`ConnInfo::client`].
    pub socket_peer: SocketAddr,
    /// The client a PROXY protocol header named (a PROXY listener only).
    pub proxied: Option<Proxied>,
    pub local: SocketAddr,
    pub tls: bool,
    /// The SNI server name of the TLS handshake.
    pub sni: Option<String>,
    pub alpn: Option<Vec<u8>>,
    /// The client's certificate chain (mTLS).
    pub peer_certificates: Option<Arc<Vec<CertificateDer<'static>>>>,
    /// Verdicts on that chain per tenant policy (by its generation), so
    /// that a keep-alive connection verifies its certificate once per
    /// tenant and policy, not per request, and again after a reload.
    pub cert_checks: CertChecks,
    /// Whether a request on the connection authenticated; until then the
    /// connection counts against the anonymous budget (`server::admit`).
    pub auth: ConnAuth,
}

/// What an allow-listed balancer's PROXY header said.
#[derive(Debug, Clone)]
pub struct Proxied {
    /// The client's address and port.
    pub source: SocketAddr,
    /// `CLIENT, BALANCER`, the `X-Forwarded-For` chain so far (made once
    /// per connection).
    pub forwarded_for: Option<HeaderValue>,
}

impl ConnInfo {
    /// The client of a request with these headers: the address every
    /// per-client decision, log line and audit record uses. The
    /// connection's client (the PROXY header's, else the socket peer),
    /// or, when that is one of `forwarding`'s trusted proxies, the client
    /// its forwarding header names. Free of allocation unless a proxy
    /// stands in front.
    pub fn client(&self, headers: &HeaderMap, forwarding: &Forwarding) -> Client {
        let base = || match &self.proxied {
            Some(p) => Client {
                ip: crate::client_addr::canonical(p.source.ip()),
                via: Some(self.socket_peer.ip()),
                forwarded_for: p.forwarded_for.clone(),
            },
            None => Client::direct(crate::client_addr::canonical(self.socket_peer.ip())),
        };
        let peer = self.proxied.as_ref().map_or(self.socket_peer, |p| p.source);
        forwarding.resolve(peer.ip(), headers, base)
    }

    /// A request's credentials were accepted: the connection is no
    /// longer anonymous.
    pub fn authenticated(&self) {
        self.auth.mark();
    }
}

/// See [`ConnInfo::cert_checks`]. Cloning gives an empty cache.
#[derive(Default)]
pub struct CertChecks(std::sync::Mutex<Vec<(u64, CertVerdict)>>);

/// A cached verdict: the identity, or the refusal's reason and detail.
pub(crate) type CertVerdict = Result<ClientIdentity, (CertReason, String)>;

impl CertChecks {
    /// The verdict for the policy of generation `generation`
    /// ([`crate::tls::ClientCertPolicy::generation`]), computed once. Not
    /// the policy's address: a reloaded policy may be allocated where the
    /// old one was and would inherit its verdict.
    pub fn get_or(&self, generation: u64, verify: impl FnOnce() -> CertVerdict) -> CertVerdict {
        let mut checks = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, v)) = checks.iter().find(|(g, _)| *g == generation) {
            return v.clone();
        }
        let verdict = verify();
        // Bounded: a connection rarely serves more than a few tenants.
        if checks.len() >= 16 {
            drop(checks.remove(0));
        }
        checks.push((generation, verdict.clone()));
        verdict
    }
}

impl Clone for CertChecks {
    fn clone(&self) -> Self {
        CertChecks::default()
    }
}

impl std::fmt::Debug for CertChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertChecks")
    }
}

/// Where a connection is counted as anonymous (the server's listener
/// bookkeeping): told once, when the connection authenticates.
pub trait AnonymousBudget: Send + Sync {
    /// The connection counted as `id` authenticated: it leaves the budget.
    fn release(&self, id: u64);
}

/// Whether the connection has carried an authenticated request. Clones
/// share the state (they describe the same connection).
#[derive(Clone, Default)]
pub struct ConnAuth(Arc<AuthState>);

#[derive(Default)]
struct AuthState {
    done: AtomicBool,
    /// Where the connection is counted as anonymous, and as which.
    budget: Option<(Weak<dyn AnonymousBudget>, u64)>,
}

impl ConnAuth {
    /// A connection counted as `id` in `budget` until it authenticates.
    pub fn counted(budget: Weak<dyn AnonymousBudget>, id: u64) -> ConnAuth {
        ConnAuth(Arc::new(AuthState {
            done: AtomicBool::new(false),
            budget: Some((budget, id)),
        }))
    }

    /// The id the connection is counted as in its anonymous budget, if it
    /// was counted in one.
    pub fn budget_id(&self) -> Option<u64> {
        self.0.budget.as_ref().map(|(_, id)| *id)
    }

    /// A request on the connection authenticated: it no longer counts
    /// against the anonymous budget, and its anonymous timeout is off.
    pub fn mark(&self) {
        // A load first: every request of the connection marks it, and
        // only the first needs the write.
        if self.is_authenticated() || self.0.done.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some((budget, id)) = &self.0.budget {
            if let Some(budget) = budget.upgrade() {
                budget.release(*id);
            }
        }
    }

    #[inline]
    pub fn is_authenticated(&self) -> bool {
        self.0.done.load(Ordering::Acquire)
    }
}

impl std::fmt::Debug for ConnAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ConnAuth")
            .field(&self.is_authenticated())
            .finish()
    }
}
