//! Tenants: what one tenant is ([`Tenant`]: its hosts, upstream,
//! authentication, limits, cache, dialect, schema and journal settings),
//! the index of a config's tenants by id and host ([`Tenants`]), which
//! tenant a request is for ([`resolve`]), host names as requests give
//! them ([`host`]) and the SCIM face each tenant is offered ([`schema`]).
//!
//! A tenant holds the settings of every stage that serves it, so this
//! folder may import those stages' settings types (`authn`, `limit`,
//! `cache`, `creates`, `dialect`, `events`, `upstream`, `telemetry` handles) and the
//! pure cores; never the snapshot (which holds the tenants) or the
//! config (which compiles them).
pub(crate) mod host;
mod index;
pub(crate) mod resolve;
pub(crate) mod schema;

pub(crate) use host::valid_host_name;
pub(crate) use index::Tenants;
pub(crate) use resolve::{resolve_tenant, Origin, Routing};

use crate::authn::{StaticToken, TenantAuth};
use crate::tenant_id::TenantId;
use crate::upstream::Upstream;
use std::sync::Arc;

/// One tenant.
#[derive(Debug)]
pub struct Tenant {
    pub id: TenantId,
    /// Lower-cased host names that select this tenant.
    pub hosts: Vec<String>,
    pub upstream: Arc<Upstream>,
    /// How its clients authenticate (tokens, JWTs, introspection, client
    /// certificates) and what they may do (grants).
    pub auth: TenantAuth,
    /// Rate limits and the concurrency cap of the tenant.
    pub limits: crate::limit::Limits,
    /// Response caching, where enabled.
    pub cache: Option<crate::cache::CacheSettings>,
    /// The IdP dialect normalized, where configured.
    pub dialect: Option<crate::dialect::TenantDialect>,
    /// The deprovisioning guardrail (`[tenants.guardrail]`), when on.
    pub guardrail: Option<crate::guardrail::GuardrailSettings>,
    /// Idempotent creates (off by default).
    pub creates: crate::creates::CreateSettings,
    /// The shadow upstream (`[tenants.shadow]`), when on.
    pub shadow: Option<Arc<ShadowTarget>>,
    /// The tenant-facing schemas, validation and mapping.
    pub schema: Arc<schema::TenantSchema>,
    /// What the tenant's audit records keep and where its events go.
    pub journal: TenantJournal,
    /// Request metric handles (filled on first use).
    pub metrics: crate::telemetry::handles::TenantMetrics,
}

/// Where a shadowed tenant's copies go: the shadow upstream with the
/// schema (and mapping) it is spoken to in, as a tenant of its own that
/// shares the tenant's id and nothing else (no credentials, limits,
/// cache, guardrail or events: a copy is not the IdP's request).
#[derive(Debug)]
pub struct ShadowTarget {
    pub settings: crate::shadow::ShadowSettings,
    pub tenant: Tenant,
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
    /// Drift reports, where enabled (`[tenants.drift]`).
    pub drift: Option<crate::drift::DriftSettings>,
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
            auth: TenantAuth {
                tokens,
                ..Default::default()
            },
            limits: Default::default(),
            cache: None,
            dialect: None,
            guardrail: None,
            creates: Default::default(),
            shadow: None,
            schema: schema::TenantSchema::shared_standard(),
            journal: Default::default(),
            metrics: Default::default(),
        }
    }
}

#[cfg(test)]
pub(crate) use resolve::tests;
