//! The raw configuration: a serde mirror of `gateway.toml`
//! (`deny_unknown_fields` everywhere, a doc comment on every key). Only
//! `compile` reads these types; runtime code sees the compiled snapshot.
//!
//! Durations are strings such as `"10s"`, `"250ms"`, `"2m"`. Secrets are
//! never written inline: they are named by environment variable (`*_env`)
//! or file (`*_file`), or stored as hashes.
use serde::Deserialize;
use std::collections::BTreeMap;

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
    /// Close a keep-alive connection idle this long. Default `"60s"`.
    pub idle_timeout: Option<String>,
    /// Whole-request deadline, upstream call included. Default `"60s"`.
    pub request_timeout: Option<String>,
    /// Largest request body, bytes (413 beyond). Default 2 MiB.
    pub max_request_body_bytes: Option<usize>,
    /// Largest upstream response body, bytes (502 beyond). Default 32 MiB.
    pub max_response_body_bytes: Option<usize>,
    /// On SIGTERM/SIGINT, how long in-flight requests may take. Default `"20s"`.
    pub shutdown_timeout: Option<String>,
    /// Tenant by path: `/tenants/{id}/scim/v2/...`. Default true.
    pub path_routing: Option<bool>,
    /// The SCIM base path under a tenant host name. Default `"/scim/v2"`.
    pub base_path: Option<String>,
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
    /// `kind = "http"`: PEM bundle of CAs to trust instead of the public roots.
    pub ca_file: Option<String>,
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
}

/// `[upstreams.NAME.auth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamAuthSection {
    /// `"bearer"`, `"basic"` or `"none"`.
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
}

/// `[[tenants.tokens]]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSection {
    /// A name for logs and metrics (never the token).
    pub name: String,
    /// What `scim-gateway hash-token` prints: `sha256:<64 hex>`.
    pub hash: String,
}
