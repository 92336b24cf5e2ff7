//! Pure helpers that decide what an audit record says about a request's
//! body: the names of the attributes it changes, and the values of those
//! on a tenant's allow-list. serde_json and std only; lenient, because
//! rejected (malformed) requests are audited too.
//!
//! Names are top-level attributes (`userName`, `name`, `emails`); an
//! extension's attributes are named with their schema URN
//! (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`),
//! the full form of RFC 7644 §3.10. A sub-attribute change (`name.givenName`,
//! `emails[type eq "work"].value`) names its top-level attribute.
mod raw;

pub(crate) use raw::{resource_names_raw, resource_names_scanned};

use super::names::AttributeNames;

use crate::scim::json::get_ci;
use crate::scim::patch::PatchPath;
use serde_json::{Map, Value};

/// Longest attribute name kept: names come from client input.
pub(super) const MAX_NAME_CHARS: usize = 256;
/// Most names kept from one request.
pub(super) const MAX_NAMES: usize = 512;
/// Never recorded, even when allow-listed (RFC 7643 §4.1.1: `password` is
/// write-only and never returned; it must not be kept either).
const NEVER_RECORDED: &str = "password";

/// The names of the attributes a SCIM write changes, deduplicated
/// case-insensitively (RFC 7643 §2.1), in order of first appearance:
/// - POST/PUT (RFC 7644 §3.3, §3.5.1): the body's top-level keys except
///   `schemas`, `id` and `meta`; an extension object's keys as `urn:attr`;
/// - PATCH (RFC 7644 §3.5.2): each operation's `path` (its top-level
///   attribute), or for a path-less operation the keys of its `value`;
/// - DELETE and anything else: none.
pub(crate) fn changed_attributes(method: &str, body: Option<&Value>) -> AttributeNames {
    let mut names = Names::default();
    let Some(Value::Object(obj)) = body else {
        return names.list;
    };
    if method.eq_ignore_ascii_case("POST") || method.eq_ignore_ascii_case("PUT") {
        resource_names(obj, &mut names);
    } else if method.eq_ignore_ascii_case("PATCH") {
        for op in operations(obj) {
            match op_path(op) {
                Some(path) => names.push(&path_name(path)),
                None => {
                    if let Some(Value::Object(value)) = get_ci(op, "value") {
                        resource_names(value, &mut names);
                    }
                }
            }
        }
    }
    names.list
}

/// The values of the changed attributes that are on `allow_list`
/// (case-insensitive, full names as [`changed_attributes`] gives them);
/// `None` when there are none. Every other value stays out, and so does
/// `password` (in any schema, at any depth) even when allow-listed.
///
/// POST/PUT map each name to its value in the body. PATCH maps each name
/// to the list of operations on it, each `{"op", "path"?, "value"?}`
/// (for a path-less operation, `value` is the attribute's part of it).
pub(crate) fn allowed_values(
    method: &str,
    body: Option<&Value>,
    allow_list: &[String],
) -> Option<Map<String, Value>> {
    if allow_list.is_empty() {
        return None;
    }
    let Some(Value::Object(obj)) = body else {
        return None;
    };
    let allowed = |name: &str| {
        !is_never_recorded(name) && allow_list.iter().any(|a| a.eq_ignore_ascii_case(name))
    };
    let mut out = Map::new();
    if method.eq_ignore_ascii_case("POST") || method.eq_ignore_ascii_case("PUT") {
        for (name, value) in resource_values(obj) {
            if allowed(&name) && !out.keys().any(|k| k.eq_ignore_ascii_case(&name)) {
                out.insert(name, scrubbed(value));
            }
        }
    } else if method.eq_ignore_ascii_case("PATCH") {
        for op in operations(obj) {
            let kind = get_ci(op, "op").cloned().unwrap_or(Value::Null);
            let entries: Vec<(String, Option<Value>)> = match op_path(op) {
                Some(path) => vec![(path_name(path), get_ci(op, "value").cloned())],
                None => match get_ci(op, "value") {
                    Some(Value::Object(value)) => resource_values(value)
                        .into_iter()
                        .map(|(n, v)| (n, Some(v.clone())))
                        .collect(),
                    _ => Vec::new(),
                },
            };
            for (name, value) in entries {
                if !allowed(&name) {
                    continue;
                }
                let mut entry = Map::new();
                entry.insert("op".into(), kind.clone());
                if let Some(path) = op_path(op) {
                    entry.insert("path".into(), Value::String(truncated(path)));
                }
                if let Some(v) = value {
                    entry.insert("value".into(), scrubbed(&v));
                }
                let key = out
                    .keys()
                    .find(|k| k.eq_ignore_ascii_case(&name))
                    .cloned()
                    .unwrap_or(name);
                match out.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
                    Value::Array(list) => list.push(Value::Object(entry)),
                    other => *other = Value::Array(vec![Value::Object(entry)]),
                }
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Names collected once each, case-insensitively, bounded in number and
/// in length.
#[derive(Default)]
struct Names {
    list: AttributeNames,
    /// The lengths (mod 64) of the names listed: a name of another length
    /// equals none of them, ignoring case or not.
    lengths: u64,
}

impl Names {
    /// Room for `names` names of `bytes` bytes in all.
    fn with_capacity(names: usize, bytes: usize) -> Names {
        Names {
            list: AttributeNames::with_capacity(names, bytes),
            lengths: 0,
        }
    }

    /// Lists `name` ([`truncated`]), unless it is listed already or the
    /// list is full.
    fn push(&mut self, name: &str) {
        let name = truncated_str(name);
        let length = 1u64 << (name.len() % 64);
        let seen =
            self.lengths & length != 0 && self.list.iter().any(|n| n.eq_ignore_ascii_case(name));
        if self.list.len() < MAX_NAMES && !seen {
            self.lengths |= length;
            self.list.push(name);
        }
    }
}

/// The top-level names of a resource body (or a path-less PATCH value).
fn resource_names(obj: &Map<String, Value>, names: &mut Names) {
    for (name, _) in resource_values(obj) {
        names.push(&name);
    }
}

/// `(full name, value)` for every attribute of a resource body, extension
/// objects flattened to `urn:attr`.
fn resource_values(obj: &Map<String, Value>) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (key, value) in obj {
        if ["schemas", "id", "meta"]
            .iter()
            .any(|k| key.eq_ignore_ascii_case(k))
        {
            continue;
        }
        match value {
            // RFC 7644 §3.3: extension attributes sit in an object keyed by
            // the extension's schema URN.
            Value::Object(ext) if is_urn(key) => {
                for (sub, v) in ext {
                    out.push((truncated(&format!("{key}:{sub}")), v));
                }
            }
            _ => out.push((truncated(key), value)),
        }
    }
    out
}

/// The PatchOp's `Operations`, objects only.
fn operations(obj: &Map<String, Value>) -> impl Iterator<Item = &Map<String, Value>> {
    let ops = match get_ci(obj, "Operations") {
        Some(Value::Array(ops)) => ops.as_slice(),
        _ => &[],
    };
    ops.iter().filter_map(Value::as_object)
}

/// A non-empty `path` of an operation.
fn op_path(op: &Map<String, Value>) -> Option<&str> {
    get_ci(op, "path")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// The top-level attribute a PATCH path changes; for a path that does not
/// parse, its text up to any value filter (still a useful clue).
fn path_name(path: &str) -> String {
    match PatchPath::parse(path) {
        Ok(p) => match p.attr.urn {
            Some(urn) => truncated(&format!("{urn}:{}", p.attr.attr)),
            None => truncated(&p.attr.attr),
        },
        Err(_) => truncated(path.split('[').next().unwrap_or(path).trim()),
    }
}

fn is_urn(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// The attribute part of a full name (`urn:...:User:password` → `password`).
fn is_never_recorded(name: &str) -> bool {
    let attr = name.rsplit(':').next().unwrap_or(name);
    let attr = attr.split('.').next().unwrap_or(attr);
    attr.eq_ignore_ascii_case(NEVER_RECORDED)
}

/// `value` with every `password` member removed, at any depth.
fn scrubbed(value: &Value) -> Value {
    match value {
        Value::Object(obj) => Value::Object(
            obj.iter()
                .filter(|(k, _)| !is_never_recorded(k))
                .map(|(k, v)| (k.clone(), scrubbed(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(scrubbed).collect()),
        other => other.clone(),
    }
}

/// `s`, cut to its first [`MAX_NAME_CHARS`] characters.
fn truncated(s: &str) -> String {
    truncated_str(s).to_string()
}

/// [`truncated`], borrowed.
fn truncated_str(s: &str) -> &str {
    // No more bytes than the limit: no more characters either.
    if s.len() <= MAX_NAME_CHARS {
        return s;
    }
    match s.char_indices().nth(MAX_NAME_CHARS) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}
