//! Discovery endpoints (RFC 7644 §4, RFC 7643 §5-§7): the
//! ServiceProviderConfig document and the /Schemas and /ResourceTypes
//! listings.
//!
//! PLACEHOLDER: signatures fixed; implemented on the bulk branch.
use crate::scim::bulk::BulkLimits;
use crate::scim::schema::SchemaRegistry;
use serde_json::{json, Value};

/// What a service provider supports (RFC 7643 §5).
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    pub patch: bool,
    /// `None` = Bulk unsupported.
    pub bulk: Option<BulkLimits>,
    /// `None` = filtering unsupported; else `maxResults`.
    pub filter_max_results: Option<usize>,
    pub change_password: bool,
    pub sort: bool,
    pub etag: bool,
    pub documentation_uri: Option<String>,
}

/// The `/ServiceProviderConfig` body.
pub fn service_provider_config(_caps: &Capabilities, _base_url: &str) -> Value {
    json!({})
}

/// The `/Schemas` ListResponse.
pub fn schemas_response(_registry: &SchemaRegistry, _base_url: &str) -> Value {
    json!({})
}

/// The `/ResourceTypes` ListResponse.
pub fn resource_types_response(_registry: &SchemaRegistry, _base_url: &str) -> Value {
    json!({})
}
