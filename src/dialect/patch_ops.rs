//! Rules that reshape the list of PATCH operations: path-less values with
//! dotted or URN keys (nested, or split into operations), removal by a
//! value list (one filtered remove per value). Several operations on
//! sub-attributes of one filtered element are merged by
//! [`super::patch_merge`].
use super::patch::{op_kind, op_path};
use super::values::Fixer;
use super::Rule;
use crate::scim::json::{get_ci, key_ci};
use crate::scim::patch::{PatchOpKind, PatchPath};
use crate::scim::path::{has_urn_prefix, AttrPath};
use serde_json::{Map, Value};

/// One operation as one or more canonical operations.
pub(super) fn expand(fixer: &mut Fixer<'_>, op: Map<String, Value>) -> Vec<Map<String, Value>> {
    match op_kind(&op) {
        Some(PatchOpKind::Remove) => expand_remove_by_list(fixer, op),
        Some(kind @ (PatchOpKind::Add | PatchOpKind::Replace)) if op_path(&op).is_none() => {
            expand_dotted_keys(fixer, kind, op)
        }
        _ => vec![op],
    }
}

fn new_op(kind: PatchOpKind, path: String, value: Option<Value>) -> Map<String, Value> {
    let mut op = Map::new();
    op.insert("op".into(), Value::String(kind.as_str().into()));
    op.insert("path".into(), Value::String(path));
    if let Some(v) = value {
        op.insert("value".into(), v);
    }
    op
}

/// `{"op":"remove","path":"members","value":[{"value":"id"}]}` (Entra
/// without the flag) → `{"op":"remove","path":"members[value eq \"id\"]"}`
/// per value. RFC 7644 §3.5.2.2 removes a whole attribute when the path
/// has no filter and ignores `value`: taken literally, Entra's request
/// would empty the group.
fn expand_remove_by_list(fixer: &mut Fixer<'_>, op: Map<String, Value>) -> Vec<Map<String, Value>> {
    if !fixer.rules.is_on(Rule::RemoveByValueList) {
        return vec![op];
    }
    let Some(path) = op_path(&op).map(str::trim) else {
        return vec![op];
    };
    let multi_valued_with_value = PatchPath::parse(path).ok().is_some_and(|p| {
        p.filter.is_none()
            && p.attr.sub_attr.is_none()
            && fixer.registry.resolve(fixer.rt, &p.attr).is_ok_and(|r| {
                r.attr.multi_valued
                    && r.attr.is_complex()
                    && r.attr.sub_attribute("value").is_some()
            })
    });
    let items: Vec<&Value> = match get_ci(&op, "value") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item @ Value::Object(_)) => vec![item],
        _ => return vec![op],
    };
    let ids: Option<Vec<String>> = items
        .iter()
        .map(|item| {
            let id = item.as_object().and_then(|o| get_ci(o, "value"))?;
            match id {
                Value::String(_) | Value::Number(_) => serde_json::to_string(id).ok(),
                _ => None,
            }
        })
        .collect();
    let (true, Some(ids)) = (multi_valued_with_value, ids) else {
        return vec![op];
    };
    if ids.is_empty() {
        return vec![op];
    }
    fixer.applied.record(Rule::RemoveByValueList);
    ids.into_iter()
        .map(|id| new_op(PatchOpKind::Remove, format!("{path}[value eq {id}]"), None))
        .collect()
}

/// Entra with the aadOptscim062020 flag replaces several attributes in one
/// path-less operation whose keys are paths: `{"name.givenName": "x",
/// "urn:...:enterprise:2.0:User:employeeNumber": "y"}`. RFC 7644
/// §3.5.2.3 wants attribute names as keys, so they are nested; a key that
/// cannot nest (a value filter, or a clash with a non-object value) becomes
/// an operation of its own with the key as its path.
fn expand_dotted_keys(
    fixer: &mut Fixer<'_>,
    kind: PatchOpKind,
    mut op: Map<String, Value>,
) -> Vec<Map<String, Value>> {
    let (registry, rt) = (fixer.registry, fixer.rt);
    // An extension URN holding an object is a plain key, dots and all.
    let is_path_key = |k: &str| {
        !registry.is_extension_urn(rt, k) && (k.contains(['.', '[']) || has_urn_prefix(k))
    };
    let value_key = key_ci(&op, "value").cloned();
    let Some(Value::Object(value)) = value_key.as_ref().and_then(|k| op.get_mut(k)) else {
        return vec![op];
    };
    if !fixer.rules.is_on(Rule::PathlessDottedKeys) || !value.keys().any(|k| is_path_key(k)) {
        return vec![op];
    }
    fixer.applied.record(Rule::PathlessDottedKeys);
    let mut nested = Map::new();
    let mut split = Vec::new();
    for (key, v) in std::mem::take(value) {
        if !is_path_key(&key) {
            if let Err(v) = put(&mut nested, &key, v) {
                split.push(new_op(kind, key, Some(v)));
            }
            continue;
        }
        let placed = match AttrPath::parse(&key) {
            Ok(path) if !key.contains('[') => {
                let container = match &path.urn {
                    None => Some(None),
                    Some(urn) if urn.eq_ignore_ascii_case(&rt.schema) => Some(None),
                    Some(urn) => rt.extension(urn).map(|e| Some(e.schema.clone())),
                };
                match container {
                    Some(ext) => place(&mut nested, ext, &path, v),
                    None => Err(v),
                }
            }
            _ => Err(v),
        };
        if let Err(v) = placed {
            split.push(new_op(kind, key, Some(v)));
        }
    }
    let mut out = Vec::with_capacity(1 + split.len());
    if !nested.is_empty() {
        *value = nested;
        out.push(op);
    }
    out.extend(split);
    out
}

/// Puts `v` at `path` inside `root` (under the extension URN `ext` when
/// given); gives `v` back when a non-object value is in the way.
fn place(
    root: &mut Map<String, Value>,
    ext: Option<String>,
    path: &AttrPath,
    v: Value,
) -> Result<(), Value> {
    let holder = match ext {
        Some(urn) => match object_at(root, &urn) {
            Some(h) => h,
            None => return Err(v),
        },
        None => root,
    };
    match &path.sub_attr {
        None => put(holder, &path.attr, v),
        Some(sub) => match object_at(holder, &path.attr) {
            Some(parent) => put(parent, sub, v),
            None => Err(v),
        },
    }
}

/// The object under `key` (any case), created when absent; `None` when a
/// non-object value is there.
fn object_at<'m>(obj: &'m mut Map<String, Value>, key: &str) -> Option<&'m mut Map<String, Value>> {
    let key = key_ci(obj, key).cloned().unwrap_or_else(|| key.to_string());
    obj.entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

/// Inserts `v` under `key`, merging two objects; gives `v` back when the
/// key already holds something else.
fn put(obj: &mut Map<String, Value>, key: &str, v: Value) -> Result<(), Value> {
    let Some(existing) = key_ci(obj, key).cloned() else {
        obj.insert(key.to_string(), v);
        return Ok(());
    };
    match (obj.get_mut(&existing), v) {
        (Some(Value::Object(into)), Value::Object(from)) => {
            for (k, x) in from {
                put(into, &k, x)?;
            }
            Ok(())
        }
        (_, v) => Err(v),
    }
}
