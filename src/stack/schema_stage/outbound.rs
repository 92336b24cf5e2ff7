//! The way back: an upstream answer in the tenant's schema (resources,
//! ListResponse items, Bulk responses, error details).
use super::body::fix_length;
use super::{Inbound, Shape};
use bytes::Bytes;
use http::Response;
use serde_json::Value;

/// Maps a JSON answer of a mapped tenant; anything else passes untouched
/// (an answer that is not JSON cannot hold mapped attributes).
pub(crate) fn outbound(inbound: &Inbound<'_>, response: Response<Bytes>) -> Response<Bytes> {
    let Some(table) = inbound.table else {
        return response;
    };
    if inbound.shape == Shape::Opaque && response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    if body.is_empty() {
        return Response::from_parts(parts, body);
    }
    if let (true, Shape::Resource, Some(m)) =
        (parts.status.is_success(), inbound.shape, inbound.mapping)
    {
        // Member by member: only what the table touches is parsed.
        if let Some(mapped) = m.bytes_to_tenant(&body) {
            fix_length(&mut parts.headers, mapped.len());
            return Response::from_parts(parts, Bytes::from(mapped));
        }
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return Response::from_parts(parts, body);
    };
    let mapped = if !parts.status.is_success() {
        table.error_to_tenant(&value, inbound.mapping)
    } else {
        match (inbound.shape, inbound.mapping) {
            (Shape::Resource, Some(m)) => m.into_tenant(value),
            (Shape::List, Some(m)) => m.list_to_tenant(&value),
            (Shape::Bulk, _) => table.bulk_response_to_tenant(&value),
            (Shape::Mixed, _) => mixed_list(table, value),
            _ => return Response::from_parts(parts, body),
        }
    };
    let bytes = Bytes::from(serde_json::to_vec(&mapped).unwrap_or_default());
    fix_length(&mut parts.headers, bytes.len());
    Response::from_parts(parts, bytes)
}

/// A ListResponse of several types: each item by its own type's mapping,
/// found by `meta.resourceType` or else by the upstream core schema in its
/// `schemas` (a projection may leave `meta` out); items of unmapped types
/// pass.
fn mixed_list(table: &crate::mapping::CompiledMapping, mut list: Value) -> Value {
    let items = list
        .as_object_mut()
        .and_then(|o| crate::scim::json::get_ci_mut(o, "Resources"))
        .and_then(Value::as_array_mut);
    for item in items.into_iter().flatten() {
        let by_meta = item
            .pointer("/meta/resourceType")
            .and_then(Value::as_str)
            .and_then(|k| table.resource(k));
        let by_schema = || {
            let schemas = item.get("schemas").and_then(Value::as_array)?;
            table.resources().find(|m| {
                schemas
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|s| s.eq_ignore_ascii_case(m.upstream_schema()))
            })
        };
        if let Some(m) = by_meta.or_else(by_schema) {
            *item = m.into_tenant(std::mem::take(item));
        }
    }
    list
}
