//! What a write changed, read from the request the tenant sent (pure):
//! whether it deactivates a User, whether it touches a Group's members,
//! and the changed attributes with their values after the write.
//!
//! PATCH operations follow RFC 7644 §3.5.2: `op` is case-insensitive, a
//! path may carry a schema URN prefix and a value filter
//! (`emails[type eq "work"].value`), and a path-less add/replace carries
//! an object of attributes.
use crate::events::cloudevent::WriteMethod;
use crate::scim::json::get_ci;
use crate::scim::path::has_urn_prefix;
use crate::scim::schema::{GROUP_SCHEMA, USER_SCHEMA};
use serde_json::{Map, Value};

/// A top-level attribute a write touched: `(urn, attr)`, `urn` set for an
/// extension attribute (its value lives inside `resource[urn]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChangedAttr {
    pub urn: Option<String>,
    pub attr: String,
    /// The value the request gave it, when the request says it plainly
    /// (POST/PUT, a PATCH add/replace of the whole attribute); `Null` for a
    /// PATCH remove of the whole attribute.
    pub value: Option<Value>,
}

/// Whether the write sets a User's `active` to false and the resource
/// after it (when known) is not active.
pub(crate) fn sets_active_false(
    method: WriteMethod,
    request: Option<&Value>,
    response: Option<&Value>,
) -> bool {
    let still_active = response
        .and_then(Value::as_object)
        .and_then(|r| get_ci(r, "active"))
        .is_some_and(is_true);
    if still_active {
        return false;
    }
    let Some(request) = request.and_then(Value::as_object) else {
        return false;
    };
    match method {
        WriteMethod::Put => get_ci(request, "active").is_some_and(is_false),
        WriteMethod::Patch => patch_ops(request).any(|op| {
            if !matches!(op.op.as_str(), "add" | "replace") {
                return false;
            }
            match (&op.target, op.value) {
                (Some((urn, attr, tail)), Some(v)) => {
                    attr.eq_ignore_ascii_case("active")
                        && tail.is_empty()
                        && urn
                            .as_deref()
                            .is_none_or(|u| u.eq_ignore_ascii_case(USER_SCHEMA))
                        && is_false(v)
                }
                (None, Some(Value::Object(obj))) => get_ci(obj, "active").is_some_and(is_false),
                _ => false,
            }
        }),
        WriteMethod::Post | WriteMethod::Delete => false,
    }
}

/// Whether a PATCH has an operation on a Group's `members`.
pub(crate) fn patches_members(request: Option<&Value>) -> bool {
    let Some(request) = request.and_then(Value::as_object) else {
        return false;
    };
    patch_ops(request).any(|op| match (&op.target, op.value) {
        (Some((urn, attr, _)), _) => {
            attr.eq_ignore_ascii_case("members")
                && urn
                    .as_deref()
                    .is_none_or(|u| u.eq_ignore_ascii_case(GROUP_SCHEMA))
        }
        (None, Some(Value::Object(obj))) => get_ci(obj, "members").is_some(),
        _ => false,
    })
}

/// The attributes a write touched, in request order, without duplicates.
/// `schemas`, `id` and `meta` are not changes of their own.
pub(crate) fn changed_attributes(method: WriteMethod, request: Option<&Value>) -> Vec<ChangedAttr> {
    let mut out: Vec<ChangedAttr> = Vec::new();
    let Some(request) = request.and_then(Value::as_object) else {
        return out;
    };
    match method {
        WriteMethod::Post | WriteMethod::Put => push_object(&mut out, request),
        WriteMethod::Patch => {
            for op in patch_ops(request) {
                match (&op.target, op.value) {
                    (Some((urn, attr, tail)), value) => {
                        let whole = tail.is_empty();
                        let value = match op.op.as_str() {
                            "remove" if whole => Some(Value::Null),
                            "add" | "replace" if whole => value.cloned(),
                            _ => None,
                        };
                        push(&mut out, urn.clone(), attr, value);
                    }
                    (None, Some(Value::Object(obj))) => push_object(&mut out, obj),
                    (None, _) => {}
                }
            }
        }
        WriteMethod::Delete => {}
    }
    out
}

/// The `changes` data: `id` and each changed attribute with its value in
/// the resource after the write (`null` when it is gone), or, without a
/// resource (a 204 answer), the value the request gave it when known.
pub(crate) fn changed_data(
    method: WriteMethod,
    request: Option<&Value>,
    response: Option<&Map<String, Value>>,
) -> Map<String, Value> {
    let mut data = Map::new();
    if let Some(id) = response.and_then(|r| get_ci(r, "id")) {
        data.insert("id".into(), id.clone());
    }
    for change in changed_attributes(method, request) {
        let value = match response {
            Some(resource) => Some(
                lookup(resource, change.urn.as_deref(), &change.attr)
                    .cloned()
                    .unwrap_or(Value::Null),
            ),
            None => change.value.clone(),
        };
        let Some(value) = value else { continue };
        match change.urn.as_deref() {
            Some(urn) if nests(response, urn) => {
                let inner = data
                    .entry(urn.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(inner) = inner {
                    inner.insert(change.attr, value);
                }
            }
            _ => {
                data.insert(change.attr, value);
            }
        }
    }
    data
}

/// Whether an attribute with this URN prefix lives in `resource[urn]`:
/// yes when the resource has that key; without a resource, yes unless the
/// URN is a core schema (`urn:...:core:2.0:User:active` is `active`).
fn nests(response: Option<&Map<String, Value>>, urn: &str) -> bool {
    match response {
        Some(resource) => get_ci(resource, urn).is_some(),
        None => !(urn.eq_ignore_ascii_case(USER_SCHEMA) || urn.eq_ignore_ascii_case(GROUP_SCHEMA)),
    }
}

/// The value of `attr` (in `resource[urn]` for an extension attribute; a
/// core-schema URN prefix means the top level).
fn lookup<'a>(
    resource: &'a Map<String, Value>,
    urn: Option<&str>,
    attr: &str,
) -> Option<&'a Value> {
    match urn.and_then(|u| get_ci(resource, u)) {
        Some(Value::Object(ext)) => get_ci(ext, attr),
        _ => get_ci(resource, attr),
    }
}

struct PatchOp<'a> {
    /// Lowercased `op`.
    op: String,
    /// `(urn, attr, rest after attr)`, `None` without a path.
    target: Option<(Option<String>, String, String)>,
    value: Option<&'a Value>,
}

/// The operations of a PatchOp message (RFC 7644 §3.5.2); malformed ones
/// are skipped (the request was accepted upstream, so they are rare).
fn patch_ops(message: &Map<String, Value>) -> impl Iterator<Item = PatchOp<'_>> {
    get_ci(message, "Operations")
        .and_then(Value::as_array)
        .map(|ops| ops.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_object)
        .filter_map(|op| {
            let name = get_ci(op, "op")?.as_str()?.to_ascii_lowercase();
            let target = match get_ci(op, "path").and_then(Value::as_str) {
                Some(path) if !path.trim().is_empty() => Some(split_path(path.trim())),
                _ => None,
            };
            Some(PatchOp {
                op: name,
                target,
                value: get_ci(op, "value"),
            })
        })
}

/// `urn:...:User:name.givenName` → `(Some(urn), "name", ".givenName")`;
/// `members[value eq "x"]` → `(None, "members", "[value eq \"x\"]")`.
fn split_path(path: &str) -> (Option<String>, String, String) {
    // The attribute part ends at the first '[' (a value filter may hold
    // colons and dots of its own).
    let head_end = path.find('[').unwrap_or(path.len());
    let head = path.get(..head_end).unwrap_or(path);
    let filter = path.get(head_end..).unwrap_or("");
    let (urn, rest) = if has_urn_prefix(head) {
        match head.rfind(':') {
            Some(i) => (
                head.get(..i).map(str::to_string),
                head.get(i + 1..).unwrap_or(""),
            ),
            None => (None, head),
        }
    } else {
        (None, head)
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((a, s)) => (a, format!(".{s}")),
        None => (rest, String::new()),
    };
    (urn, attr.to_string(), format!("{filter}{sub}"))
}

fn push_object(out: &mut Vec<ChangedAttr>, obj: &Map<String, Value>) {
    for (key, value) in obj {
        if ["schemas", "id", "meta"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
        {
            continue;
        }
        match value {
            Value::Object(ext) if has_urn_prefix(key) => {
                for (attr, v) in ext {
                    push(out, Some(key.clone()), attr, Some(v.clone()));
                }
            }
            _ => push(out, None, key, Some(value.clone())),
        }
    }
}

fn push(out: &mut Vec<ChangedAttr>, urn: Option<String>, attr: &str, value: Option<Value>) {
    let same = |c: &ChangedAttr| {
        c.attr.eq_ignore_ascii_case(attr)
            && match (&c.urn, &urn) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    };
    match out.iter_mut().find(|c| same(c)) {
        // A later operation on the same attribute decides its value.
        Some(existing) => existing.value = value,
        None => out.push(ChangedAttr {
            urn,
            attr: attr.to_string(),
            value,
        }),
    }
}

fn is_false(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        // Some IdPs send booleans as strings; the dialect layer usually
        // normalizes them, but the event must not depend on it.
        Value::String(s) => s.eq_ignore_ascii_case("false"),
        _ => false,
    }
}

fn is_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}
