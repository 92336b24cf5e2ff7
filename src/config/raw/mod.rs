//! The raw configuration: a serde mirror of `gateway.toml`
//! (`deny_unknown_fields` everywhere, a doc comment on every key). Only
//! `compile` reads these types; runtime code sees the compiled snapshot.
//!
//! Durations are strings such as `"10s"`, `"250ms"`, `"2m"`. Secrets are
//! never written inline: they are named by environment variable (`*_env`)
//! or file (`*_file`), or stored as hashes.
//!
//! This file holds the whole file and the process-wide sections
//! (`[server]`, `[admin]`, `[limits]`); an upstream's sections are in
//! `upstream` and `endpoints`, a tenant's in `tenant` and `auth`, the audit
//! log's and events' in `events`. Every type is re-exported here, so the
//! compile step names them `config::raw::X`. Of the crate they import
//! only the settings types that deserialize straight from the file (the
//! audit fsync policy, the Kafka and webhook settings, event data).
use serde::Deserialize;
use std::collections::BTreeMap;

mod auth;
mod client_identity;
mod endpoints;
mod events;
mod shared_redis;
mod telemetry;
mod tenant;
mod upstream;
pub(crate) use auth::{GrantSection, IntrospectionSection, JwtSection, MtlsSection, TokenSection};
pub(crate) use client_identity::ProxyProtocolSection;
pub(crate) use endpoints::{HealthSection, OutlierSection};
pub(crate) use events::{
    AuditSection, EventsSection, TenantAuditSection, TenantDriftSection, TenantEventsSection,
};
pub(crate) use shared_redis::{RedisAuthSection, RedisSentinelSection, RedisTlsSection};
pub(crate) use telemetry::TelemetrySection;
pub(crate) use tenant::{
    CacheSection, CreatesSection, DialectSection, GuardrailSection, SchemaSection, ShadowSection,
    TenantSection,
};
pub(crate) use upstream::{
    CapabilitiesSection, ResilienceSection, Toggle, UpstreamAuthSection, UpstreamSection,
};

/// The whole file.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The public listener.
    #[serde(default)]
    pub server: ServerSection,
    /// The admin listener (`/healthz`, `/readyz`, `/metrics`, the admin
    /// API and console).
    #[serde(default)]
    pub admin: Option<AdminSection>,
    /// Named upstreams; tenants refer to them by name.
    #[serde(default)]
    pub upstreams: BTreeMap<String, UpstreamSection>,
    /// The tenants.
    #[serde(default)]
    pub tenants: Vec<TenantSection>,
    /// Where rate limits are kept: this process, or Redis shared by replicas.
    pub limits: Option<SharedLimitsSection>,
    /// The tamper-evident audit log (and the events outbox beside it).
    pub audit: Option<AuditSection>,
    /// Delivery of change events: the dispatcher and the shared Kafka sink.
    pub events: Option<EventsSection>,
    /// Traces (`[telemetry.traces]`).
    pub telemetry: Option<TelemetrySection>,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on, e.g. `"127.0.0.1:8443"`.
    pub listen: Option<String>,
    /// Set SO_REUSEPORT on the listener, so that several gateway processes
    /// on one host share its port (the kernel spreads connections over
    /// them). Default false: a second process on the port fails to start.
    #[serde(default)]
    pub reuse_port: bool,
    /// TLS settings; required unless `plaintext = true`.
    pub tls: Option<TlsSection>,
    /// Serve plain HTTP (only behind a TLS-terminating load balancer).
    #[serde(default)]
    pub plaintext: bool,
    /// Time allowed for a client to send the request headers. Default `"10s"`.
    pub header_read_timeout: Option<String>,
    /// Largest request head (request line plus headers), bytes. Default 16384.
    pub max_header_bytes: Option<usize>,
    /// Most concurrent client connections. Default 16384.
    pub max_connections: Option<usize>,
    /// Close a connection with no request in flight this long. Default `"60s"`.
    pub idle_timeout: Option<String>,
    /// Most concurrent connections from one client IP (IPv6: one /64).
    /// Default 256 (at most `max_connections`).
    pub max_connections_per_ip: Option<usize>,
    /// Most concurrent connections that have not yet carried an
    /// authenticated request. Default half of `max_connections`.
    pub max_anonymous_connections: Option<usize>,
    /// Close a connection that has not carried an authenticated request
    /// this long after it was accepted. Default `"10s"`.
    pub anonymous_timeout: Option<String>,
    /// Bytes of cached answers over all tenants. Default 64 MiB.
    pub cache_max_bytes: Option<usize>,
    /// Whole-request deadline, upstream call included. Default `"60s"`.
    pub request_timeout: Option<String>,
    /// Largest request body, bytes (413 beyond). Default 2 MiB.
    pub max_request_body_bytes: Option<usize>,
    /// Largest upstream response body, bytes (502 beyond). Default 32 MiB.
    pub max_response_body_bytes: Option<usize>,
    /// Most operations in one PATCH request, or in one PATCH of a Bulk
    /// request (400 `tooMany` beyond). Default 1000.
    pub max_patch_operations: Option<usize>,
    /// On SIGTERM/SIGINT, how long in-flight requests may take. Default `"20s"`.
    pub shutdown_timeout: Option<String>,
    /// On SIGTERM/SIGINT (or an admin drain), how long `/readyz` answers
    /// 503 while the listener still serves, so that balancers stop sending
    /// before the port closes. Default `"5s"`; `"0s"` closes at once.
    pub drain_delay: Option<String>,
    /// Tenant by path: `/tenants/{id}/scim/v2/...`. Default true.
    pub path_routing: Option<bool>,
    /// The SCIM base path under a tenant host name. Default `"/scim/v2"`.
    pub base_path: Option<String>,
    /// The host names (optionally `*.` wildcards of one label) on which
    /// path-routed tenants are served. Default: the DNS names and IP
    /// addresses of the `[server.tls]` certificate; with `plaintext = true`,
    /// `localhost`, `127.0.0.1` and `[::1]`.
    pub hosts: Option<Vec<String>>,
    /// Failed authentications per tenant and client IP before 429. Default
    /// 20; 0 turns damping off.
    pub auth_failure_limit: Option<u32>,
    /// The window of `auth_failure_limit`. Default `"1m"`.
    pub auth_failure_window: Option<String>,
    /// Proxies (ranges or addresses) whose `forwarded_header` names the
    /// client. Default none: the connection's peer is the client.
    pub trusted_proxies: Option<Vec<String>>,
    /// The header `trusted_proxies` write: `"x-forwarded-for"` (default)
    /// or `"forwarded"` (RFC 7239). Never both.
    pub forwarded_header: Option<String>,
    /// PROXY protocol from allow-listed balancers on this listener.
    pub proxy_protocol: Option<ProxyProtocolSection>,
}

/// `[server.tls]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain.
    pub cert_file: String,
    /// PEM private key.
    pub key_file: String,
    /// When the two files are missing, make a development CA and a server
    /// certificate for `localhost` and every tenant host (never in
    /// production).
    #[serde(default)]
    pub dev_certs: bool,
}

/// `[admin]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Address of the admin listener (plain HTTP; keep it private), e.g.
    /// `"127.0.0.1:9464"`.
    pub listen: String,
    /// The admin API's bearer token, as `sha256:<hex>` (`scim-gateway
    /// hash-token`); required when `listen` is not a loopback address.
    pub token_hash: Option<String>,
}

/// `[limits]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedLimitsSection {
    /// `"local"` (default) or `"redis"`.
    pub backend: String,
    /// `backend = "redis"`: `redis://host:port/db` (`rediss://` for TLS).
    pub redis_url: Option<String>,
    /// Gateway replicas sharing the limits; each enforces 1/replicas of a
    /// limit while Redis is unreachable. Default 1.
    pub replicas: Option<u32>,
    /// The longest wait for Redis per decision. Default `"50ms"`.
    pub timeout: Option<String>,
    /// Prefix of the Redis keys. Default `"scimgw"`.
    pub key_prefix: Option<String>,
    /// `rediss://`: a private CA, a client certificate.
    pub redis_tls: Option<RedisTlsSection>,
    /// Redis Sentinel: follow the master of a named service.
    pub redis_sentinel: Option<RedisSentinelSection>,
    /// The password (from the environment or a file) and ACL user.
    pub redis_auth: Option<RedisAuthSection>,
}

/// `[tenants.limits]` and `[upstreams.NAME.limits]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Requests per second (fractions allowed, e.g. 0.5).
    pub rate: Option<f64>,
    /// Requests allowed at once above the steady rate. Default: one
    /// second's worth (at least 1).
    pub burst: Option<u32>,
    /// Tenants: requests per second per principal (credential).
    pub principal_rate: Option<f64>,
    /// Tenants: the burst of `principal_rate`. Default one second's worth.
    pub principal_burst: Option<u32>,
    /// Requests in flight at once.
    pub max_concurrent: Option<usize>,
    /// Requests that may wait for a slot instead of getting 429. Default 0.
    pub queue: Option<usize>,
    /// The longest such wait. Default `"1s"`.
    pub queue_timeout: Option<String>,
}
