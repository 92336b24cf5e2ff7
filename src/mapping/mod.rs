//! Schema mapping tables and the rewrites they drive (pure).
//!
//! A mapping table (`config/mappings/NAME.toml`, format in
//! `docs/mapping.md`) maps the tenant-facing schema (what the IdP sees:
//! RFC 7643 core plus configured extensions) to an upstream's own schema,
//! per resource type. The life of a table:
//!
//! 1. [`MappingTable::load`] reads the raw file ([`table`], serde with
//!    `deny_unknown_fields`);
//! 2. [`compile`] checks it against the tenant-facing [`SchemaRegistry`]
//!    and the upstream attributes the table declares, and reports every
//!    inconsistency with its location;
//! 3. the immutable [`CompiledMapping`] then rewrites, per resource type
//!    ([`ResourceMapping`]): resources both ways, ListResponses, Bulk
//!    requests and responses, PATCH requests, filters, `attributes` /
//!    `excludedAttributes`, `sortBy` and error details. Whole resources
//!    also map member by member from their JSON text ([`members`]): only
//!    the members the rules touch are parsed, the rest copied as written.
//!
//! Depends on serde_json, toml and the [`crate::scim`] ASTs only: nothing
//! async. The gateway pipeline calls it after validation (way in) and before
//! projection (way out).
mod compile;
mod endpoint;
mod filter;
mod flat;
mod members;
mod output;
mod patch;
mod query;
mod resolve;
mod resource;
pub(crate) mod table;
mod transform;

pub use compile::compile;
pub use members::{scan_members, RawMember};
pub use patch::patch_to_json;
pub use table::{Case, MappingTable, RuleTable, Transform, Unmapped};

use crate::scim::error::ScimError;
use crate::scim::schema::SchemaRegistry;
use endpoint::Endpoint;
use serde_json::Value;

/// A checked mapping table: immutable, cheap to share.
#[derive(Debug, Clone)]
pub struct CompiledMapping {
    name: String,
    resources: Vec<ResourceMapping>,
}

/// The mapping of one resource type.
#[derive(Debug, Clone)]
pub struct ResourceMapping {
    /// The tenant-facing resource type name (`User`).
    name: String,
    /// Its endpoint (`/Users`).
    endpoint: String,
    tenant_schema: String,
    /// Tenant extension URNs, for `schemas` on the way out.
    tenant_extensions: Vec<String>,
    upstream_schema: String,
    unmapped: Unmapped,
    emulate: bool,
    rules: Vec<Rule>,
    /// Upstream values written on create and replace.
    constants: Vec<(Endpoint, Value)>,
    /// Upstream attributes never shown to the IdP.
    hidden: Vec<Endpoint>,
    /// Tenant attributes never sent upstream.
    never_upstream: Vec<Endpoint>,
    /// The top-level members the rules read and write, each way (the
    /// member-wise path, `members.rs`).
    members: members::MemberPlan,
}

/// A compiled move rule.
#[derive(Debug, Clone)]
struct Rule {
    tenant: Endpoint,
    upstream: Endpoint,
    transforms: Vec<Transform>,
    default: Option<Value>,
    primary: bool,
}

/// Why a rewrite failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingError {
    /// The request cannot be mapped: 400 with `scimType`, naming the
    /// attribute.
    #[error("the request cannot be mapped to the upstream")]
    Scim(#[source] ScimError),
    /// The filter names an attribute the upstream cannot filter on and the
    /// table has `emulate = true`: the gateway must filter itself.
    #[error("the filter names \"{attribute}\", which the upstream cannot filter on")]
    NeedsEmulation { attribute: String },
}

// === impl MappingError ===

impl MappingError {
    /// The SCIM error for the client when the caller does not emulate:
    /// "needs emulation" becomes 400 `invalidFilter` naming the attribute.
    pub fn into_scim(self) -> ScimError {
        match self {
            MappingError::Scim(e) => e,
            MappingError::NeedsEmulation { attribute } => ScimError::invalid_filter(format!(
                "filtering on \"{attribute}\" is not supported for this tenant"
            )),
        }
    }
}

impl From<ScimError> for MappingError {
    fn from(e: ScimError) -> Self {
        MappingError::Scim(e)
    }
}

// === impl CompiledMapping ===

impl CompiledMapping {
    /// Reads and compiles a table file; `Err` lists every problem.
    pub fn load(
        path: &std::path::Path,
        tenant: &SchemaRegistry,
    ) -> Result<CompiledMapping, Vec<String>> {
        let table = MappingTable::load(path).map_err(|e| vec![e])?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        compile(&name, &table, tenant)
    }

    /// The mapped resource types.
    pub fn resources(&self) -> impl Iterator<Item = &ResourceMapping> {
        self.resources.iter()
    }

    /// The table's name (its file stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The mapping of a tenant-facing resource type (`User`), ignoring case.
    pub fn resource(&self, name: &str) -> Option<&ResourceMapping> {
        self.resources
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
    }

    /// The mapping for a request path relative to the base URL
    /// (`/Users/2819c223`, `/Users/.search`).
    pub fn for_path(&self, path: &str) -> Option<&ResourceMapping> {
        let first = path.trim_start_matches('/').split('/').next()?;
        self.resources.iter().find(|r| {
            r.endpoint
                .trim_start_matches('/')
                .eq_ignore_ascii_case(first)
        })
    }
}

// === impl ResourceMapping ===

impl ResourceMapping {
    /// The tenant-facing resource type name.
    /// The core schema URN the upstream writes in `schemas`.
    pub fn upstream_schema(&self) -> &str {
        &self.upstream_schema
    }

    /// The tenant-facing endpoint (`/Users`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// True when the table has `emulate = true`: a filter this mapping
    /// cannot send upstream is evaluated by the gateway
    /// (`stack::schema_stage::emulated_filter`).
    pub fn emulates(&self) -> bool {
        self.emulate
    }

    /// True when unmapped attributes pass through.
    fn passes(&self) -> bool {
        self.unmapped == Unmapped::Pass
    }
}

#[cfg(test)]
mod tests;
