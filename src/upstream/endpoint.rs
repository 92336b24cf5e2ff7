//! Where an `http` upstream's requests go: one remote server
//! ([`Endpoint`]: its base URL, `Host`, how its locations read and the
//! connection pool to it), and an upstream's [`HttpTarget`], which is one
//! endpoint or several behind a balancer.
//!
//! A single URL is its own variant rather than a balancer of one: its hot
//! path reads no atomic and takes no lock. Imports only the upstream's
//! own pool and balancer and the ground `rewrite`.
use super::balance::Balancer;
use super::pool::{Pool, PoolSettings};
use crate::rewrite::Rebase;
use bytes::Bytes;
use http::{HeaderValue, Uri};
use std::sync::Arc;
use std::time::Duration;

/// A remote SCIM server: where it is, how its locations read, and the
/// connection pool to it. Built once per config.
pub struct Endpoint {
    /// The base URL, e.g. `https://scim.internal/scim/v2`, without a
    /// trailing slash.
    pub base: Uri,
    /// The base's path (`/scim/v2`, or empty), without a trailing slash.
    base_path: String,
    /// The `Host` header sent upstream.
    pub(super) host: HeaderValue,
    /// Rewrites the upstream's locations to the gateway's.
    pub rebase: Rebase,
    pub pool: Pool,
}

/// The servers of an `http` upstream.
pub enum HttpTarget {
    /// One URL (`url = ...`): every attempt goes to it.
    Single(Endpoint),
    /// Several URLs (`urls = [...]`): the balancer picks one per attempt.
    /// `primary` is the first URL, the base into which every endpoint's
    /// locations are rewritten (it is used for locations only).
    Balanced {
        primary: Endpoint,
        balancer: Arc<Balancer>,
    },
}

// === impl Endpoint ===

impl Endpoint {
    /// `tls` is required for an `https` base.
    pub fn new(
        base: Uri,
        tls: Option<Arc<rustls::ClientConfig>>,
        connect_timeout: Duration,
        max_idle: usize,
    ) -> Result<Endpoint, String> {
        let (Some(scheme), Some(authority)) = (base.scheme().cloned(), base.authority().cloned())
        else {
            return Err(format!("\"{base}\" is not an absolute URL"));
        };
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| format!("\"{authority}\" cannot be a Host header"))?;
        let text = base.to_string();
        let rebase = Rebase::new(&text).ok_or_else(|| format!("\"{base}\" has no host"))?;
        let pool = Pool::new(PoolSettings {
            scheme,
            authority,
            tls,
            connect_timeout,
            max_idle,
            idle_timeout: Duration::from_secs(30),
        })?;
        Ok(Endpoint {
            base_path: base.path().trim_end_matches('/').to_string(),
            base,
            host,
            rebase,
            pool,
        })
    }

    /// The request target: base path + SCIM path + `?query`, in origin
    /// form, nothing re-encoded.
    pub(super) fn target(&self, path: &str, query: Option<&str>) -> Result<Uri, http::Error> {
        let s = origin_form(&self.base_path, path, query);
        let pq = http::uri::PathAndQuery::from_maybe_shared(Bytes::from(s))?;
        Ok(Uri::from(pq))
    }
}

// === impl HttpTarget ===

impl HttpTarget {
    /// A single endpoint at `base` (`tls` is required for an `https` one).
    pub fn new(
        base: Uri,
        tls: Option<Arc<rustls::ClientConfig>>,
        connect_timeout: Duration,
        max_idle: usize,
    ) -> Result<HttpTarget, String> {
        Endpoint::new(base, tls, connect_timeout, max_idle).map(HttpTarget::Single)
    }

    /// This target's first URL as the primary, with a balancer over all
    /// endpoints.
    pub fn with_balancer(self, balancer: Balancer) -> HttpTarget {
        let primary = match self {
            HttpTarget::Single(primary) | HttpTarget::Balanced { primary, .. } => primary,
        };
        HttpTarget::Balanced {
            primary,
            balancer: Arc::new(balancer),
        }
    }

    /// The endpoint whose base the upstream's locations are written in:
    /// the only one, or the first URL of several.
    pub fn primary(&self) -> &Endpoint {
        match self {
            HttpTarget::Single(primary) | HttpTarget::Balanced { primary, .. } => primary,
        }
    }

    /// The primary base URL.
    pub fn base(&self) -> &Uri {
        &self.primary().base
    }

    /// Rewrites the upstream's locations (in the primary base) to the
    /// gateway's.
    pub fn rebase(&self) -> &Rebase {
        &self.primary().rebase
    }

    /// The balancer over several endpoints (`None` for a single URL).
    pub fn balancer(&self) -> Option<&Arc<Balancer>> {
        match self {
            HttpTarget::Single(_) => None,
            HttpTarget::Balanced { balancer, .. } => Some(balancer),
        }
    }
}

/// `base_path` + `path` + `?query` (`/` when both paths are empty), in a
/// buffer of exactly its length: `Bytes::from` then keeps the buffer as
/// is (with spare capacity it would allocate a shared header too).
pub(super) fn origin_form(base_path: &str, path: &str, query: Option<&str>) -> String {
    let root = base_path.is_empty() && path.is_empty();
    let mut s = String::with_capacity(
        base_path.len() + path.len() + usize::from(root) + query.map_or(0, |q| q.len() + 1),
    );
    s.push_str(base_path);
    s.push_str(path);
    if root {
        s.push('/');
    }
    if let Some(q) = query {
        s.push('?');
        s.push_str(q);
    }
    s
}
