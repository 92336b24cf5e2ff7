//! PATCH, RFC 7644 §3.5.2: parsing of a PatchOp request and its atomic
//! application to a resource.
mod apply;
mod check;
mod parse;

pub use apply::apply_patch;
pub use check::check_patch;

use crate::scim::filter::Filter;
use crate::scim::path::AttrPath;

/// The PatchOp message URN.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// `op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Replace,
    Remove,
}

/// A PATCH `path`: `attrPath`, `attrPath[valFilter]` or
/// `attrPath[valFilter].subAttr` (RFC 7644 §3.5.2 `PATH` ABNF).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    /// The value filter selecting elements of a multi-valued attribute.
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter (`emails[...].value`).
    pub sub_attr: Option<String>,
}

/// One operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOpKind,
    pub path: Option<PatchPath>,
    pub value: Option<serde_json::Value>,
}

/// A whole PatchOp request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub operations: Vec<PatchOperation>,
}

impl PatchOpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Replace => "replace",
            PatchOpKind::Remove => "remove",
        }
    }
}

impl std::fmt::Display for PatchPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod tests;
