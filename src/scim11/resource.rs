//! Users and Groups between SCIM 2.0 and SCIM 1.1.
//!
//! The attributes themselves are the same in both versions (1.1 Core
//! Schema §5-§8, RFC 7643 §4); what changes is the envelope:
//!
//! - `schemas`: the 2.0 User and Group core URNs are both
//!   `urn:scim:schemas:core:1.0`; the enterprise extension URN changes and
//!   its attributes stay in an object keyed by the URN;
//! - `meta.resourceType` does not exist in 1.1 (restored from the
//!   [`ResourceKind`] on the way back); `meta.attributes` exists only in
//!   1.1 PATCH bodies (dropped on the way back);
//! - `$ref` does not exist in 1.1 (restored from a base URL when one is
//!   given); the 1.1 enterprise `manager` has `managerId` where 2.0 has
//!   `value`; 1.1 elements may carry `operation` (PATCH only, dropped).
//!
//! Custom extension URNs and unknown attributes pass through unchanged.
use super::{ResourceKind, CORE_SCHEMA_11, ENTERPRISE_SCHEMA_11};
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use serde_json::{Map, Value};

/// A 2.0 User or Group (or a partial one, such as a PATCH body) in 1.1 form.
/// A value that is not an object is returned unchanged.
pub fn resource_to_scim11(resource: &Value) -> Value {
    let Value::Object(obj) = resource else {
        return resource.clone();
    };
    let mut out = Map::with_capacity(obj.len());
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            out.insert(key.clone(), schemas_to_scim11(value));
        } else if key.eq_ignore_ascii_case("meta") {
            if let Some(meta) = without_members(value, &["resourceType"]) {
                out.insert(key.clone(), meta);
            }
        } else if key.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) {
            out.insert(ENTERPRISE_SCHEMA_11.into(), enterprise_to_scim11(value));
        } else {
            // 1.1 has no `$ref` (members, groups); RFC 7643 §2.3.7.
            out.insert(key.clone(), strip_elements(value, &["$ref"]));
        }
    }
    Value::Object(out)
}

/// A 1.1 User or Group in 2.0 form. `kind` picks the core schema URN and
/// `meta.resourceType`; with `base_url` (the service's base, without a
/// trailing `/`), `$ref` of members, groups and manager is rebuilt as
/// `{base_url}/Users/{value}` or `{base_url}/Groups/{value}`.
pub fn resource_from_scim11(resource: &Value, kind: ResourceKind, base_url: Option<&str>) -> Value {
    let Value::Object(obj) = resource else {
        return resource.clone();
    };
    let base_url = base_url.map(|b| b.trim_end_matches('/'));
    let mut out = Map::with_capacity(obj.len() + 1);
    if !obj.keys().any(|k| k.eq_ignore_ascii_case("schemas")) {
        out.insert(
            "schemas".into(),
            Value::Array(vec![kind.core_schema().into()]),
        );
    }
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            out.insert(key.clone(), schemas_from_scim11(value, kind));
        } else if key.eq_ignore_ascii_case("meta") {
            out.insert(key.clone(), meta_from_scim11(value, kind));
        } else if key.eq_ignore_ascii_case(ENTERPRISE_SCHEMA_11) {
            out.insert(
                ENTERPRISE_USER_SCHEMA.into(),
                enterprise_from_scim11(value, base_url),
            );
        } else {
            let value = strip_elements(value, &["operation"]);
            let value = match (base_url, ref_target(kind, key)) {
                (Some(base), Some(target)) => with_refs(value, base, target),
                _ => value,
            };
            out.insert(key.clone(), value);
        }
    }
    list_extensions(&mut out);
    Value::Object(out)
}

/// Adds to `schemas` every extension whose object is present: some 1.1
/// services list only the core URN (RFC 7643 §3 requires all of them).
fn list_extensions(resource: &mut Map<String, Value>) {
    let present: Vec<String> = resource
        .iter()
        .filter(|(k, v)| v.is_object() && crate::scim::path::has_urn_prefix(k))
        .map(|(k, _)| k.clone())
        .collect();
    let Some(Value::Array(schemas)) = crate::scim::json::get_ci_mut(resource, "schemas") else {
        return;
    };
    for urn in present {
        let listed = schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&urn)));
        if !listed {
            schemas.push(Value::String(urn));
        }
    }
}

/// Maps one schema URN to its 1.1 counterpart; other URNs are kept.
pub(crate) fn schema_urn_to_scim11(urn: &str) -> &str {
    if urn.eq_ignore_ascii_case(USER_SCHEMA) || urn.eq_ignore_ascii_case(GROUP_SCHEMA) {
        CORE_SCHEMA_11
    } else if urn.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA) {
        ENTERPRISE_SCHEMA_11
    } else {
        urn
    }
}

/// Maps one 1.1 schema URN to its 2.0 counterpart for `kind`.
pub(crate) fn schema_urn_from_scim11(urn: &str, kind: ResourceKind) -> &str {
    if urn.eq_ignore_ascii_case(CORE_SCHEMA_11) {
        kind.core_schema()
    } else if urn.eq_ignore_ascii_case(ENTERPRISE_SCHEMA_11) {
        ENTERPRISE_USER_SCHEMA
    } else {
        urn
    }
}

fn schemas_to_scim11(schemas: &Value) -> Value {
    map_urns(schemas, schema_urn_to_scim11)
}

fn schemas_from_scim11(schemas: &Value, kind: ResourceKind) -> Value {
    map_urns(schemas, |u| schema_urn_from_scim11(u, kind))
}

/// Maps every URN of a `schemas` array, dropping duplicates (User and Group
/// core URNs collapse into one).
fn map_urns<'a>(schemas: &'a Value, map: impl Fn(&'a str) -> &'a str) -> Value {
    let Value::Array(urns) = schemas else {
        return schemas.clone();
    };
    let mut out: Vec<Value> = Vec::with_capacity(urns.len());
    for urn in urns {
        let mapped = match urn {
            Value::String(s) => Value::String(map(s).to_string()),
            other => other.clone(),
        };
        if !out.contains(&mapped) {
            out.push(mapped);
        }
    }
    Value::Array(out)
}

fn meta_from_scim11(meta: &Value, kind: ResourceKind) -> Value {
    let rest = match without_members(meta, &["attributes", "resourceType"]) {
        Some(Value::Object(rest)) => rest,
        None => Map::new(),
        Some(other) => return other,
    };
    let mut out = Map::with_capacity(rest.len() + 1);
    out.insert("resourceType".into(), kind.as_str().into());
    out.extend(rest);
    Value::Object(out)
}

/// 1.1 Core Schema §7: the enterprise `manager` is `{managerId, displayName}`.
fn enterprise_to_scim11(ext: &Value) -> Value {
    map_manager(ext, |manager| {
        let mut out = Map::with_capacity(manager.len());
        for (k, v) in manager {
            if k.eq_ignore_ascii_case("value") {
                out.insert("managerId".into(), v.clone());
            } else if !k.eq_ignore_ascii_case("$ref") {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    })
}

fn enterprise_from_scim11(ext: &Value, base_url: Option<&str>) -> Value {
    map_manager(ext, |manager| {
        let mut out = Map::with_capacity(manager.len() + 1);
        for (k, v) in manager {
            if k.eq_ignore_ascii_case("managerId") {
                out.insert("value".into(), v.clone());
                if let (Some(base), Value::String(id)) = (base_url, v) {
                    let uri = format!("{base}/{}/{id}", ResourceKind::User.endpoint());
                    out.insert("$ref".into(), uri.into());
                }
            } else if !k.eq_ignore_ascii_case("operation") {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    })
}

fn map_manager(ext: &Value, f: impl Fn(&Map<String, Value>) -> Map<String, Value>) -> Value {
    let Value::Object(obj) = ext else {
        return ext.clone();
    };
    let out = obj
        .iter()
        .map(|(k, v)| match v {
            Value::Object(manager) if k.eq_ignore_ascii_case("manager") => {
                (k.clone(), Value::Object(f(manager)))
            }
            _ => (k.clone(), v.clone()),
        })
        .collect();
    Value::Object(out)
}

/// Where the `$ref` of an element of a multi-valued attribute points.
#[derive(Debug, Clone, Copy)]
enum RefTarget {
    /// Always one endpoint (a User's `groups` are Groups).
    Endpoint(ResourceKind),
    /// Chosen by the element's `type` (a Group's `members`, RFC 7643 §4.2).
    ByType,
}

/// The `$ref` target of attribute `key` of a `kind` resource, if it has one.
fn ref_target(kind: ResourceKind, key: &str) -> Option<RefTarget> {
    match kind {
        ResourceKind::Group if key.eq_ignore_ascii_case("members") => Some(RefTarget::ByType),
        ResourceKind::User if key.eq_ignore_ascii_case("groups") => {
            Some(RefTarget::Endpoint(ResourceKind::Group))
        }
        _ => None,
    }
}

/// Adds `$ref` (`{base}/{Users|Groups}/{value}`) to the elements of a
/// multi-valued attribute.
fn with_refs(value: Value, base: &str, target: RefTarget) -> Value {
    let Value::Array(mut elements) = value else {
        return value;
    };
    for element in &mut elements {
        let Value::Object(obj) = element else {
            continue;
        };
        let kind = match target {
            RefTarget::Endpoint(kind) => Some(kind),
            RefTarget::ByType => obj
                .get("type")
                .and_then(Value::as_str)
                .and_then(ResourceKind::parse),
        };
        if let (Some(Value::String(id)), Some(kind)) = (obj.get("value"), kind) {
            let uri = format!("{base}/{}/{id}", kind.endpoint());
            obj.insert("$ref".into(), uri.into());
        }
    }
    Value::Array(elements)
}

/// An object without the members named in `names` (ignoring case); `None`
/// when nothing is left.
fn without_members(value: &Value, names: &[&str]) -> Option<Value> {
    let Value::Object(obj) = value else {
        return Some(value.clone());
    };
    let kept: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| !names.iter().any(|n| k.eq_ignore_ascii_case(n)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!kept.is_empty()).then_some(Value::Object(kept))
}

/// A multi-valued attribute whose object elements lose the members named
/// in `names`; any other value is returned unchanged.
fn strip_elements(value: &Value, names: &[&str]) -> Value {
    let Value::Array(elements) = value else {
        return value.clone();
    };
    let elements = elements
        .iter()
        .map(|e| match e {
            Value::Object(_) => {
                without_members(e, names).unwrap_or_else(|| Value::Object(Map::new()))
            }
            other => other.clone(),
        })
        .collect();
    Value::Array(elements)
}

#[cfg(test)]
#[path = "resource_tests.rs"]
mod tests;
