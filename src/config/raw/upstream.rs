//! Raw sections of an upstream: `[upstreams.NAME]` with its
//! `capabilities`, `resilience` and `auth` (the several-endpoint sections
//! are in `endpoints`).
use super::{HealthSection, LimitsSection, OutlierSection};
use serde::Deserialize;

/// `[upstreams.NAME]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Toggle {
    Bool(bool),
    Text(String),
}

/// `[upstreams.NAME.capabilities]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
