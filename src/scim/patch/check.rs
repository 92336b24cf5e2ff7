//! Checking a PATCH request against the schema without the resource
//! (RFC 7644 §3.5.2): what a gateway can know before the upstream sees it.
//! Every path must name an attribute of the resource type, no operation
//! may target a readOnly attribute, a value filter needs a multi-valued
//! attribute, and every value must have the target's type. Whether a
//! filter selects anything is the upstream's business (it has the
//! resource).
use super::{PatchOpKind, PatchOperation, PatchPath, PatchRequest};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::schema::{Attribute, Mutability, ResourceType, SchemaRegistry};
use crate::scim::validate::check_value;
use serde_json::Value;

/// Checks every operation of `request` for resource type `rt`; the error
/// names the operation (when there are several) and the attribute.
pub fn check_patch(
    registry: &SchemaRegistry,
    rt: &ResourceType,
    request: &PatchRequest,
) -> ScimResult<()> {
    for (i, op) in request.operations.iter().enumerate() {
        check_op(registry, rt, op).map_err(|e| {
            if request.operations.len() > 1 {
                e.with_context(&format!("Operations[{i}]"))
            } else {
                e
            }
        })?;
    }
    Ok(())
}

fn check_op(registry: &SchemaRegistry, rt: &ResourceType, op: &PatchOperation) -> ScimResult<()> {
    match (&op.path, op.op) {
        (Some(path), kind) => check_path(registry, rt, kind, path, op.value.as_ref(), false),
        (None, PatchOpKind::Remove) => Err(ScimError::no_target("remove needs a \"path\"")),
        (None, kind) => {
            // RFC 7644 §3.5.2.1/§3.5.2.3 without a path: an object of
            // attributes (plain, dotted or URN-qualified names, or an
            // extension URN holding an object).
            let Some(Value::Object(values)) = &op.value else {
                return Err(ScimError::invalid_value(format!(
                    "{} without a path needs an object of attributes as its value",
                    kind.as_str()
                )));
            };
            for (key, v) in values {
                if key.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                if let Some(ext) = rt.extension(key) {
                    let Value::Object(ext_values) = v else {
                        return Err(ScimError::invalid_value(format!(
                            "\"{key}\" must be an object of the extension's attributes"
                        )));
                    };
                    for (k, ev) in ext_values
                        .iter()
                        .filter(|(k, _)| !k.eq_ignore_ascii_case("schemas"))
                    {
                        let path = PatchPath::parse(&format!("{}:{k}", ext.schema))?;
                        check_path(registry, rt, kind, &path, Some(ev), true)?;
                    }
                    continue;
                }
                let path = PatchPath::parse(key)?;
                check_path(registry, rt, kind, &path, Some(v), true)?;
            }
            Ok(())
        }
    }
}

/// `echoed`: the value came inside a path-less object, where clients echo
/// readOnly attributes (`id`, `meta`) back; those are ignored here and
/// left to the upstream (which compares them with what it holds).
fn check_path(
    registry: &SchemaRegistry,
    rt: &ResourceType,
    kind: PatchOpKind,
    path: &PatchPath,
    value: Option<&Value>,
    echoed: bool,
) -> ScimResult<()> {
    // A path that is a whole extension URN addresses its object.
    if path.filter.is_none() && path.attr.sub_attr.is_none() {
        if let Some(urn) = &path.attr.urn {
            let full = format!("{urn}:{}", path.attr.attr);
            if let Some(ext) = rt.extension(&full) {
                return check_extension_value(registry, &ext.schema, kind, value);
            }
        }
    }
    let resolved = registry.resolve(rt, &path.attr).map_err(|_| {
        ScimError::invalid_path(format!(
            "\"{path}\" is not an attribute of resource type {}",
            rt.name
        ))
    })?;
    let sub = match (&path.sub_attr, resolved.sub) {
        (Some(name), _) => Some(resolved.attr.sub_attribute(name).ok_or_else(|| {
            ScimError::invalid_path(format!(
                "\"{name}\" is not a sub-attribute of {}",
                resolved.attr.name
            ))
        })?),
        (None, s) => s,
    };
    let attr = resolved.attr;
    let read_only = attr.mutability == Mutability::ReadOnly
        || sub.is_some_and(|s| s.mutability == Mutability::ReadOnly);
    if read_only {
        if echoed {
            return Ok(());
        }
        return Err(ScimError::mutability(format!(
            "\"{path}\" is readOnly and cannot be modified"
        )));
    }
    if path.filter.is_some() && !attr.multi_valued {
        return Err(ScimError::invalid_path(format!(
            "\"{path}\": a value filter needs a multi-valued attribute"
        )));
    }
    if kind == PatchOpKind::Remove {
        // RFC 7644 §3.5.2.2: a value is allowed (members to remove) and
        // ignored here.
        return Ok(());
    }
    let Some(value) = value else {
        return Err(ScimError::invalid_value(format!(
            "{} of \"{path}\" needs a \"value\"",
            kind.as_str()
        )));
    };
    let display = path.to_string();
    match (sub, path.filter.is_some()) {
        (Some(sub), _) => check_value(sub, value, &display).map(drop),
        // `emails[type eq "work"]`: the value is one element (or several).
        (None, true) => check_elements(attr, value, &display),
        (None, false) if attr.multi_valued => check_elements(attr, value, &display),
        (None, false) => check_value(attr, value, &display).map(drop),
    }
}

/// A value for a multi-valued attribute: an array, or a single element
/// (which clients send and servers add as one).
fn check_elements(attr: &Attribute, value: &Value, display: &str) -> ScimResult<()> {
    match value {
        Value::Array(_) => check_value(attr, value, display).map(drop),
        single => check_value(attr, &Value::Array(vec![single.clone()]), display).map(drop),
    }
}

fn check_extension_value(
    registry: &SchemaRegistry,
    urn: &str,
    kind: PatchOpKind,
    value: Option<&Value>,
) -> ScimResult<()> {
    if kind == PatchOpKind::Remove {
        return Ok(());
    }
    let Some(Value::Object(values)) = value else {
        return Err(ScimError::invalid_value(format!(
            "\"{urn}\" must be an object of the extension's attributes"
        )));
    };
    let schema = registry
        .schema(urn)
        .ok_or_else(|| ScimError::internal(format!("extension schema {urn} is not loaded")))?;
    for (k, v) in values
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("schemas"))
    {
        let attr = schema.attribute(k).ok_or_else(|| {
            ScimError::invalid_path(format!("attribute \"{k}\" is not defined in schema {urn}"))
        })?;
        if attr.mutability != Mutability::ReadOnly {
            check_value(attr, v, &format!("{urn}:{}", attr.name))?;
        }
    }
    Ok(())
}
