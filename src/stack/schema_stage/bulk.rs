//! Bulk requests (RFC 7644 §3.7): every operation bounded, checked and
//! mapped by its path, each PATCH kept parsed for an emulated PATCH; and
//! the count of a BulkResponse's outcomes for the metrics.
//!
//! Imports: `scim` (Bulk, PATCH, validation), the tenant's schema, the
//! stage's request bodies (`body`).
use super::body::{json_body, to_bytes};
use super::{forward, Inbound, Shape, Stage, TenantPatch};
use crate::scim::bulk::{BulkMethod, BulkRequest};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::patch::{check_operation_count, check_patch, operation_count, PatchRequest};
use crate::scim::validate::validate_resource;
use crate::tenant::schema::TenantSchema;
use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

/// A Bulk request: every operation validated and mapped by its path.
pub(super) fn bulk<'t>(
    schema: &'t TenantSchema,
    headers: &HeaderMap,
    query: Option<String>,
    body: Bytes,
) -> ScimResult<Stage<'t>> {
    let table = schema.mapping.as_ref();
    if !schema.validate && table.is_none() {
        let mut stage = forward(query, body);
        if let Stage::Forward(i) = &mut stage {
            i.bulk = true;
        }
        return Ok(stage);
    }
    json_body(headers, &body)?;
    let request = BulkRequest::parse(&body, schema.bulk)?;
    for (i, op) in request.operations.iter().enumerate() {
        let checked = match (op.method, &op.data) {
            (BulkMethod::Patch, Some(data)) => {
                check_operation_count(operation_count(data), schema.max_patch_operations)
            }
            _ => Ok(()),
        };
        checked.map_err(|e| e.with_context(&format!("Operations[{i}]")))?;
    }
    // Each PATCH parsed once: checked, and kept for an emulated PATCH.
    let mut patches = Vec::new();
    if schema.validate || table.is_some() {
        for (i, op) in request.operations.iter().enumerate() {
            let kept = check_bulk_op(schema, op).map_err(|e| {
                let id = op
                    .bulk_id
                    .as_deref()
                    .map(|b| format!(" (bulkId \"{b}\")"))
                    .unwrap_or_default();
                e.with_context(&format!("Operations[{i}]{id}"))
            })?;
            patches.push(kept);
        }
    }
    let body = match table {
        Some(t) => {
            let value: Value = serde_json::from_slice(&body)
                .map_err(|e| ScimError::invalid_syntax(format!("not valid JSON: {e}")))?;
            to_bytes(&t.bulk_request_to_upstream(&value)?)
        }
        None => body,
    };
    Ok(Stage::Forward(Inbound {
        query,
        body,
        mapping: None,
        table,
        shape: if table.is_some() {
            Shape::Bulk
        } else {
            Shape::Opaque
        },
        deprovision: false,
        bulk: true,
        emulated: None,
        tenant_patch: if patches.iter().any(Option::is_some) {
            TenantPatch::Bulk(patches)
        } else {
            TenantPatch::None
        },
        scanned: None,
    }))
}

/// One Bulk operation checked (when the tenant validates); a PATCH comes
/// back parsed, with its resource type.
pub(super) fn check_bulk_op(
    schema: &TenantSchema,
    op: &crate::scim::bulk::BulkOperation,
) -> ScimResult<Option<(String, PatchRequest)>> {
    let first = op.path.split('/').find(|s| !s.is_empty()).unwrap_or("");
    let Some(rt) = schema.registry.resource_type_by_endpoint(first) else {
        if !schema.validate {
            return Ok(None);
        }
        return Err(ScimError::invalid_path(format!(
            "\"{}\" is not an endpoint of this tenant",
            op.path
        )));
    };
    let mapped = schema
        .mapping
        .as_ref()
        .is_some_and(|t| t.resource(&rt.name).is_some());
    match (op.method, &op.data) {
        (BulkMethod::Post | BulkMethod::Put, Some(data)) if schema.validate => {
            validate_resource(&schema.registry, rt, data, None).map(|_| None)
        }
        (BulkMethod::Patch, Some(data)) if schema.validate || mapped => {
            let request = PatchRequest::parse(data)?;
            if schema.validate {
                check_patch(&schema.registry, rt, &request)?;
            }
            Ok(Some((rt.name.clone(), request)))
        }
        (BulkMethod::Post | BulkMethod::Put | BulkMethod::Patch, Some(_))
        | (BulkMethod::Delete, _) => Ok(None),
        (method, None) if schema.validate => Err(ScimError::invalid_syntax(format!(
            "{} needs \"data\"",
            method.as_str()
        ))),
        (_, None) => Ok(None),
    }
}

/// The operations of a BulkResponse: (succeeded, failed), by each
/// operation's `status` (RFC 7644 §3.7.3).
pub(crate) fn bulk_outcomes(body: &[u8]) -> Option<(u64, u64)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let ops = v
        .as_object()
        .and_then(|o| crate::scim::json::get_ci(o, "Operations"))?
        .as_array()?;
    let failed = ops
        .iter()
        .filter(|op| {
            let status = match op.get("status") {
                Some(Value::String(s)) => s.parse::<u16>().unwrap_or(500),
                Some(Value::Number(n)) => n
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .unwrap_or(500),
                _ => 500,
            };
            status >= 400
        })
        .count() as u64;
    Some((ops.len() as u64 - failed, failed))
}
