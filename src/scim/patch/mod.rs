//! PATCH, RFC 7644 §3.5.2: parsing of a PatchOp request and its atomic
//! application to a resource.
//!
//! PLACEHOLDER: signatures fixed; implemented on the patch branch.
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::Filter;
use crate::scim::path::AttrPath;
use crate::scim::schema::{ResourceType, SchemaRegistry};
use serde_json::Value;

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
    pub value: Option<Value>,
}

/// A whole PatchOp request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub operations: Vec<PatchOperation>,
}

impl PatchPath {
    /// Parses a path; errors are 400 `invalidPath`.
    pub fn parse(s: &str) -> ScimResult<PatchPath> {
        Err(ScimError::invalid_path(format!(
            "path \"{s}\" not supported yet"
        )))
    }
}

impl PatchRequest {
    /// Parses a PatchOp body; errors are 400 `invalidSyntax`/`invalidPath`/`invalidValue`.
    pub fn parse(_body: &Value) -> ScimResult<PatchRequest> {
        Err(ScimError::invalid_syntax("PATCH not supported yet"))
    }
}

/// Applies all operations to a copy of `resource` and returns it; on any
/// error nothing is applied (the caller's value is never touched).
pub fn apply_patch(
    _registry: &SchemaRegistry,
    _rt: &ResourceType,
    _resource: &Value,
    _request: &PatchRequest,
) -> ScimResult<Value> {
    Err(ScimError::not_implemented("PATCH not supported yet"))
}
