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
    positive(
        p,
        "server.cache_max_bytes",
        s.cache_max_bytes,
        CACHE_MAX_BYTES,
    )
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
            format!("{loc}.cache.max_bytes"),
            format!("{bytes} is more than server.cache_max_bytes ({process})"),
        );
    }
    bytes as u64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::config::compile::{compile, parse};
    use std::path::Path;

    const HASH: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn config(server: &str, cache: &str) -> String {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nplaintext = true\n{server}\n\
             [upstreams.store]\nkind = \"builtin\"\n\
             [[tenants]]\nid = \"acme\"\nhosts = [\"acme.example\"]\nupstream = \"store\"\n\
             [[tenants.tokens]]\nname = \"okta\"\nhash = \"{HASH}\"\n\
             [tenants.cache]\n{cache}\n"
        )
    }

    fn compiled(server: &str, cache: &str) -> Result<crate::snapshot::Snapshot, String> {
        let raw = parse(&config(server, cache), "g.toml").unwrap();
        compile(&raw, Path::new("g.toml"), None).map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn defaults_follow_the_connection_cap_and_the_cache_budget() {
        let s = compiled("", "").unwrap();
        let caps = s.server.connections;
        assert_eq!(caps.max_connections, 16384);
        assert_eq!(caps.per_ip, 256);
        let anonymous = caps.anonymous.unwrap();
        assert_eq!(anonymous.max, 8192);
        assert_eq!(anonymous.timeout, std::time::Duration::from_secs(10));
        assert_eq!(s.server.cache_max_bytes, 64 << 20);
        let tenant = s.tenant("acme").unwrap();
        assert_eq!(tenant.cache.unwrap().max_bytes, 16 << 20);

        // Small caps and budgets bound the defaults.
        let s = compiled("max_connections = 100\ncache_max_bytes = 1000000", "").unwrap();
        assert_eq!(s.server.connections.per_ip, 100);
        assert_eq!(s.server.connections.anonymous.unwrap().max, 50);
        assert_eq!(
            s.tenant("acme").unwrap().cache.unwrap().max_bytes,
            1_000_000
        );
    }

    #[tokio::test]
    async fn each_check_names_its_key() {
        for (server, cache, needle) in [
            (
                "max_connections_per_ip = 0",
                "",
                "server.max_connections_per_ip",
            ),
            (
                "max_connections = 10\nmax_connections_per_ip = 11",
                "",
                "server.max_connections_per_ip",
            ),
            (
                "max_anonymous_connections = 0",
                "",
                "server.max_anonymous_connections",
            ),
            (
                "max_connections = 10\nmax_anonymous_connections = 11",
                "",
                "server.max_anonymous_connections",
            ),
            (
                "anonymous_timeout = \"never\"",
                "",
                "server.anonymous_timeout",
            ),
            ("cache_max_bytes = 0", "", "server.cache_max_bytes"),
            ("", "max_bytes = 0", "cache.max_bytes"),
            (
                "cache_max_bytes = 1000",
                "max_bytes = 1001",
                "cache.max_bytes",
            ),
        ] {
            let e = compiled(server, cache).map(|_| ()).unwrap_err();
            assert!(e.contains(needle), "expected {needle:?} in {e}");
        }
    }
}
