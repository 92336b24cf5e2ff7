//! The bounds on memory and connections: the connection caps per client
//! IP and for connections not yet authenticated, and the response cache's
//! byte budgets (the process's and each tenant's).
use super::{duration, positive, Problems};
use crate::config::raw::{CacheSection, ServerSection};
use crate::server::ConnectionCaps;

/// `[server] cache_max_bytes` when not set.
pub(super) const CACHE_MAX_BYTES: usize = 64 * 1024 * 1024;
/// `[tenants.cache] max_bytes` when not set (at most the process budget).
pub(super) const TENANT_CACHE_MAX_BYTES: usize = 16 * 1024 * 1024;
/// `[server] max_connections_per_ip` when not set (at most the cap).
const PER_IP: usize = 256;

/// `[server]`'s connection caps, given its `max_connections`.
pub(super) fn connections(
    s: &ServerSection,
    max_connections: usize,
    p: &mut Problems,
) -> Option<ConnectionCaps> {
    let per_ip = positive(
        p,
        "server.max_connections_per_ip",
        s.max_connections_per_ip,
        PER_IP.min(max_connections),
    );
    let anonymous = positive(
        p,
        "server.max_anonymous_connections",
        s.max_anonymous_connections,
        (max_connections / 2).max(1),
    );
    for (key, value) in [
        ("server.max_connections_per_ip", per_ip),
        ("server.max_anonymous_connections", anonymous),
    ] {
        if value > max_connections {
            p.add(
                key,
                format!("{value} is more than server.max_connections ({max_connections})"),
            );
        }
    }
    let anonymous_timeout = duration(
        p,
        "server.anonymous_timeout",
        s.anonymous_timeout.as_deref(),
        "10s",
    )?;
    Some(ConnectionCaps {
        max_connections,
        per_ip,
        anonymous: Some(crate::server::AnonymousCaps {
            max: anonymous,
            timeout: anonymous_timeout,
        }),
    })
}

/// `[server] cache_max_bytes`.
pub(super) fn cache_max_bytes(s: &ServerSection, p: &mut Problems) -> usize {
    positive(p, "server.cache_max_bytes", s.cache_max_bytes, CACHE_MAX_BYTES)
}

/// `[tenants.cache] max_bytes`: at most the process budget.
pub(super) fn tenant_cache_max_bytes(
    section: &CacheSection,
    server: &ServerSection,
    p: &mut Problems,
    loc: &str,
) -> u64 {
    let process = server.cache_max_bytes.unwrap_or(CACHE_MAX_BYTES);
    let bytes = positive(
        p,
        &format!("{loc}.cache.max_bytes"),
        section.max_bytes,
        TENANT_CACHE_MAX_BYTES.min(process),
    );
    if bytes > process {
        p.add(
            &format!("{loc}.cache.max_bytes"),
            format!("{bytes} is more than server.cache_max_bytes ({process})"),
        );
    }
    bytes as u64
}
