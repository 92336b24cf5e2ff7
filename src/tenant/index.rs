//! The tenants of one config, found by id ([`Tenants::by_id`], for
//! path routing and the runners) or by host name ([`Tenants::by_host`],
//! for every request that names its tenant's host). Two hash maps over the
//! same `Arc`s: one lookup per request, however many tenants there are.
//! Imports the tenant beside it and the ground `TenantId`.
use super::host::strip_port;
use super::Tenant;
use crate::tenant_id::TenantId;
use std::collections::HashMap;
use std::sync::Arc;

/// The tenants of a snapshot.
#[derive(Debug, Default)]
pub struct Tenants {
    /// Tenants by id.
    by_id: HashMap<TenantId, Arc<Tenant>>,
    /// Tenants by lower-cased host name without port.
    by_host: HashMap<String, Arc<Tenant>>,
    /// Some tenant remembers creates for replays (`[tenants.creates]
    /// replay_window`): its creates must not be cancelled by a client that
    /// hangs up (`stack::Gateway`).
    replays_creates: bool,
}

impl Tenants {
    pub fn new() -> Tenants {
        Tenants::default()
    }

    /// Adds `tenant` under its id and each of its (lower-cased) host
    /// names. `false`, and nothing added, when its id is taken.
    pub fn insert(&mut self, tenant: Arc<Tenant>) -> bool {
        if self.by_id.contains_key(tenant.id.as_str()) {
            return false;
        }
        for h in &tenant.hosts {
            self.by_host.insert(h.clone(), tenant.clone());
        }
        self.replays_creates |= tenant.creates.replay_window.is_some();
        self.by_id.insert(tenant.id.clone(), tenant);
        true
    }

    /// Whether some tenant remembers creates for replays.
    pub fn replays_creates(&self) -> bool {
        self.replays_creates
    }

    /// The tenant named `id`.
    pub fn by_id(&self, id: &str) -> Option<&Arc<Tenant>> {
        self.by_id.get(id)
    }

    /// The tenant that owns `host` (any `:port` ignored, case ignored).
    pub fn by_host(&self, host: &str) -> Option<&Arc<Tenant>> {
        let name = strip_port(host);
        // Lower-casing allocates: only for a name that needs it.
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_host.get(&name.to_ascii_lowercase())
        } else {
            self.by_host.get(name)
        }
    }

    /// Every tenant, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// `tenants["acme"]`, as for a map: panics when there is no such tenant
/// (tests; the request path uses [`Tenants::by_id`]).
impl std::ops::Index<&str> for Tenants {
    type Output = Arc<Tenant>;

    fn index(&self, id: &str) -> &Arc<Tenant> {
        &self.by_id[id]
    }
}

impl std::ops::Index<&TenantId> for Tenants {
    type Output = Arc<Tenant>;

    fn index(&self, id: &TenantId) -> &Arc<Tenant> {
        &self.by_id[id]
    }
}
