//! Request bodies of one resource: the media type checked, POST and PUT
//! bodies validated, normalized and mapped, PATCH bodies bounded, checked
//! and mapped (RFC 7644 §3.3, §3.5); whether a write deprovisions a User.
//!
//! Imports: `scim` (parsing, validation, PATCH), `mapping`, the tenant's
//! schema.
use crate::mapping::{patch_to_json, scan_members, ResourceMapping};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::patch::{check_operation_count, check_patch, operation_count, PatchRequest};
use crate::scim::schema::ResourceType;
use crate::scim::validate::validate_resource_owned;
use crate::scim::validate_raw::{verbatim, verbatim_members, verbatim_scanned, Scanned};
use crate::tenant::schema::TenantSchema;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue};
use serde_json::Value;

/// Bodies must be JSON: `application/scim+json` or `application/json`
/// (RFC 7644 §3.1; `+json` suffixes too); a missing type is accepted.
pub(super) fn json_body(headers: &HeaderMap, body: &Bytes) -> ScimResult<Value> {
    check_media_type(headers)?;
    parse_body(body)
}

/// The body as JSON (its media type already checked).
pub(super) fn parse_body(body: &Bytes) -> ScimResult<Value> {
    if body.is_empty() {
        return Err(ScimError::invalid_syntax(
            "the request body is empty; a JSON object is required",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")))
}

/// 415 unless the body is declared JSON (or not declared at all).
pub(super) fn check_media_type(headers: &HeaderMap) -> ScimResult<()> {
    if let Some(ct) = headers.get(CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        let media = ct.split(';').next().unwrap_or("").trim();
        let ok = media.eq_ignore_ascii_case("application/scim+json")
            || media.eq_ignore_ascii_case("application/json")
            || media
                .get(media.len().saturating_sub(5)..)
                .is_some_and(|s| s.eq_ignore_ascii_case("+json"));
        if !ok {
            return Err(ScimError::unsupported_media_type(format!(
                "Content-Type \"{}\" is not supported; send application/scim+json",
                ct.chars().take(64).collect::<String>()
            )));
        }
    }
    Ok(())
}

pub(super) fn to_bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// POST and PUT bodies: validated, normalized, mapped. With the body
/// that goes upstream and `keep_scan` (the write is audited), the members
/// the validation's scan found, when it took the fast path (the audit
/// record's names are read from them).
pub(super) fn resource_body(
    schema: &TenantSchema,
    rt: &ResourceType,
    mapping: Option<&ResourceMapping>,
    headers: &HeaderMap,
    body: &Bytes,
    keep_scan: bool,
) -> ScimResult<(Bytes, Option<Box<Scanned>>)> {
    if !schema.validate && mapping.is_none() {
        return Ok((body.clone(), None));
    }
    check_media_type(headers)?;
    if let Some(m) = mapping {
        // Member by member, from one scan: only the members the table
        // touches are parsed (`mapping::members`).
        let members = if schema.validate {
            verbatim_members(&schema.registry, rt, body)
        } else {
            scan_members(body)
        };
        if let Some(mapped) = members.and_then(|ms| m.members_to_upstream(&ms, schema.validate)) {
            return mapped.map(|b| (Bytes::from(b), None));
        }
    }
    if mapping.is_none() {
        // Most bodies need no normalization: checked without building
        // values and forwarded as written, readOnly members cut.
        if keep_scan {
            if let Some((bytes, scanned)) = verbatim_scanned(&schema.registry, rt, body) {
                return Ok((bytes, Some(Box::new(scanned))));
            }
        } else if let Some(bytes) = verbatim(&schema.registry, rt, body) {
            return Ok((bytes, None));
        }
    }
    let value = parse_body(body)?;
    let value = if schema.validate {
        validate_resource_owned(&schema.registry, rt, value, None)?
    } else {
        value
    };
    let value = match mapping {
        Some(m) => m.into_upstream(value)?,
        None => value,
    };
    Ok((to_bytes(&value), None))
}

/// PATCH bodies: checked, then mapped (paths, filters, values). The
/// parsed request comes back too, for an emulated PATCH to apply in the
/// tenant's schema.
pub(super) fn patch_body(
    schema: &TenantSchema,
    rt: &ResourceType,
    mapping: Option<&ResourceMapping>,
    headers: &HeaderMap,
    body: &Bytes,
) -> ScimResult<(Bytes, Option<PatchRequest>)> {
    if !schema.validate && mapping.is_none() {
        // Not parsed here; still bounded before an emulated PATCH or the
        // built-in store applies it (a document the scanner declines is
        // parsed to count).
        let count = std::str::from_utf8(body)
            .ok()
            .and_then(crate::scim::json_scan::operations_len)
            .or_else(|| parse_body(body).ok().map(|v| operation_count(&v)))
            .unwrap_or(0);
        check_operation_count(count, schema.max_patch_operations)?;
        return Ok((body.clone(), None));
    }
    let value = json_body(headers, body)?;
    // After the dialect, which may have split operations (a remove by a
    // value list becomes one remove per value).
    check_operation_count(operation_count(&value), schema.max_patch_operations)?;
    let request = PatchRequest::parse(&value)?;
    if schema.validate {
        check_patch(&schema.registry, rt, &request)?;
    }
    match mapping {
        Some(m) => {
            let mapped = m.patch_to_upstream(&request)?;
            if mapped.operations.is_empty() {
                // Only attributes that never go upstream: RFC 7644 §3.5.2
                // has no empty PatchOp; refuse rather than lose it quietly.
                return Err(ScimError::invalid_value(
                    "every operation of this PATCH targets attributes this tenant keeps \
                     at the gateway only; nothing would change",
                ));
            }
            Ok((to_bytes(&patch_to_json(&mapped)), Some(request)))
        }
        None => Ok((body.clone(), Some(request))),
    }
}

/// A PUT body with `"active": false` (the tenant's names, before mapping).
pub(super) fn deactivates_put(body: &Bytes) -> bool {
    // Cheap test first: most bodies never mention it.
    memchr::memmem::find(body, b"false").is_some()
        && serde_json::from_slice::<Value>(body).ok().and_then(|v| {
            v.as_object()
                .and_then(|o| crate::scim::json::get_ci(o, "active").cloned())
        }) == Some(Value::Bool(false))
}

/// A PATCH that sets `active` to false: `replace`/`add` with path `active`,
/// or a path-less value holding `"active": false`.
pub(super) fn deactivates_patch(body: &Bytes) -> bool {
    if memchr::memmem::find(body, b"false").is_none() {
        return false;
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let ops = v
        .as_object()
        .and_then(|o| crate::scim::json::get_ci(o, "Operations"))
        .and_then(Value::as_array);
    ops.into_iter().flatten().any(|op| {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        if kind.eq_ignore_ascii_case("remove") {
            return false;
        }
        let value = op.get("value");
        match op.get("path").and_then(Value::as_str) {
            Some(p) => p.eq_ignore_ascii_case("active") && value == Some(&Value::Bool(false)),
            None => {
                value
                    .and_then(Value::as_object)
                    .and_then(|o| crate::scim::json::get_ci(o, "active"))
                    == Some(&Value::Bool(false))
            }
        }
    })
}

/// Sets `Content-Length` for a rewritten body (hyper would otherwise
/// trust the upstream's).
pub(super) fn fix_length(headers: &mut HeaderMap, len: usize) {
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
}
