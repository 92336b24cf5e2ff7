//! The compiled, immutable runtime configuration: one [`Snapshot`] per
//! successfully compiled config file, swapped atomically on reload and
//! loaded once per request, so a request never sees two configs.
//!
//! Built only by `config::compile`; read by every pipeline stage.
/// Now in `authn`; these paths are kept while the layering moves land.
pub use crate::authn::{StaticToken, TenantMtls};
pub use crate::secret::Secret;
use crate::store::Store;
pub use crate::tenant_id::TenantId;
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
    /// How its clients authenticate (tokens, JWTs, introspection, client
    /// certificates) and what they may do (grants).
    pub auth: crate::authn::TenantAuth,
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

/// One upstream SCIM service provider.
#[derive(Debug)]
pub struct Upstream {
    pub name: String,
    pub target: UpstreamTarget,
    /// The credential the gateway presents (the client's never is).
    pub auth: UpstreamAuth,
    /// `auth` as the `Authorization` value, made once (marked sensitive).
    pub authorization: Option<http::HeaderValue>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Limits protecting the upstream (over all its tenants).
    pub limits: crate::limit::Limits,
    /// Retries, retry budget and circuit breaker settings.
    pub resilience_settings: crate::upstream::resilience::ResilienceSettings,
    /// Their state (per process; a reload starts afresh).
    pub resilience: crate::upstream::resilience::Resilience,
    /// Latency histogram handle (filled on first use).
    pub metrics: crate::telemetry::handles::UpstreamMetrics,
    /// What it supports and how the gateway emulates the rest
    /// (`[upstreams.X.capabilities]`; discovered state per process).
    pub emulation: crate::upstream::emulate::Emulation,
    /// The SCIM version the upstream speaks.
    pub protocol: UpstreamProtocol,
}

/// The SCIM version an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamProtocol {
    #[default]
    Scim2,
    /// SCIM 1.1, translated by the gateway (`stack/scim11_stage.rs`).
    Scim11,
}

/// Where an upstream is.
#[derive(Clone)]
pub enum UpstreamTarget {
    /// A remote SCIM server and the connection pool for it.
    Http(Arc<crate::upstream::HttpTarget>),
    /// The built-in store, in-process. Kept across reloads by upstream name.
    Builtin(Arc<Store>),
}

/// The credential sent upstream.
#[derive(Clone)]
pub enum UpstreamAuth {
    None,
    Bearer(Secret),
    Basic {
        username: String,
        password: Secret,
    },
    /// OAuth 2.0 client credentials: a token fetched, cached and renewed.
    OAuth2(crate::upstream::oauth::TokenSource),
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
            auth: crate::authn::TenantAuth {
                tokens,
                ..Default::default()
            },
            limits: Default::default(),
            cache: None,
            dialect: None,
            schema: crate::tenant_schema::TenantSchema::shared_standard(),
            journal: Default::default(),
            metrics: Default::default(),
        }
    }
}

// === impl Upstream ===

impl Upstream {
    pub fn new(
        name: impl Into<String>,
        target: UpstreamTarget,
        auth: UpstreamAuth,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Upstream {
        Upstream {
            name: name.into(),
            authorization: auth.header_value(),
            target,
            auth,
            connect_timeout,
            request_timeout,
            limits: Default::default(),
            resilience_settings: Default::default(),
            resilience: Default::default(),
            metrics: Default::default(),
            emulation: Default::default(),
            protocol: UpstreamProtocol::Scim2,
        }
    }
}

// === impl UpstreamTarget ===

impl fmt::Debug for UpstreamTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamTarget::Http(http) => write!(f, "Http({})", http.base),
            UpstreamTarget::Builtin(_) => f.write_str("Builtin"),
        }
    }
}

// === impl UpstreamAuth ===

impl UpstreamAuth {
    /// The `Authorization` header value, marked sensitive (never logged
    /// by hyper or `Debug`).
    pub fn header_value(&self) -> Option<http::HeaderValue> {
        use base64::Engine;
        let text = match self {
            UpstreamAuth::None | UpstreamAuth::OAuth2(_) => return None,
            UpstreamAuth::Bearer(token) => format!("Bearer {}", token.expose()),
            UpstreamAuth::Basic { username, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose()))
            ),
        };
        let mut value = http::HeaderValue::from_str(&text).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

impl fmt::Debug for UpstreamAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamAuth::None => f.write_str("None"),
            UpstreamAuth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            UpstreamAuth::Basic { username, .. } => {
                write!(
                    f,
                    "Basic {{ username: {username:?}, password: <redacted> }}"
                )
            }
            UpstreamAuth::OAuth2(source) => write!(f, "OAuth2({source:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        let auth = UpstreamAuth::Basic {
            username: "svc".into(),
            password: s.clone(),
        };
        let printed = format!("{s:?} {auth:?} {:?}", UpstreamAuth::Bearer(s.clone()));
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("svc"));
    }

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
