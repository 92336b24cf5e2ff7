//! Raw sections of a tenant: `[[tenants]]` with its `schema`, `dialect`,
//! `cache` and `tls` (its inbound credentials are in `auth`).
use super::{
    GrantSection, IntrospectionSection, JwtSection, LimitsSection, MtlsSection, TenantAuditSection,
    TenantEventsSection, TokenSection,
};
use serde::Deserialize;

/// `[[tenants]]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
    /// Idempotent creates: a refused duplicate answered with the existing
    /// resource, a retried create answered without a second one.
    pub creates: Option<CreatesSection>,
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
    /// Drift reports: digests of what the gateway wrote, compared with the
    /// upstream by a run.
    pub drift: Option<super::TenantDriftSection>,
    /// Okta Event Hooks received at `/tenants/{id}/hooks/okta` (or
    /// `/hooks/okta` on the tenant's hosts).
    pub okta_hook: Option<crate::events::okta_hook::OktaHookConfig>,
    /// At most so many deprovisions per window; past it they are held
    /// for an operator (docs/safety.md). Needs the audit journal.
    pub guardrail: Option<GuardrailSection>,
    /// A second upstream that gets a copy of every write (and optionally
    /// read) after the primary answered; the answers are compared
    /// (docs/safety.md). Needs the audit journal.
    pub shadow: Option<ShadowSection>,
}

/// `[tenants.shadow]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowSection {
    /// The `[upstreams.NAME]` that gets the copies.
    pub upstream: String,
    /// The mapping table the shadow is spoken to in: absent, the tenant's
    /// own (`[tenants.schema] mapping`); `"none"`, no mapping; else a
    /// table file.
    pub mapping: Option<String>,
    /// Also mirror reads (GET, searches). Default false.
    pub reads: Option<bool>,
    /// Copies waiting at most (1 to 1000000); past it a copy is dropped
    /// and counted. Default 10000.
    pub queue: Option<usize>,
    /// Attribute paths never compared (`"meta.created"`, `"title"`),
    /// beside the volatile ones.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// The roles swapped: the IdP is answered by this upstream, and the
    /// tenant's `upstream` gets the copies. Default false.
    pub cutover: Option<bool>,
    /// Send the copies. Default true; false keeps only the id map in use
    /// (after a cutover, once the former backend is retired).
    pub mirror: Option<bool>,
}

/// `[tenants.guardrail]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailSection {
    /// Deprovisions (User deletes, `active` set to false, removals from
    /// the privileged groups) allowed per window.
    pub max_deprovisions: u32,
    /// The sliding window. Default `"1h"`.
    pub window: Option<String>,
    /// `"hold"` (the default) or `"dry_run"` (count and log, hold
    /// nothing).
    pub mode: Option<String>,
    /// Group ids whose member removals count as deprovisions.
    #[serde(default)]
    pub privileged_groups: Vec<String>,
    /// `Retry-After` of a held request. Default `"10m"`.
    pub retry_after: Option<String>,
}

/// `[tenants.schema]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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

/// `[tenants.creates]` (docs/safety.md, "Idempotent creates")
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatesSection {
    /// What a POST to /Users or /Groups that the upstream refuses with 409
    /// `uniqueness` gets: `"error"` (the 409, the default) or `"existing"`
    /// (the one existing resource with the request's `userName`, else
    /// `externalId`, or Group `displayName`, answered 200).
    pub on_conflict: Option<String>,
    /// How long a create is remembered: the same create (same body, after
    /// the dialect and the schema) again within it is answered with the
    /// resource the first one made, never sent upstream. Default `"0s"`
    /// (off).
    pub replay_window: Option<String>,
    /// The most creates the window remembers for the tenant (the oldest
    /// are forgotten first). Default 10000.
    pub replay_max_entries: Option<usize>,
}

/// `[tenants.tls]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantTlsSection {
    /// PEM certificate chain for the tenant's host names.
    pub cert_file: String,
    /// PEM private key of `cert_file`.
    pub key_file: String,
}
