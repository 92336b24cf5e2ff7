//! What a 2.0 PATCH path or value selects, in 1.1 terms: extension
//! objects, core URN prefixes, read-only attributes, elements selected by
//! `value`, and delete marks.
use crate::scim::error::ScimError;
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::json::get_ci;
use crate::scim::patch::PatchPath;
use crate::scim::path::{has_urn_prefix, AttrPath};
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use crate::scim11::Scim11Error;
use serde_json::Value;

/// True when a path-less value's `key` is an extension schema URN whose
/// value holds that extension's attributes (RFC 7644 §3.5.2.1), rather
/// than a URN-qualified attribute such as `urn:...:User:manager`.
pub(super) fn extension_object(key: &str) -> bool {
    if !has_urn_prefix(key) || is_core_urn(key) {
        return false;
    }
    let qualified = |schema: &str| {
        key.len() > schema.len()
            && key.as_bytes().get(schema.len()) == Some(&b':')
            && key[..schema.len()].eq_ignore_ascii_case(schema)
    };
    !(qualified(USER_SCHEMA) || qualified(GROUP_SCHEMA) || qualified(ENTERPRISE_USER_SCHEMA))
}

pub(super) fn is_core_urn(urn: &str) -> bool {
    urn.eq_ignore_ascii_case(USER_SCHEMA) || urn.eq_ignore_ascii_case(GROUP_SCHEMA)
}

/// The path without a core schema URN prefix (1.1 core attributes are
/// unqualified).
pub(super) fn without_core_urn(path: &AttrPath) -> AttrPath {
    match &path.urn {
        Some(urn) if is_core_urn(urn) => AttrPath {
            urn: None,
            ..path.clone()
        },
        _ => path.clone(),
    }
}

/// `id`, `meta` and `schemas` are not the client's to patch (RFC 7643 §3.1).
pub(super) fn check_writable(path: &AttrPath) -> Result<(), Scim11Error> {
    let read_only = ["id", "meta", "schemas"];
    if path.urn.is_none() && read_only.iter().any(|r| r.eq_ignore_ascii_case(&path.attr)) {
        return Err(ScimError::mutability(format!("\"{path}\" is read-only")).into());
    }
    Ok(())
}

pub(super) fn every_element(path: &AttrPath) -> Scim11Error {
    Scim11Error::emulable(ScimError::invalid_path(format!(
        "PATCH path \"{path}\" cannot be sent to a SCIM 1.1 service: it names a \
         sub-attribute of every element, and SCIM 1.1 matches elements by \"value\" only"
    )))
}

/// The values a `value eq "x"` filter, or an `or` of such, selects.
pub(super) fn selected_values(filter: &Filter) -> Option<Vec<Value>> {
    match filter {
        Filter::Or(a, b) => {
            let mut values = selected_values(a)?;
            values.extend(selected_values(b)?);
            Some(values)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none()
            && path.sub_attr.is_none()
            && path.attr.eq_ignore_ascii_case("value") =>
        {
            match value {
                CompValue::String(s) => Some(vec![Value::String(s.clone())]),
                CompValue::Number(n) => Some(vec![Value::Number(n.clone())]),
                CompValue::Null | CompValue::Bool(_) => None,
            }
        }
        _ => None,
    }
}

/// The `value`s of a list of `{"value": ...}` objects; `None` when the
/// list is empty or an element has no `value`.
pub(super) fn element_values(value: &Value) -> Option<Vec<Value>> {
    let elements = value.as_array().filter(|a| !a.is_empty())?;
    elements
        .iter()
        .map(|e| e.as_object().and_then(|o| get_ci(o, "value")).cloned())
        .collect()
}

pub(super) fn is_delete(element: &Value) -> bool {
    element
        .get("operation")
        .and_then(Value::as_str)
        .is_some_and(|op| op.eq_ignore_ascii_case("delete"))
}

/// True when `path` is the enterprise extension URN itself (which parses
/// as the "attribute" `User` of the URN `...:enterprise:2.0`).
pub(super) fn whole_extension(path: &PatchPath) -> bool {
    path.filter.is_none()
        && path.attr.sub_attr.is_none()
        && path
            .attr
            .to_string()
            .eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA)
}
