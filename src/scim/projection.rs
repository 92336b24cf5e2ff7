//! `attributes` / `excludedAttributes` projection with the `returned`
//! characteristic (RFC 7644 §3.4.2.5, §3.9; RFC 7643 §2.4).
//!
//! PLACEHOLDER: signatures fixed; implemented on the validate branch.
use crate::scim::error::ScimResult;
use crate::scim::schema::{ResourceType, SchemaRegistry};
use serde_json::Value;

/// Which attributes a response carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    /// `attributes=`: only these plus `returned: always` ones.
    pub attributes: Vec<crate::scim::path::AttrPath>,
    /// `excludedAttributes=`: all `returned: default` ones but these.
    pub excluded: Vec<crate::scim::path::AttrPath>,
}

impl Projection {
    /// Parses the comma-separated parameter values (either may be absent).
    /// Bad paths are 400 `invalidPath`.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> ScimResult<Projection> {
        let _ = (attributes, excluded);
        Ok(Projection::default())
    }

    /// Applies the projection to a resource: `returned: never` attributes
    /// (e.g. `password`) are always removed, `always` ones always kept,
    /// `request` ones only when named in `attributes`.
    pub fn apply(&self, _registry: &SchemaRegistry, _rt: &ResourceType, resource: &Value) -> Value {
        resource.clone()
    }

    /// Like [`Projection::apply`], consuming the resource.
    pub fn apply_owned(
        &self,
        registry: &SchemaRegistry,
        rt: &ResourceType,
        resource: Value,
    ) -> Value {
        self.apply(registry, rt, &resource)
    }
}
