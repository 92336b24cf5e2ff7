//! The SCIM face a tenant's IdP sees: the tenant-facing schemas (RFC 7643
//! core plus the extensions configured for the tenant), the mapping table
//! from them to the upstream's own schema, and the capabilities the
//! gateway advertises. Compiled from `[tenants.schema]` (see
//! `config/compile_schema.rs`); used by the schema stage of the pipeline
//! (`stack/schema_stage.rs`) to validate and map requests and answer
//! discovery.
use crate::mapping::CompiledMapping;
use crate::scim::bulk::BulkLimits;
use crate::scim::discovery::Capabilities;
use crate::scim::schema::SchemaRegistry;
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
        }
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
        }
    }
}
