//! PatchOp requests (RFC 7644 §3.5.2): operation names, value filters in
//! paths, read-only members of path-less values and the value fixes of
//! [`super::values`], one operation at a time; the rules that reshape the
//! list of operations live in [`super::patch_ops`].
use super::values::{Fixer, Shape};
use super::{patch_merge, patch_ops};
use super::{run_shadowed, Applied, Rule, RuleSet};
use crate::scim::filter::{CompValue, Filter};
use crate::scim::json::{get_ci, get_ci_mut, key_ci, remove_ci};
use crate::scim::patch::{PatchOpKind, PatchPath};
use crate::scim::schema::{AttrType, Attribute, ResourceType, SchemaRegistry};
use serde_json::{Map, Value};

/// Normalizes a PatchOp body in place (or, in shadow mode, only reports)
/// and returns the rules that fired. A body without an `Operations` list
/// is left for [`crate::scim::patch::PatchRequest::parse`] to reject.
pub fn normalize_patch(
    body: &mut Value,
    rules: &RuleSet,
    registry: &SchemaRegistry,
    rt: &ResourceType,
) -> Applied {
    run_shadowed(body, rules, |body| {
        let mut fixer = Fixer::new(rules, registry, rt);
        let ops = match body
            .as_object_mut()
            .and_then(|o| get_ci_mut(o, "Operations"))
        {
            Some(Value::Array(ops)) => ops,
            _ => return Applied::default(),
        };
        let mut out = Vec::with_capacity(ops.len());
        for op in ops.drain(..) {
            let Value::Object(mut op) = op else {
                out.push(op);
                continue;
            };
            fix_op_name(&mut fixer, &mut op);
            qualify_path(&mut fixer, &mut op);
            fix_path_filter(&mut fixer, &mut op);
            drop_read_only_members(&mut fixer, &mut op);
            for mut op in patch_ops::expand(&mut fixer, op) {
                fix_op_value(&mut fixer, &mut op);
                out.push(Value::Object(op));
            }
        }
        patch_merge::merge_filtered(&mut fixer, &mut out);
        *ops = out;
        fixer.applied
    })
}

/// The operation kind, ignoring case (`delete` is not one).
pub(super) fn op_kind(op: &Map<String, Value>) -> Option<PatchOpKind> {
    let text = get_ci(op, "op")?.as_str()?;
    [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove]
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(text))
}

/// The `path` text, `None` when absent, null or blank.
pub(super) fn op_path(op: &Map<String, Value>) -> Option<&str> {
    get_ci(op, "path")
        .and_then(Value::as_str)
        .filter(|p| !p.trim().is_empty())
}

/// RFC 7644 §3.5.2: `op` is `add`, `replace` or `remove`. Entra sends
/// `"Replace"`, `"Add"`, `"Remove"` without the aadOptscim062020 flag, and
/// some clients `"delete"`.
fn fix_op_name(fixer: &mut Fixer<'_>, op: &mut Map<String, Value>) {
    if !fixer.rules.is_on(Rule::OpCase) {
        return;
    }
    let Some(Value::String(text)) = get_ci_mut(op, "op") else {
        return;
    };
    let canonical = if text.eq_ignore_ascii_case("delete") {
        PatchOpKind::Remove.as_str()
    } else {
        match [PatchOpKind::Add, PatchOpKind::Replace, PatchOpKind::Remove]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(text))
        {
            Some(k) => k.as_str(),
            None => return,
        }
    };
    if text != canonical {
        *text = canonical.to_string();
        fixer.applied.record(Rule::OpCase);
    }
}

/// Entra's manager update names `manager` without the enterprise URN.
/// RFC 7644 §3.10: clients "MUST fully qualify extended attributes with
/// the associated schema extension URN"; the gateway resolves the bare
/// name (when no core or common attribute has it), and a strict upstream
/// refuses it. The path goes on qualified.
fn qualify_path(fixer: &mut Fixer<'_>, op: &mut Map<String, Value>) {
    if !fixer.rules.is_on(Rule::UnqualifiedExtensionAttrs) {
        return;
    }
    let Some(text) = op_path(op) else { return };
    let Ok(mut path) = PatchPath::parse(text) else {
        return;
    };
    if path.attr.urn.is_some() {
        return;
    }
    let Ok(resolved) = fixer.registry.resolve(fixer.rt, &path.attr) else {
        return;
    };
    let Some(urn) = resolved.extension else {
        return;
    };
    path.attr.urn = Some(urn.to_string());
    fixer.applied.record(Rule::UnqualifiedExtensionAttrs);
    if let Some(key) = key_ci(op, "path").cloned() {
        op.insert(key, Value::String(path.to_string()));
    }
}

/// `emails[primary eq "True"]`: a string compared with a boolean
/// sub-attribute becomes the boolean (RFC 7644 §3.4.2.2 literals).
fn fix_path_filter(fixer: &mut Fixer<'_>, op: &mut Map<String, Value>) {
    if !fixer.rules.is_on(Rule::StringBooleans) {
        return;
    }
    let Some(text) = op_path(op) else { return };
    let Ok(mut path) = PatchPath::parse(text) else {
        return;
    };
    let Some(filter) = path.filter.as_mut() else {
        return;
    };
    let Ok(parent) = fixer.registry.resolve(fixer.rt, &path.attr) else {
        return;
    };
    if !fix_filter_booleans(filter, parent.target()) {
        return;
    }
    fixer.applied.record(Rule::StringBooleans);
    if let Some(key) = key_ci(op, "path").cloned() {
        op.insert(key, Value::String(path.to_string()));
    }
}

/// Rewrites string literals compared with boolean sub-attributes of
/// `parent`; true when anything changed.
fn fix_filter_booleans(filter: &mut Filter, parent: &Attribute) -> bool {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            let left = fix_filter_booleans(a, parent);
            fix_filter_booleans(b, parent) | left
        }
        Filter::Not(a) => fix_filter_booleans(a, parent),
        Filter::Compare { path, value, .. } => {
            let is_bool = path.urn.is_none()
                && path.sub_attr.is_none()
                && parent
                    .sub_attribute(&path.attr)
                    .is_some_and(|s| s.attr_type == AttrType::Boolean);
            let parsed = match value {
                CompValue::String(s) if is_bool && s.eq_ignore_ascii_case("true") => true,
                CompValue::String(s) if is_bool && s.eq_ignore_ascii_case("false") => false,
                _ => return false,
            };
            *value = CompValue::Bool(parsed);
            true
        }
        Filter::Present(_) | Filter::ValuePath { .. } => false,
    }
}

/// Okta's group rename is a path-less replace whose value repeats the
/// read-only `id`; RFC 7644 §3.5.2 lets a server ignore read-only input,
/// and a strict upstream answers 400 `mutability`.
fn drop_read_only_members(fixer: &mut Fixer<'_>, op: &mut Map<String, Value>) {
    if !fixer.rules.is_on(Rule::ReadOnlyIdMeta)
        || op_path(op).is_some()
        || !matches!(op_kind(op), Some(PatchOpKind::Add | PatchOpKind::Replace))
    {
        return;
    }
    let Some(Value::Object(value)) = get_ci_mut(op, "value") else {
        return;
    };
    let mut dropped = false;
    for name in ["id", "meta"] {
        dropped |= remove_ci(value, name).is_some();
    }
    if dropped {
        fixer.applied.record(Rule::ReadOnlyIdMeta);
    }
}

/// The value fixes, against the attribute the path names.
fn fix_op_value(fixer: &mut Fixer<'_>, op: &mut Map<String, Value>) {
    let path = op_path(op).map(str::trim).map(str::to_string);
    let Some(value) = get_ci_mut(op, "value") else {
        return;
    };
    let Some(path) = path else {
        if let Value::Object(obj) = value {
            fixer.fix_resource_object(obj);
        }
        return;
    };
    let (registry, rt) = (fixer.registry, fixer.rt);
    if registry.is_extension_urn(rt, &path) {
        if let Value::Object(ext) = value {
            fixer.fix_extension_object(&path, ext);
        }
        return;
    }
    let Ok(parsed) = PatchPath::parse(&path) else {
        return;
    };
    let Ok(resolved) = registry.resolve(rt, &parsed.attr) else {
        return;
    };
    match (&parsed.filter, &parsed.sub_attr) {
        (Some(_), Some(sub)) => {
            if let Some(sub) = resolved.attr.sub_attribute(sub) {
                fixer.fix_value(sub, true, Shape::Whole, value);
            }
        }
        (Some(_), None) => fixer.fix_value(resolved.attr, false, Shape::Element, value),
        (None, _) => fixer.fix_value(
            resolved.target(),
            resolved.sub.is_some(),
            Shape::Whole,
            value,
        ),
    }
}
