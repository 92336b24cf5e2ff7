//! Applying PATCH operations (RFC 7644 §3.5.2.1-§3.5.2.3) to a copy of a
//! resource: all operations or none.
//!
//! This file takes an operation to its target (the path, the schema
//! extension, the checks of mutability) and tidies the result; what an
//! operation does to one attribute is in `apply_attr`, and runs of removes
//! or adds to one list are in `apply_run`.
use super::apply_attr::{apply_attr, apply_filtered, apply_sub};
use super::{PatchOpKind, PatchOperation, PatchPath, PatchRequest};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::EvalContext;
use crate::scim::json::{get_ci, get_ci_mut, insert_ci, remove_ci};
use crate::scim::path::AttrPath;
use crate::scim::schema::{Attribute, Mutability, ResourceType, SchemaRegistry};
use serde_json::{Map, Value};

/// Applies all operations to a copy of `resource` and returns it; on any
/// error nothing is applied (the caller's value is never touched).
pub fn apply_patch(
    registry: &SchemaRegistry,
    rt: &ResourceType,
    resource: &Value,
    request: &PatchRequest,
) -> ScimResult<Value> {
    let Value::Object(original) = resource else {
        return Err(ScimError::internal(
            "the resource to patch is not an object",
        ));
    };
    let mut obj = original.clone();
    let ctx = EvalContext {
        registry,
        resource_type: rt,
    };
    let ops = &request.operations;
    let in_context = |i: usize, e: ScimError| {
        if ops.len() > 1 {
            e.with_context(&format!("Operations[{i}]"))
        } else {
            e
        }
    };
    let mut i = 0;
    while i < ops.len() {
        // Consecutive removes of single values by their `value` (Entra's
        // member removal), or adds to one attribute: one pass over the
        // list for all of them (`apply_run`).
        let run = super::apply_run::removal_run(&ops[i..]);
        if run > 1 {
            super::apply_run::remove_run(&ctx, &mut obj, &ops[i..i + run])
                .map_err(|(k, e)| in_context(i + k, e))?;
            i += run;
            continue;
        }
        let run = super::apply_run::addition_run(&ops[i..]);
        if run > 1 {
            super::apply_run::add_run(&ctx, &mut obj, &ops[i..i + run])
                .map_err(|(k, e)| in_context(i + k, e))?;
            i += run;
            continue;
        }
        apply_op(&ctx, &mut obj, &ops[i]).map_err(|e| in_context(i, e))?;
        i += 1;
    }
    tidy(&mut obj);
    fix_schemas(rt, &mut obj);
    Ok(Value::Object(obj))
}

pub(super) fn apply_op(
    ctx: &EvalContext<'_>,
    obj: &mut Map<String, Value>,
    op: &PatchOperation,
) -> ScimResult<()> {
    match (&op.path, op.op) {
        (Some(path), _) => apply_path(ctx, obj, op.op, path, op.value.as_ref()),
        (None, PatchOpKind::Remove) => Err(ScimError::no_target("remove needs a \"path\"")),
        (None, kind) => {
            // RFC 7644 §3.5.2.1/§3.5.2.3 without a path: the value is a set
            // of attributes (keys may be URN-qualified or dotted paths, or an
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
                if let Some(ext) = ctx.resource_type.extension(key) {
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
                        apply_path(ctx, obj, kind, &path, Some(ev))?;
                    }
                    continue;
                }
                let path = PatchPath::parse(key)?;
                if is_read_only(ctx, &path.attr) {
                    // Clients often echo `id` or `meta` back: harmless when
                    // unchanged (RFC 7644 §3.5.2: readOnly → mutability).
                    let current = get_ci(obj, &path.attr.attr);
                    if current == Some(v) {
                        continue;
                    }
                }
                apply_path(ctx, obj, kind, &path, Some(v))?;
            }
            Ok(())
        }
    }
}

fn is_read_only(ctx: &EvalContext<'_>, path: &AttrPath) -> bool {
    ctx.registry
        .resolve(ctx.resource_type, path)
        .is_ok_and(|r| r.attr.mutability == Mutability::ReadOnly)
}

/// What a path designates, resolved against the schema.
pub(super) struct Target<'a> {
    /// `Some(urn)`: the attribute lives in `resource[urn]`.
    pub extension: Option<&'a str>,
    pub attr: &'a Attribute,
    /// The sub-attribute (`name.givenName` or `emails[...].value`).
    pub sub: Option<&'a Attribute>,
}

fn apply_path(
    ctx: &EvalContext<'_>,
    obj: &mut Map<String, Value>,
    kind: PatchOpKind,
    path: &PatchPath,
    value: Option<&Value>,
) -> ScimResult<()> {
    // A path that is a whole extension URN addresses its object.
    if path.filter.is_none() && path.attr.sub_attr.is_none() {
        if let Some(urn) = &path.attr.urn {
            let full = format!("{urn}:{}", path.attr.attr);
            if let Some(ext) = ctx.resource_type.extension(&full) {
                return apply_extension(ctx, obj, kind, &ext.schema, value);
            }
        }
    }
    let target = target_of(ctx, path)?;
    let holder = holder_mut(obj, target.extension, kind)?;
    let Some(holder) = holder else {
        // Removing from an extension the resource does not have: nothing to do.
        return Ok(());
    };
    let name = target.attr.name.as_str();
    let display = path.to_string();
    match (&path.filter, target.sub) {
        (Some(filter), sub) => apply_filtered(
            ctx,
            holder,
            kind,
            &target,
            &path.attr.parent(),
            filter,
            sub,
            value,
            &display,
        ),
        (None, Some(sub)) => apply_sub(holder, kind, &target, sub, value, &display),
        (None, None) => apply_attr(holder, kind, target.attr, value, &display, name),
    }
}

/// What a path with an attribute (not a whole extension) designates, and
/// whether an operation may change it.
pub(super) fn target_of<'c>(ctx: &EvalContext<'c>, path: &PatchPath) -> ScimResult<Target<'c>> {
    let resolved = ctx
        .registry
        .resolve(ctx.resource_type, &path.attr)
        .map_err(|_| {
            ScimError::invalid_path(format!(
                "\"{path}\" is not an attribute of resource type {}",
                ctx.resource_type.name
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
    let target = Target {
        extension: resolved.extension,
        attr: resolved.attr,
        sub,
    };
    check_mutability(&target, path)?;
    if path.filter.is_some() && !target.attr.multi_valued {
        return Err(ScimError::invalid_path(format!(
            "\"{path}\": a value filter needs a multi-valued attribute"
        )));
    }
    Ok(target)
}

fn check_mutability(t: &Target<'_>, path: &PatchPath) -> ScimResult<()> {
    let read_only = t.attr.mutability == Mutability::ReadOnly
        || t.sub.is_some_and(|s| s.mutability == Mutability::ReadOnly);
    if read_only {
        return Err(ScimError::mutability(format!(
            "\"{path}\" is readOnly and cannot be modified"
        )));
    }
    Ok(())
}

/// The object holding the attribute: the resource or an extension object
/// (created for add/replace).
pub(super) fn holder_mut<'o>(
    obj: &'o mut Map<String, Value>,
    extension: Option<&str>,
    kind: PatchOpKind,
) -> ScimResult<Option<&'o mut Map<String, Value>>> {
    let Some(urn) = extension else {
        return Ok(Some(obj));
    };
    if get_ci(obj, urn).is_none() {
        if kind == PatchOpKind::Remove {
            return Ok(None);
        }
        insert_ci(obj, urn, Value::Object(Map::new()));
    }
    match get_ci_mut(obj, urn) {
        Some(Value::Object(m)) => Ok(Some(m)),
        _ => Err(ScimError::invalid_value(format!(
            "\"{urn}\" must be an object"
        ))),
    }
}

/// add/replace/remove of a whole extension object.
fn apply_extension(
    ctx: &EvalContext<'_>,
    obj: &mut Map<String, Value>,
    kind: PatchOpKind,
    urn: &str,
    value: Option<&Value>,
) -> ScimResult<()> {
    match kind {
        PatchOpKind::Remove => {
            remove_ci(obj, urn);
            Ok(())
        }
        PatchOpKind::Add | PatchOpKind::Replace => {
            let Some(Value::Object(values)) = value else {
                return Err(ScimError::invalid_value(format!(
                    "the value for \"{urn}\" must be an object of its attributes"
                )));
            };
            for (k, v) in values {
                // Client libraries echo the extension's `schemas` inside it.
                if k.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let path = PatchPath::parse(&format!("{urn}:{k}"))?;
                apply_path(ctx, obj, kind, &path, Some(v))?;
            }
            Ok(())
        }
    }
}

/// Drops nulls, empty arrays and empty objects (unassigned, RFC 7643 §2.5).
fn tidy(obj: &mut Map<String, Value>) {
    obj.retain(|_, v| {
        if let Value::Object(inner) = v {
            tidy(inner);
        }
        if let Value::Array(items) = v {
            for item in items.iter_mut() {
                if let Value::Object(inner) = item {
                    inner.retain(|_, x| !x.is_null());
                }
            }
            items.retain(|x| !matches!(x, Value::Object(o) if o.is_empty()));
        }
        !(v.is_null()
            || matches!(v, Value::Array(a) if a.is_empty())
            || matches!(v, Value::Object(o) if o.is_empty()))
    });
}

/// `schemas` lists the core schema and the extensions present.
fn fix_schemas(rt: &ResourceType, obj: &mut Map<String, Value>) {
    let mut schemas: Vec<Value> = match get_ci(obj, "schemas") {
        Some(Value::Array(s)) => s
            .iter()
            .filter(|u| {
                u.as_str().is_some_and(|u| match rt.extension(u) {
                    Some(ext) => get_ci(obj, &ext.schema).is_some(),
                    None => true,
                })
            })
            .cloned()
            .collect(),
        _ => vec![Value::String(rt.schema.clone())],
    };
    for ext in &rt.extensions {
        let listed = schemas.iter().any(|s| {
            s.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(&ext.schema))
        });
        if !listed && get_ci(obj, &ext.schema).is_some() {
            schemas.push(Value::String(ext.schema.clone()));
        }
    }
    insert_ci(obj, "schemas", Value::Array(schemas));
}
