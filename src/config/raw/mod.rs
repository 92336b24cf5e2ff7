//! The raw configuration: a serde mirror of `gateway.toml`
//! (`deny_unknown_fields` everywhere, a doc comment on every key). Only
//! `compile` reads these types; runtime code sees the compiled snapshot.
//!
//! Durations are strings such as `"10s"`, `"250ms"`, `"2m"`. Secrets are
//! never written inline: they are named by environment variable (`*_env`)
//! or file (`*_file`), or stored as hashes.
use serde::Deserialize;
use std::collections::BTreeMap;

mod endpoints;
pub use endpoints::{HealthSection, OutlierSection};

/// The whole file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The public listener.
    #[serde(default)]
    pub server: ServerSection,
    /// The admin listener (`/healthz`, `/readyz`, `/metrics`).
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
}

/// `[audit]` (on by default: an absent section means every default).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// Default true. `false` turns off the audit log, the events outbox and
    /// every sink (events need the journal).
    pub enabled: Option<bool>,
    /// Directory of the audit files (relative to this file). Default
    /// `"audit"`. The outbox, sink cursors and dead letters live under it.
    pub dir: Option<String>,
    /// `"interval"` (default) or `"per_record"`.
    pub fsync: Option<crate::audit::FsyncPolicy>,
    /// Under `fsync = "interval"`, how often written records are fsynced.
    /// Default `"100ms"`.
    pub fsync_interval: Option<String>,
    /// Rotate an audit file before it grows past this. Default 64 MiB.
    pub max_file_bytes: Option<u64>,
    /// ... or once it is this old. Default `"24h"`.
    pub max_file_age: Option<String>,
    /// Rotate an outbox segment before it grows past this. Default 8 MiB.
    pub outbox_segment_bytes: Option<u64>,
    /// Records that may wait for the writer. Default 8192.
    pub queue: Option<usize>,
}

/// `[events]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EventsSection {
    /// How often sinks look for new events when nothing woke them.
    /// Default `"250ms"`.
    pub poll_interval: Option<String>,
    /// One Kafka sink that takes every tenant's events.
    pub kafka: Option<crate::events::kafka::KafkaSettings>,
}

/// `[tenants.events]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TenantEventsSection {
    /// `"resource"` (default: the resource after the write, as the tenant
    /// sees it) or `"changes"` (only the attributes the write touched).
    pub data: Option<crate::events::EventData>,
}

/// `[tenants.audit]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TenantAuditSection {
    /// Attributes whose values are kept in audit records (the rest are
    /// named only): e.g. `["active", "userName"]`.
    #[serde(default)]
    pub values: Vec<String>,
}

/// `[limits]`
#[derive(Debug, Clone, Deserialize)]
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
}

/// `[server]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on, e.g. `"127.0.0.1:8443"`.
    pub listen: Option<String>,
    /// TLS settings; required unless `plaintext = true`.
    pub tls: Option<TlsSection>,
    /// Serve plain HTTP (only behind a TLS-terminating load balancer).
    #[serde(default)]
    pub plaintext: bool,
    /// Time allowed for a client to send the request headers. Default `"10s"`.
    pub header_read_timeout: Option<String>,
    /// Largest request head (request line plus headers), bytes. Default 16384.
    pub max_header_bytes: Option<usize>,
    /// Most concurrent client connections. Default 4096.
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
}

/// `[server.tls]`
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Address of the admin listener (plain HTTP; keep it private), e.g.
    /// `"127.0.0.1:9464"`.
    pub listen: String,
}

/// `[upstreams.NAME]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSection {
    /// `"http"` (a remote SCIM server) or `"builtin"` (the in-process store).
    pub kind: String,
    /// `kind = "http"`: the SCIM base URL, e.g. `"https://app.internal/scim/v2"`.
    pub url: Option<String>,
    /// `kind = "http"`: several endpoints of one service instead of `url`,
    /// e.g. `["https://a.internal/scim/v2", "https://b.internal/scim/v2"]`,
    /// balanced by least outstanding requests.
    pub urls: Option<Vec<String>>,
    /// `urls`: active health checks of each endpoint.
    pub health: Option<HealthSection>,
    /// `urls`: passive outlier ejection on real traffic.
    pub outlier: Option<OutlierSection>,
    /// `kind = "http"`: PEM bundle of CAs to trust instead of the public roots.
    pub ca_file: Option<String>,
    /// `kind = "http"`: a client certificate chain (PEM) presented to an
    /// HTTPS upstream that requires mTLS.
    pub client_cert_file: Option<String>,
    /// The key of `client_cert_file` (PEM).
    pub client_key_file: Option<String>,
    /// Time to establish a connection (TCP and TLS). Default `"5s"`.
    pub connect_timeout: Option<String>,
    /// Time for the upstream to answer. Default `"30s"`.
    pub request_timeout: Option<String>,
    /// Idle pooled connections per upstream host. Default 64.
    pub pool_max_idle: Option<usize>,
    /// The credential the gateway presents upstream.
    pub auth: Option<UpstreamAuthSection>,
    /// `kind = "builtin"`: the most resources held. Default 100000.
    pub max_resources: Option<usize>,
    /// Limits protecting this upstream, over all tenants that use it.
    pub limits: Option<LimitsSection>,
    /// Retries and the circuit breaker.
    pub resilience: Option<ResilienceSection>,
    /// `kind = "http"`: the protocol the upstream speaks: `"scim2"`
    /// (default) or `"scim1.1"` (translated both ways by the gateway).
    pub dialect: Option<String>,
    /// What the upstream supports; the gateway emulates the rest.
    pub capabilities: Option<CapabilitiesSection>,
}

/// `true`, `false` or `"auto"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Toggle {
    Bool(bool),
    Text(String),
}

/// `[upstreams.NAME.capabilities]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitiesSection {
    /// PATCH: `true`, `false` (the gateway does GET + PUT) or `"auto"`
    /// (read from /ServiceProviderConfig). Default `"auto"`.
    pub patch: Option<Toggle>,
    /// Bulk: `false` = the gateway runs the operations one by one.
    pub bulk: Option<Toggle>,
    /// Filtering: `false` = the gateway pages through and filters.
    pub filter: Option<Toggle>,
    /// ETags: `false` = the gateway derives them and checks preconditions.
    pub etag: Option<Toggle>,
    /// Most operations in one emulated Bulk request. Default 1000.
    pub bulk_max_operations: Option<usize>,
    /// Most upstream pages read for one emulated filter. Default 20.
    pub filter_max_pages: Option<usize>,
    /// Resources asked for per upstream page. Default 100.
    pub filter_page_size: Option<usize>,
    /// Most resources in one emulated list response. Default 1000.
    pub filter_max_results: Option<usize>,
    /// GET + apply + PUT attempts per emulated PATCH. Default 3.
    pub patch_attempts: Option<usize>,
    /// How long a read /ServiceProviderConfig is trusted. Default `"10m"`.
    pub discovery_ttl: Option<String>,
}

/// `[upstreams.NAME.resilience]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResilienceSection {
    /// Attempts in all for GET, HEAD, PUT, DELETE (1 = no retries). Default 3.
    pub attempts: Option<u32>,
    /// First retry's backoff (doubling, with jitter). Default `"50ms"`.
    pub backoff: Option<String>,
    /// Longest backoff. Default `"1s"`.
    pub max_backoff: Option<String>,
    /// Retries allowed per request on average (0.2 = a fifth). Default 0.2.
    pub retry_budget: Option<f64>,
    /// Longest upstream `Retry-After` (on 429) waited for. Default `"2s"`.
    pub retry_after_cap: Option<String>,
    /// Consecutive failures that open the circuit; 0 = no breaker. Default 5.
    pub breaker_failures: Option<u32>,
    /// How long an open circuit refuses requests. Default `"10s"`.
    pub breaker_open_for: Option<String>,
}

/// `[upstreams.NAME.auth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamAuthSection {
    /// `"bearer"`, `"basic"`, `"oauth2"` (client credentials) or `"none"`.
    pub kind: String,
    /// `bearer`: environment variable holding the token.
    pub token_env: Option<String>,
    /// `bearer`: file holding the token.
    pub token_file: Option<String>,
    /// `basic`: the user name.
    pub username: Option<String>,
    /// `basic`: environment variable holding the password.
    pub password_env: Option<String>,
    /// `basic`: file holding the password.
    pub password_file: Option<String>,
    /// `oauth2`: the token endpoint.
    pub token_url: Option<String>,
    /// `oauth2`: the gateway's client id.
    pub client_id: Option<String>,
    /// `oauth2`: environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// `oauth2`: file holding the client secret.
    pub client_secret_file: Option<String>,
    /// `oauth2`: scopes requested.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `oauth2`: `audience` parameter (Auth0, Okta custom servers).
    pub audience: Option<String>,
    /// `oauth2`: `resource` parameter (RFC 8707, Entra v1).
    pub resource: Option<String>,
    /// `oauth2`: `"client_secret_basic"` (default) or `"client_secret_post"`.
    pub auth_method: Option<String>,
    /// `oauth2`: PEM bundle of CAs for the token endpoint.
    pub ca_file: Option<String>,
    /// `oauth2`: renew this long before expiry. Default `"60s"`.
    pub refresh_before: Option<String>,
}

/// `[[tenants]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSection {
    /// The tenant id: `[a-z0-9-]`, used in paths, logs and metrics.
    pub id: String,
    /// Host names that select this tenant (matched ignoring case and port).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// The name of an `[upstreams.NAME]` section.
    pub upstream: String,
    /// Accepted bearer tokens (several at once for rotation).
    #[serde(default)]
    pub tokens: Vec<TokenSection>,
    /// OAuth 2.0 JWT bearer tokens from an issuer.
    pub jwt: Option<JwtSection>,
    /// Opaque bearer tokens checked by RFC 7662 introspection.
    pub introspection: Option<IntrospectionSection>,
    /// Permissions; none = every authenticated client may do everything.
    #[serde(default)]
    pub grants: Vec<GrantSection>,
    /// The tenant's own server certificate, served for its host names (SNI).
    pub tls: Option<TenantTlsSection>,
    /// Client certificates (mTLS) from the tenant's own CAs.
    pub mtls: Option<MtlsSection>,
    /// Rate limits and a concurrency cap for the tenant.
    pub limits: Option<LimitsSection>,
    /// Caching of GET answers for the tenant.
    pub cache: Option<CacheSection>,
    /// The IdP dialect normalized for this tenant.
    pub dialect: Option<DialectSection>,
    /// The tenant-facing schemas, validation and the mapping table.
    pub schema: Option<SchemaSection>,
    /// Webhook endpoints that receive the tenant's change events.
    #[serde(default)]
    pub webhooks: Vec<crate::events::WebhookSettings>,
    /// What the tenant's change events carry.
    pub events: Option<TenantEventsSection>,
    /// What the tenant's audit records keep.
    pub audit: Option<TenantAuditSection>,
    /// Okta Event Hooks received at `/tenants/{id}/hooks/okta` (or
    /// `/hooks/okta` on the tenant's hosts).
    pub okta_hook: Option<crate::events::okta_hook::OktaHookConfig>,
}

/// `[tenants.schema]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaSection {
    /// Validate requests at the gateway. Default true.
    pub validate: Option<bool>,
    /// A directory of RFC 7643 §7 schema files (`*.json`): custom
    /// extensions, published in /Schemas.
    pub schemas_dir: Option<String>,
    /// Extensions per resource type: `{ User = ["urn:..."] }`.
    #[serde(default)]
    pub extensions: std::collections::BTreeMap<String, Vec<String>>,
    /// A mapping table file (`config/mappings/NAME.toml`).
    pub mapping: Option<String>,
}

/// `[tenants.dialect]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialectSection {
    /// `"entra"`, `"okta"`, `"generic"` or `"auto"`. Default `"generic"`.
    pub profile: Option<String>,
    /// Rules to switch on beyond the profile's (names as in the docs).
    #[serde(default)]
    pub enable: Vec<String>,
    /// Rules of the profile to switch off.
    #[serde(default)]
    pub disable: Vec<String>,
    /// Log and count what would change, change nothing. Default false.
    #[serde(default)]
    pub shadow: bool,
}

/// `[tenants.cache]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSection {
    /// Default true when the section is present.
    pub enabled: Option<bool>,
    /// TTL of resources and lists. Default `"30s"`.
    pub ttl: Option<String>,
    /// TTL of /ServiceProviderConfig, /Schemas, /ResourceTypes. Default `"5m"`.
    pub discovery_ttl: Option<String>,
    /// Bytes of this tenant's cached answers. Default 16 MiB (at most
    /// `server.cache_max_bytes`).
    pub max_bytes: Option<usize>,
}

/// `[tenants.limits]` and `[upstreams.NAME.limits]`
#[derive(Debug, Clone, Deserialize)]
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

/// `[tenants.tls]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantTlsSection {
    /// PEM certificate chain for the tenant's host names.
    pub cert_file: String,
    /// PEM private key of `cert_file`.
    pub key_file: String,
}

/// `[tenants.mtls]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsSection {
    /// PEM bundles of the CAs whose client certificates this tenant accepts.
    pub ca_files: Vec<String>,
    /// Certificate revocation lists (PEM or DER) of those CAs.
    #[serde(default)]
    pub crl_files: Vec<String>,
    /// What a CRL past its `nextUpdate` does: `"deny"` (default: refuse
    /// the certificates it covers) or `"allow"` (use it as if current).
    pub crl_expired: Option<String>,
    /// Whether a certificate is required (else optional, checked when
    /// sent). Default true.
    pub required: Option<bool>,
    /// Accepted subjects, e.g. `"CN=okta-provisioning,O=Acme"`.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Accepted subject alternative names, e.g. `"DNS:idp.acme.example"`.
    #[serde(default)]
    pub sans: Vec<String>,
    /// Accepted certificate SHA-256 fingerprints (hex).
    #[serde(default)]
    pub sha256: Vec<String>,
}

/// `[tenants.jwt]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSection {
    /// Accepted `iss` values, exactly as the issuer writes them.
    pub issuers: Vec<String>,
    /// Accepted `aud` values (at least one must be in the token).
    pub audiences: Vec<String>,
    /// Accepted algorithms. Default all of RS256, PS256, ES256, EdDSA.
    pub algorithms: Option<Vec<String>>,
    /// Where the keys are. Default: OIDC discovery from the (single) issuer.
    pub jwks_uri: Option<String>,
    /// PEM bundle of CAs for the key and discovery URLs.
    pub ca_file: Option<String>,
    /// Clock skew allowed on `exp`, `nbf`, `iat`. Default `"60s"`.
    pub leeway: Option<String>,
    /// Claims every token must carry.
    #[serde(default)]
    pub required_claims: Vec<String>,
    /// The claim that names the subject in logs. Default `"sub"`.
    pub subject_claim: Option<String>,
    /// How long fetched keys are used before a refresh. Default `"10m"`.
    pub jwks_ttl: Option<String>,
    /// An unknown `kid` refreshes the keys at most this often. Default `"30s"`.
    pub jwks_min_refresh_interval: Option<String>,
    /// Keys kept past their TTL while the issuer is unreachable. Default `"24h"`.
    pub jwks_stale_grace: Option<String>,
}

/// `[tenants.introspection]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionSection {
    /// The RFC 7662 endpoint.
    pub endpoint: String,
    /// The gateway's own client id at the authorization server.
    pub client_id: String,
    /// Environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// File holding the client secret.
    pub client_secret_file: Option<String>,
    /// PEM bundle of CAs for the endpoint.
    pub ca_file: Option<String>,
    /// Longest time an active answer is reused (never past `exp`). Default `"5m"`.
    pub cache_max_ttl: Option<String>,
    /// How long an inactive answer is reused. Default `"10s"`.
    pub negative_ttl: Option<String>,
    /// Time for the endpoint to answer. Default `"5s"`.
    pub timeout: Option<String>,
    /// Required `iss` of active tokens, if any.
    pub issuer: Option<String>,
    /// Accepted `aud` values of active tokens, if any.
    #[serde(default)]
    pub audiences: Vec<String>,
}

/// `[[tenants.grants]]`: who may do what. A grant applies to a client that
/// has one of its `scopes`, one of the `values` of its `claim`, or is one
/// of its `credentials`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantSection {
    /// OAuth scopes (JWT `scope`/`scp`/`roles`, introspection `scope`,
    /// static token `scopes`).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// A JWT claim whose value (string or array) must hold one of `values`.
    pub claim: Option<String>,
    #[serde(default)]
    pub values: Vec<String>,
    /// Credentials, each with its method: `static:NAME`, `jwt:CLIENT_ID`,
    /// `introspection:CLIENT_ID`, `cert:SUBJECT`.
    #[serde(default)]
    pub credentials: Vec<String>,
    /// Resource types (`Users`, `Groups`, `Bulk`, any the upstream
    /// declares) or `"*"`.
    pub resources: Vec<String>,
    /// HTTP methods, `"read"` (GET, HEAD, POST to /.search), `"write"`
    /// (POST, PUT, PATCH, DELETE) or `"*"`.
    pub methods: Vec<String>,
}

/// `[[tenants.tokens]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSection {
    /// A name for logs and metrics (never the token).
    pub name: String,
    /// What `scim-gateway hash-token` prints: `sha256:<64 hex>`.
    pub hash: String,
    /// Scopes the token carries, for `[[tenants.grants]]`.
    #[serde(default)]
    pub scopes: Vec<String>,
}
