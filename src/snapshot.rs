//! The compiled, immutable runtime configuration: one [`Snapshot`] per
//! successfully compiled config file, swapped atomically on reload and
//! loaded once per request, so a request never sees two configs.
//!
//! Built only by `config::compile`; read by every pipeline stage.
pub use crate::secret::Secret;
pub use crate::tenant_id::TenantId;
pub use crate::upstream::target::{Upstream, UpstreamAuth, UpstreamProtocol, UpstreamTarget};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything the gateway runs on.
#[derive(Debug)]
pub struct Snapshot {
    pub server: ServerSettings,
    /// The admin listener (`/healthz`, `/readyz`, `/metrics`), if any.
    pub admin: Option<SocketAddr>,
    /// Tenants by id.
    pub tenants: HashMap<TenantId, Arc<Tenant>>,
    /// Tenants by lower-cased host name without port.
    pub hosts: HashMap<String, Arc<Tenant>>,
    /// Upstreams by name.
    pub upstreams: HashMap<String, Arc<Upstream>>,
    /// Rate limits shared by replicas through Redis (`None`: in-process).
    pub shared_limits: Option<Arc<crate::limit::redis::RedisRates>>,
    /// The audit journal's settings (`None`: `[audit] enabled = false`).
    /// Read once at start: a change needs a restart.
    pub audit: Option<crate::audit::AuditSettings>,
    /// Event delivery shared by every tenant.
    pub events: EventsSettings,
    /// Where the config came from (for logs).
    pub source: PathBuf,
}

/// `[events]`: how the dispatcher runs and the Kafka sink, if any.
#[derive(Debug, Clone)]
pub struct EventsSettings {
    pub poll_interval: Duration,
    /// One Kafka sink for every tenant's events.
    pub kafka: Option<crate::events::kafka::KafkaSettings>,
}

/// The public listener and the limits of the request path.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// The TLS configuration per SNI host name; `None` = plain HTTP
    /// (`plaintext = true`).
    pub tls: Option<Arc<crate::tls::TlsSelector>>,
    pub header_read_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    /// `max_connections` and the caps per client IP and for connections
    /// not yet authenticated (fixed at start, like `max_connections`).
    pub connections: crate::server::ConnectionCaps,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub max_request_body_bytes: usize,
    pub max_response_body_bytes: usize,
    /// Most operations in one PATCH (also one inside a Bulk request).
    pub max_patch_operations: usize,
    pub shutdown_timeout: Duration,
    /// Whether `/tenants/{id}/scim/v2/...` selects a tenant.
    pub path_routing: bool,
    /// The SCIM base path under a tenant host, e.g. `/scim/v2`.
    pub base_path: String,
    /// The lower-case host names (`*.` wildcards of one label) on which
    /// path-routed tenants are served.
    pub hosts: Vec<String>,
    /// Brute-force damping of failed authentications.
    pub auth_damping: crate::authn::damping::DampingSettings,
    /// The response cache's budget over all tenants, bytes (fixed at
    /// start).
    pub cache_max_bytes: u64,
}

/// One tenant.
#[derive(Debug)]
pub struct Tenant {
    pub id: TenantId,
    /// Lower-cased host names that select this tenant.
    pub hosts: Vec<String>,
    pub upstream: Arc<Upstream>,
    /// Accepted static bearer tokens, stored only as SHA-256 hashes.
    pub tokens: Vec<StaticToken>,
    /// OAuth 2.0 JWTs accepted, if any.
    pub jwt: Option<crate::authn::JwtAuth>,
    /// Opaque tokens checked by introspection, if configured.
    pub introspection: Option<crate::authn::introspect::Introspector>,
    /// What principals may do (empty: everything).
    pub grants: crate::authz::Grants,
    /// Client certificates from the tenant's own CAs, if configured.
    pub mtls: Option<TenantMtls>,
    /// Rate limits and the concurrency cap of the tenant.
    pub limits: crate::limit::Limits,
    /// Response caching, where enabled.
    pub cache: Option<crate::cache::CacheSettings>,
    /// The IdP dialect normalized, where configured.
    pub dialect: Option<crate::dialect::TenantDialect>,
    /// The tenant-facing schemas, validation and mapping.
    pub schema: Arc<crate::tenant_schema::TenantSchema>,
    /// What the tenant's audit records keep and where its events go.
    pub journal: TenantJournal,
    /// Request metric handles (filled on first use).
    pub metrics: crate::telemetry::handles::TenantMetrics,
}

/// A tenant's audit and change-event settings.
#[derive(Debug, Clone, Default)]
pub struct TenantJournal {
    /// Attributes whose values audit records keep (the rest are named).
    pub audit_values: Vec<String>,
    /// What the tenant's events carry.
    pub data: crate::events::EventData,
    /// The tenant's webhook endpoints.
    pub webhooks: Vec<Arc<crate::events::WebhookSink>>,
    /// Okta Event Hooks received for the tenant.
    pub okta_hook: Option<crate::events::okta_hook::OktaHookSettings>,
    /// Whether some sink takes the tenant's events (a webhook of its own
    /// or the shared Kafka sink): without one, no event is written.
    pub events: bool,
}

/// A tenant's client-certificate requirement.
#[derive(Debug, Clone)]
pub struct TenantMtls {
    pub policy: Arc<crate::tls::ClientCertPolicy>,
    /// Whether every request needs a certificate (else only checked when
    /// one was sent).
    pub required: bool,
}

/// An accepted static bearer token: a name for logs and the SHA-256 of the
/// token.
#[derive(Clone)]
pub struct StaticToken {
    pub name: String,
    pub sha256: [u8; 32],
    /// Scopes for `[[tenants.grants]]`.
    pub scopes: Vec<String>,
}

// === impl Snapshot ===

impl Snapshot {
    /// The tenant named `id`.
    pub fn tenant(&self, id: &str) -> Option<&Arc<Tenant>> {
        self.tenants.get(id)
    }

    /// The tenant that owns `host` (any `:port` ignored, case ignored).
    pub fn tenant_by_host(&self, host: &str) -> Option<&Arc<Tenant>> {
        let name = strip_port(host);
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.hosts.get(&name.to_ascii_lowercase())
        } else {
            self.hosts.get(name)
        }
    }
}

/// A DNS name (letters, digits, `-`, `_`, dots between labels), an IPv4
/// address, or an IPv6 address in brackets; at most 253 characters.
pub fn valid_host_name(name: &str) -> bool {
    if let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    // Dot-separated labels of 1 to 63 letters, digits, `-` or `_`: one
    // pass over the bytes (it runs on every request's Host).
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let mut label = 0usize;
    for b in name.bytes() {
        if b == b'.' {
            if label == 0 {
                return false;
            }
            label = 0;
        } else if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            label += 1;
            if label > 63 {
                return false;
            }
        } else {
            return false;
        }
    }
    label > 0
}

/// `host:port` → `host`; `[v6]:port` → `[v6]`.
pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

// === impl StaticToken ===

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticToken")
            .field("name", &self.name)
            .field("sha256", &"<redacted>")
            .finish()
    }
}

// === impl Tenant ===

impl Tenant {
    /// A tenant with static tokens only, no grants.
    pub fn new(
        id: TenantId,
        hosts: Vec<String>,
        upstream: Arc<Upstream>,
        tokens: Vec<StaticToken>,
    ) -> Tenant {
        Tenant {
            id,
            hosts,
            upstream,
            tokens,
            jwt: None,
            introspection: None,
            grants: Default::default(),
            mtls: None,
            limits: Default::default(),
            cache: None,
            dialect: None,
            schema: crate::tenant_schema::TenantSchema::shared_standard(),
            journal: Default::default(),
            metrics: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports_are_stripped() {
        assert_eq!(strip_port("acme.example:8443"), "acme.example");
        assert_eq!(strip_port("[::1]:8443"), "[::1]");
        assert_eq!(strip_port("acme.example"), "acme.example");
    }

    #[test]
    fn host_names_are_dot_separated_labels() {
        // The byte loop agrees with the definition: labels of 1 to 63
        // letters, digits, `-` or `_`, at most 253 bytes in all.
        let by_definition = |name: &str| {
            !name.is_empty()
                && name.len() <= 253
                && name.split('.').all(|label| {
                    (1..=63).contains(&label.len())
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
        };
        let long = "a".repeat(63);
        let cases = [
            "acme.example".to_string(),
            "localhost".into(),
            "127.0.0.1".into(),
            "a_b-c.d".into(),
            ".acme".into(),
            "acme.".into(),
            "a..b".into(),
            ".".into(),
            "".into(),
            "acme example".into(),
            "acme@evil".into(),
            "é.example".into(),
            format!("{long}.{long}"),
            format!("{long}a.example"),
            [long.as_str(); 4].join("."),
            [long.as_str(); 3].join(".")
                + ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ];
        for name in &cases {
            assert_eq!(valid_host_name(name), by_definition(name), "{name:?}");
        }
        assert!(valid_host_name("[::1]"));
        assert!(!valid_host_name("[::1"));
    }
}
