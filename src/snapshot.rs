//! The compiled, immutable runtime configuration: one [`Snapshot`] per
//! successfully compiled config file, swapped atomically on reload and
//! loaded once per request, so a request never sees two configs.
//!
//! Built only by `config::compile`; read by every pipeline stage.
//!
//! The snapshot is the whole: it holds every stage's settings types and
//! may import them all, while nothing below it imports the snapshot. The
//! tenants (`tenant::Tenant`, the index `tenant::Tenants`) and upstreams
//! (`upstream::Upstream`) are owned by their own modules.
use crate::tenant::{Routing, Tenants};

use crate::tenant::Tenant;
use crate::upstream::Upstream;
use std::collections::HashMap;
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
    /// The SHA-256 of the admin API's bearer token (`[admin] token_hash`);
    /// `None`: the admin API needs no token (a loopback listener only).
    pub admin_token: Option<[u8; 32]>,
    /// The file this snapshot was compiled from: its hash, when, and the
    /// document with every secret redacted (for the admin API).
    pub loaded: Loaded,
    /// The tenants, by id and by host name.
    pub tenants: Tenants,
    /// Upstreams by name.
    pub upstreams: HashMap<String, Arc<Upstream>>,
    /// Rate limits shared by replicas through Redis (`None`: in-process).
    pub shared_limits: Option<Arc<crate::limit::redis::RedisRates>>,
    /// The audit journal's settings (`None`: `[audit] enabled = false`).
    /// Read once at start: a change needs a restart.
    pub audit: Option<crate::audit::AuditSettings>,
    /// Event delivery shared by every tenant.
    pub events: EventsSettings,
    /// Traces (`[telemetry.traces]`; `None`: off). Read once at start.
    pub(crate) traces: Option<crate::traces::TraceSettings>,
    /// Where the config came from (for logs).
    pub source: PathBuf,
    /// What the config holds that works but the operator should know
    /// (`check-config` prints them, `run` logs them), each "location:
    /// message".
    pub warnings: Vec<String>,
}

/// What the admin API shows of the loaded file. Empty for a snapshot
/// compiled from raw types (tests), not read from a file.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// `sha256:<hex>` of the file's bytes.
    pub hash: String,
    /// When it was read.
    pub at: Option<std::time::SystemTime>,
    /// The file as a JSON document, every secret replaced by `"<redacted>"`.
    pub redacted: Arc<serde_json::Value>,
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
    /// SO_REUSEPORT on the listener (fixed at start).
    pub reuse_port: bool,
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
    /// How long readiness fails before the listeners close on shutdown.
    pub drain_delay: Duration,
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
    /// Who a request's client is behind balancers and proxies (PROXY
    /// protocol, `trusted_proxies`).
    pub identity: crate::client_addr::ListenerIdentity,
}

// === impl Snapshot ===

impl Snapshot {
    /// The tenant named `id` ([`Tenants::by_id`]).
    pub fn tenant(&self, id: &str) -> Option<&Arc<Tenant>> {
        self.tenants.by_id(id)
    }

    /// The tenant that owns `host`, any `:port` and case ignored
    /// ([`Tenants::by_host`]).
    pub fn tenant_by_host(&self, host: &str) -> Option<&Arc<Tenant>> {
        self.tenants.by_host(host)
    }

    /// What tenant resolution reads: the tenants and the listener's
    /// routing settings.
    pub fn routing(&self) -> Routing<'_> {
        Routing {
            tenants: &self.tenants,
            base_path: &self.server.base_path,
            path_routing: self.server.path_routing,
            listener_hosts: &self.server.hosts,
        }
    }
}
