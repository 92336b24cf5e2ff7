//! The SCIM face a tenant's IdP sees: the tenant-facing schemas (RFC 7643
//! core plus the extensions configured for the tenant), the mapping table
//! from them to the upstream's own schema, and the capabilities the
//! gateway advertises. Compiled from `[tenants.schema]` (see
//! `config/compile/schema.rs`); used by the schema stage of the pipeline
//! (`stack/schema_stage/`) to validate and map requests and answer
//! discovery. The capabilities are fitted to the tenant's upstream at
//! compile time ([`TenantSchema::capabilities_for`]): what it supports
//! natively or the gateway emulates, with the bounds that apply.
use crate::mapping::CompiledMapping;
use crate::scim::bulk::BulkLimits;
use crate::scim::discovery::Capabilities;
use crate::scim::schema::SchemaRegistry;
use crate::upstream::emulate::Support;
use crate::upstream::{Upstream, UpstreamProtocol, UpstreamTarget};
use std::sync::{Arc, OnceLock};

/// A tenant's SCIM face. Immutable; shared (one `Arc`) by every tenant
/// that configures nothing.
#[derive(Debug)]
pub struct TenantSchema {
    /// The tenant-facing schemas and resource types.
    pub registry: SchemaRegistry,
    /// Tenant-facing → upstream rewrites, when configured.
    pub mapping: Option<CompiledMapping>,
    /// Whether requests are validated at the gateway (default true).
    pub validate: bool,
    /// What `/ServiceProviderConfig` says: the gateway's own capabilities.
    pub capabilities: Capabilities,
    /// The Bulk limits the gateway enforces (also advertised).
    pub bulk: BulkLimits,
    /// Most operations in one PATCH (`[server] max_patch_operations`).
    pub max_patch_operations: usize,
}

impl TenantSchema {
    /// Core schemas, no mapping, validation on. `max_body` is the request
    /// body cap (the largest Bulk payload).
    pub fn standard(max_body: usize) -> TenantSchema {
        TenantSchema::new(SchemaRegistry::builtin(), None, true, max_body)
    }

    /// [`TenantSchema::standard`] with the default 2 MiB body cap, built
    /// once per process (for tenants made in code and tests).
    pub fn shared_standard() -> Arc<TenantSchema> {
        static STANDARD: OnceLock<Arc<TenantSchema>> = OnceLock::new();
        STANDARD
            .get_or_init(|| Arc::new(TenantSchema::standard(2 * 1024 * 1024)))
            .clone()
    }

    /// The same face without Bulk (for backends the gateway cannot yet
    /// run a Bulk request against).
    pub fn without_bulk(&self) -> TenantSchema {
        TenantSchema {
            registry: self.registry.clone(),
            mapping: self.mapping.clone(),
            validate: self.validate,
            capabilities: crate::scim::discovery::Capabilities {
                bulk: None,
                ..self.capabilities.clone()
            },
            bulk: self.bulk,
            max_patch_operations: self.max_patch_operations,
        }
    }

    /// The same face as served in front of `upstream`: see
    /// [`TenantSchema::capabilities_for`].
    pub fn for_upstream(&self, upstream: &Upstream) -> TenantSchema {
        let (capabilities, bulk) = self.capabilities_for(upstream);
        TenantSchema {
            registry: self.registry.clone(),
            mapping: self.mapping.clone(),
            validate: self.validate,
            capabilities,
            bulk,
            max_patch_operations: self.max_patch_operations,
        }
    }

    /// What the gateway offers this tenant in front of `upstream` (its
    /// `/ServiceProviderConfig`, RFC 7643 §5), and the Bulk limits it then
    /// enforces. A capability is supported when the upstream has it or the
    /// gateway emulates it (`upstream::emulate`: PATCH, Bulk, filtering,
    /// ETags; sorting comes with filtering), so for a SCIM 2.0 upstream all
    /// are; the bounds are the tighter of what the upstream and the
    /// emulation allow:
    /// - `bulk.maxOperations`: the gateway's own cap, lowered to
    ///   `bulk_max_operations` when Bulk may be emulated (`bulk = false`,
    ///   or `"auto"` on an HTTP upstream) and to the built-in store's cap
    ///   when the store runs it; `maxPayloadSize` is the request body cap.
    /// - `filter.maxResults`: `filter_max_results` when the gateway may
    ///   evaluate a filter itself (`filter = false`, `"auto"` on an HTTP
    ///   upstream, or a mapping table with `emulate = true`), the built-in
    ///   store's cap when it filters, and at most both.
    ///
    /// A SCIM 1.1 upstream gets no Bulk (not translated), and no emulation
    /// (its own stage handles what 1.1 lacks): the rest stays as it is.
    pub fn capabilities_for(&self, upstream: &Upstream) -> (Capabilities, BulkLimits) {
        let mut caps = self.capabilities.clone();
        let mut bulk = self.bulk;
        if upstream.protocol == UpstreamProtocol::Scim11 {
            caps.bulk = None;
            return (caps, bulk);
        }
        let s = &upstream.emulation.settings;
        let store = match &upstream.target {
            UpstreamTarget::Builtin(store) => Some(store.config()),
            UpstreamTarget::Http(_) => None,
        };
        // `"auto"` in front of the built-in store needs no emulation.
        let emulated = |support: Support| match support {
            Support::Yes => false,
            Support::No => true,
            Support::Auto => store.is_none(),
        };
        caps.patch = true;
        caps.etag = true;
        caps.sort = true;
        if emulated(s.bulk) {
            bulk.max_operations = bulk.max_operations.min(s.bulk_max_operations);
        } else if let Some(store) = store {
            bulk.max_operations = bulk.max_operations.min(store.bulk.max_operations);
        }
        caps.bulk = Some(bulk);
        let table_emulates = self
            .mapping
            .as_ref()
            .is_some_and(|t| t.resources().any(|m| m.emulates()));
        let native = store.map(|store| store.max_results);
        let max_results = match (emulated(s.filter) || table_emulates, native) {
            (true, Some(native)) => native.min(s.filter_max_results),
            (true, None) => s.filter_max_results,
            (false, Some(native)) => native,
            (false, None) => caps.filter_max_results.unwrap_or(s.filter_max_results),
        };
        caps.filter_max_results = Some(max_results);
        (caps, bulk)
    }

    pub fn new(
        registry: SchemaRegistry,
        mapping: Option<CompiledMapping>,
        validate: bool,
        max_body: usize,
    ) -> TenantSchema {
        let bulk = BulkLimits {
            max_operations: 1000,
            max_payload_size: max_body,
        };
        let capabilities = Capabilities {
            bulk: Some(bulk),
            ..Capabilities::default()
        };
        TenantSchema {
            registry,
            mapping,
            validate,
            capabilities,
            bulk,
            max_patch_operations: crate::scim::patch::DEFAULT_MAX_OPERATIONS,
        }
    }

    /// The same with another PATCH operation cap.
    pub fn with_max_patch_operations(self, max: usize) -> TenantSchema {
        TenantSchema {
            max_patch_operations: max,
            ..self
        }
    }
}

#[cfg(test)]
mod tests;
