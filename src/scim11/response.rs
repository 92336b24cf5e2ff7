//! SCIM 1.1 responses as SCIM 2.0 ones: lists, errors and single
//! resources; and the reverse, for test doubles of 1.1 services.
//!
//! A 1.1 list (SCIM 1.1 API §3.2.2) is `{"totalResults", "itemsPerPage",
//! "startIndex", "schemas": ["urn:scim:schemas:core:1.0"], "Resources"}`;
//! the 2.0 `ListResponse` (RFC 7644 §3.4.2) has the same members under its
//! message schema. A 1.1 error (SCIM 1.1 API §3.9) is `{"Errors":
//! [{"description", "code"}]}`; the 2.0 one (RFC 7644 §3.12) is a single
//! `{"status", "scimType", "detail"}`.
use super::resource::{resource_from_scim11, resource_to_scim11};
use super::{ResourceKind, CORE_SCHEMA_11};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::json::get_ci;
use crate::scim::query::LIST_RESPONSE_SCHEMA;
use serde_json::{json, Value};

/// A whole 1.1 response as its 2.0 form: an error status gives the
/// [`ScimError`] to send; a body with `totalResults` is a list; anything
/// else is a single resource. `kind` and `base_url` are as in
/// [`resource_from_scim11`].
pub fn response_from_scim11(
    status: u16,
    body: &Value,
    kind: ResourceKind,
    base_url: Option<&str>,
) -> ScimResult<Value> {
    if status >= 400 {
        return Err(error_from_scim11(status, body));
    }
    match body {
        Value::Object(obj) if get_ci(obj, "totalResults").is_some() => {
            list_from_scim11(body, kind, base_url)
        }
        _ => Ok(resource_from_scim11(body, kind, base_url)),
    }
}

/// A 1.1 list as a 2.0 `ListResponse`, each resource translated.
/// `startIndex` defaults to 1 and `itemsPerPage` to the number of
/// resources (1.1 requires them only for partial results). A body without
/// `totalResults` is a 502: the upstream broke the protocol.
pub fn list_from_scim11(
    body: &Value,
    kind: ResourceKind,
    base_url: Option<&str>,
) -> ScimResult<Value> {
    let bad = |why: &str| ScimError::new(502, None, format!("the SCIM 1.1 service sent {why}"));
    let Value::Object(obj) = body else {
        return Err(bad("a list that is not a JSON object"));
    };
    let total = get_ci(obj, "totalResults")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("a list without a numeric \"totalResults\""))?;
    let resources: Vec<Value> = match get_ci(obj, "Resources") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|r| resource_from_scim11(r, kind, base_url))
            .collect(),
        Some(_) => return Err(bad("a list whose \"Resources\" is not an array")),
    };
    let start_index = get_ci(obj, "startIndex")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let items_per_page = get_ci(obj, "itemsPerPage")
        .and_then(Value::as_u64)
        .unwrap_or(resources.len() as u64);
    Ok(json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": items_per_page,
        "Resources": resources,
    }))
}

/// A 1.1 error body, sent with HTTP status `status`, as a [`ScimError`].
///
/// A body in the 2.0 error format is read as such. Otherwise the HTTP
/// status wins over the body's `code` (they should agree); when
/// the status is not an error, the first parseable `code` is used, else 500.
/// The descriptions of all errors make the detail. 1.1 has no `scimType`;
/// a 409 is read as `uniqueness`, the only 2.0 type for a conflict
/// (RFC 7644 §3.3, §3.12), which IdPs use to recognise "already exists".
pub fn error_from_scim11(status: u16, body: &Value) -> ScimError {
    // Some 1.1 services already answer errors the 2.0 way.
    if let Some(e) = ScimError::from_json(body) {
        return match status {
            s if s >= 400 && s != e.status() => ScimError::new(s, e.scim_type(), e.detail()),
            _ => e,
        };
    }
    let errors: &[Value] = match body {
        Value::Object(obj) => get_ci(obj, "Errors")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice),
        _ => &[],
    };
    let code = errors.iter().find_map(|e| match e.get("code") {
        Some(Value::String(s)) => s.trim().parse::<u16>().ok(),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        _ => None,
    });
    let status = match (status, code) {
        (s, _) if s >= 400 => s,
        (_, Some(c)) if c >= 400 => c,
        _ => 500,
    };
    let descriptions: Vec<&str> = errors
        .iter()
        .filter_map(|e| e.get("description").and_then(Value::as_str))
        .filter(|d| !d.is_empty())
        .collect();
    let detail = if descriptions.is_empty() {
        format!("the SCIM 1.1 service answered {status}")
    } else {
        descriptions.join("; ")
    };
    match status {
        409 => ScimError::uniqueness(detail),
        _ => ScimError::new(status, None, detail),
    }
}

/// A [`ScimError`] as a 1.1 error body (for 1.1 test doubles).
pub fn error_to_scim11(error: &ScimError) -> Value {
    json!({
        "Errors": [{
            "description": error.detail(),
            "code": error.status().to_string(),
        }]
    })
}

/// A 2.0 `ListResponse` as a 1.1 list (for 1.1 test doubles); each
/// resource is translated with [`resource_to_scim11`].
pub fn list_to_scim11(list: &Value) -> Value {
    let Value::Object(obj) = list else {
        return list.clone();
    };
    let resources: Vec<Value> = get_ci(obj, "Resources")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(resource_to_scim11).collect())
        .unwrap_or_default();
    let number = |name: &str| get_ci(obj, name).cloned().unwrap_or(Value::Null);
    json!({
        "totalResults": number("totalResults"),
        "itemsPerPage": number("itemsPerPage"),
        "startIndex": number("startIndex"),
        "schemas": [CORE_SCHEMA_11],
        "Resources": resources,
    })
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
