//! The way back: an upstream answer in the tenant's schema (resources,
//! ListResponse items, Bulk responses, error details).
use super::{fix_length, Inbound, Shape};
use bytes::Bytes;
use http::Response;
use serde_json::Value;

/// Maps a JSON answer of a mapped tenant; anything else passes untouched
/// (an answer that is not JSON cannot hold mapped attributes).
pub fn outbound(inbound: &Inbound<'_>, response: Response<Bytes>) -> Response<Bytes> {
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
            _ => return Response::from_parts(parts, body),
        }
    };
    let bytes = Bytes::from(serde_json::to_vec(&mapped).unwrap_or_default());
    fix_length(&mut parts.headers, bytes.len());
    Response::from_parts(parts, bytes)
}
