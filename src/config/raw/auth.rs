//! Raw sections of a tenant's inbound authentication and grants:
//! `[[tenants.tokens]]`, `[tenants.jwt]`, `[tenants.introspection]`,
//! `[tenants.mtls]` and `[[tenants.grants]]`.
use serde::Deserialize;

/// `[[tenants.tokens]]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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

/// `[tenants.jwt]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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

/// `[tenants.mtls]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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

/// `[[tenants.grants]]`: who may do what. A grant applies to a client that
/// has one of its `scopes`, one of the `values` of its `claim`, or is one
/// of its `credentials`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
