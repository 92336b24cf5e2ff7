//! PATCH, RFC 7644 §3.5.2: parsing of a PatchOp request and its atomic
//! application to a resource.
mod apply;
mod apply_attr;
mod apply_run;
mod check;
mod parse;
mod value_hash;

pub use apply::apply_patch;
pub use check::check_patch;

use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::Filter;
use crate::scim::path::AttrPath;

/// The PatchOp message URN.
pub(crate) const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The default of `max_patch_operations` (`[server]`): the most operations
/// one PATCH request (or one PATCH inside a Bulk request) may carry.
pub(crate) const DEFAULT_MAX_OPERATIONS: usize = 1000;

/// The length of a PatchOp body's `Operations` array (0 when there is
/// none: [`PatchRequest::parse`] refuses that).
pub(crate) fn operation_count(body: &serde_json::Value) -> usize {
    body.as_object()
        .and_then(|o| crate::scim::json::get_ci(o, "Operations"))
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len)
}

/// 400 `tooMany` for more than `max` operations. RFC 7644 §3.5.2 sets no
/// bound on one PATCH; the gateway's keeps the work of one request
/// bounded, and is checked before any of that work (dialect, schema
/// check, mapping, application) starts.
pub(crate) fn check_operation_count(count: usize, max: usize) -> ScimResult<()> {
    if count > max {
        return Err(ScimError::too_many(format!(
            "this PATCH has {count} operations; at most {max} are accepted in one request \
             (max_patch_operations): send them in several requests"
        )));
    }
    Ok(())
}

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
