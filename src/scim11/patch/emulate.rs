//! Emulation of a PATCH that SCIM 1.1 cannot express: the gateway reads
//! the resource (GET), applies the 2.0 operations itself with the
//! protocol core's [`apply_patch`], and writes the result back (PUT).
//!
//! The caller should send the PUT with `If-Match` set to the `meta.version`
//! of the GET (SCIM 1.1 API §3.5, RFC 7644 §3.14), so that a concurrent
//! change fails with 412 instead of being overwritten.
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::patch::{apply_patch, PatchRequest};
use crate::scim::schema::SchemaRegistry;
use crate::scim11::{resource_from_scim11, resource_to_scim11, ResourceKind};
use serde_json::Value;

/// The 1.1 PUT body that gives `current` (a 1.1 resource, as read from the
/// upstream) the effect of `request`. Errors are those of [`apply_patch`]
/// (`noTarget`, `mutability`, ...), as a 2.0 service would answer them.
pub fn emulate_patch_put(
    registry: &SchemaRegistry,
    kind: ResourceKind,
    current: &Value,
    request: &PatchRequest,
) -> ScimResult<Value> {
    let rt = registry.resource_type(kind.as_str()).ok_or_else(|| {
        ScimError::internal(format!(
            "the {} resource type is not registered",
            kind.as_str()
        ))
    })?;
    let resource = resource_from_scim11(current, kind, None);
    let patched = apply_patch(registry, rt, &resource, request)?;
    Ok(resource_to_scim11(&patched))
}
