//! An emulated PATCH (RFC 7644 §3.5.2) in the tenant's schema.
//!
//! The upstream has no PATCH, so the gateway reads the resource, applies
//! the PATCH and writes the whole resource back with `If-Match`
//! (`upstream::emulate::patch`: the retries on 412, the client's own
//! `If-Match`, the bounds). The PATCH to apply is the client's, in the
//! tenant's schema: a mapped (upstream-named) PatchOp cannot be applied to
//! the upstream resource reliably, as its paths name the upstream's own
//! attributes and extensions, which neither the built-in schemas nor the
//! tenant's define; and an unmapped tenant's extensions are known to its
//! schema only.
//!
//! So each attempt, on the resource as read upstream:
//! 1. maps it to the tenant's view (as a GET's answer is mapped), when the
//!    tenant maps;
//! 2. applies the client's PatchOp there (the one the schema stage parsed
//!    and checked after the dialect: it is not parsed again), with the
//!    tenant's schemas (all operations or none);
//! 3. validates the result as a replace of the tenant's resource would be
//!    (`validate` on): types, required attributes, immutables;
//! 4. maps the result back to the upstream's schema, keeping what the
//!    tenant cannot see (attributes the table hides, drops or holds as
//!    constants) as the upstream holds them, so a PATCH never erases them.
//!
//! The answer is the upstream's answer to the PUT, mapped back to the
//! tenant's schema by the outbound stage like every answer.
//!
//! The PATCH operations of a Bulk request the gateway runs itself (the
//! upstream has no Bulk either) are applied the same way, each with its
//! `bulkId:` references resolved (`upstream::emulate::bulk`).
use super::TenantPatch;
use crate::dialect::{has_upsert_candidates, resolve_upserts};
use crate::mapping::ResourceMapping;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::json::{get_ci, key_ci};
use crate::scim::patch::{apply_patch, PatchOperation, PatchRequest};
use crate::scim::schema::ResourceType;
use crate::scim::validate::validate_resource;
use crate::tenant::schema::TenantSchema;
use crate::upstream::emulate::patch::{View, Viewed, Views};
use serde_json::{Map, Value};
use std::sync::Arc;

/// A tenant's PATCH, applied in the tenant's view.
#[derive(Debug)]
pub(crate) struct TenantView {
    schema: Arc<TenantSchema>,
    /// The tenant-facing resource type (its mapping, if any, has the same
    /// name).
    resource_type: String,
    request: PatchRequest,
}

/// The views an emulated PATCH of this request applies in: `Some` when
/// the stage kept the tenant's parsed PATCH (or a Bulk request's); its
/// resource type is the one at `endpoint` (`Users`).
pub(crate) fn view(
    schema: &Arc<TenantSchema>,
    endpoint: &str,
    patch: TenantPatch,
) -> Option<Views> {
    let viewed = |resource_type: String, request| -> Arc<dyn View> {
        Arc::new(TenantView {
            schema: schema.clone(),
            resource_type,
            request,
        })
    };
    match patch {
        TenantPatch::None => None,
        TenantPatch::One(request) => {
            let rt = schema.registry.resource_type_by_endpoint(endpoint)?;
            Some(Views::One(viewed(rt.name.clone(), request)))
        }
        TenantPatch::Bulk(ops) => Some(Views::PerOperation(
            ops.into_iter()
                .map(|op| op.map(|(rt, request)| viewed(rt, request)))
                .collect(),
        )),
    }
}

impl TenantView {
    fn parts(&self) -> ScimResult<(Option<&ResourceMapping>, &ResourceType)> {
        let rt = self
            .schema
            .registry
            .resource_type(&self.resource_type)
            .ok_or_else(|| {
                ScimError::internal(format!(
                    "the resource type {} is not loaded",
                    self.resource_type
                ))
            })?;
        let mapping = self
            .schema
            .mapping
            .as_ref()
            .and_then(|t| t.resource(&self.resource_type));
        Ok((mapping, rt))
    }
}

impl View for TenantView {
    fn apply(&self, current: &Value, filtered_upsert: bool) -> ScimResult<Viewed> {
        let (mapping, rt) = self.parts()?;
        let registry = &self.schema.registry;
        let before = match mapping {
            Some(m) => m.to_tenant(current),
            None => current.clone(),
        };
        let apply = |r: &Value, p: &PatchRequest| apply_patch(registry, rt, r, p);
        // Entra's upserts, resolved against the tenant's view of the
        // resource (`crate::dialect::resolve_upserts`).
        let resolved = (filtered_upsert && has_upsert_candidates(&self.request))
            .then(|| resolve_upserts(&before, &self.request, apply))
            .flatten();
        let upserted = resolved.is_some();
        let after = apply(&before, resolved.as_ref().unwrap_or(&self.request))?;
        if after == before {
            return Ok(Viewed {
                written: None,
                upserted,
            });
        }
        if self.schema.validate {
            // As a replace would be checked. A resource the upstream
            // already holds outside the tenant's schema (an attribute it
            // added) is not the PATCH's fault: then the upstream judges.
            if let Err(e) = validate_resource(registry, rt, &after, Some(&before)) {
                if validate_resource(registry, rt, &before, None).is_ok() {
                    return Err(e);
                }
            }
        }
        let Some(mapping) = mapping else {
            return Ok(Viewed {
                written: Some(after),
                upserted,
            });
        };
        let mut written = mapping.into_upstream(after)?;
        // What the tenant's view could not hold comes back as it was.
        if let Ok(seen) = mapping.into_upstream(before) {
            keep_unseen(&mut written, current, &seen);
        }
        Ok(Viewed {
            written: Some(written),
            upserted,
        })
    }

    fn with_references(&self, resolve: &dyn Fn(&mut Value)) -> Arc<dyn View> {
        let mut request = self.request.clone();
        for op in &mut request.operations {
            if let Some(value) = &mut op.value {
                resolve(value);
            }
        }
        Arc::new(TenantView {
            schema: self.schema.clone(),
            resource_type: self.resource_type.clone(),
            request,
        })
    }

    /// Only when the mapped PatchOp still has a value-filtered add or
    /// replace: one the table turned into a plain path (the work e-mail
    /// kept as `mail`) is applied upstream whether or not the element
    /// existed, with no read first.
    fn has_upsert_candidates(&self) -> bool {
        if !has_upsert_candidates(&self.request) {
            return false;
        }
        match self.parts() {
            Ok((Some(mapping), _)) => mapping
                .patch_to_upstream(&self.request)
                .is_ok_and(|mapped| has_upsert_candidates(&mapped)),
            Ok((None, _)) => true,
            Err(_) => false,
        }
    }

    /// Entra's upserts for an upstream with PATCH, resolved where the
    /// filter means something: in the tenant's view of `current` (a table
    /// may move the element elsewhere, into an extension the gateway
    /// cannot apply a PATCH to schema-lessly). An element created is sent
    /// as a path-less add of the partial resource `{attr: [element]}`
    /// (RFC 7644 §3.5.2.1: the same add, the target being the resource),
    /// so the table maps it as a resource, wherever its rules put it (a
    /// mapped `add` on `attr` would become adds on the element's
    /// filtered upstream paths, which select nothing upstream either).
    fn resolve_upserts(&self, current: &Value) -> ScimResult<Option<PatchRequest>> {
        let (mapping, rt) = self.parts()?;
        let registry = &self.schema.registry;
        let before = match mapping {
            Some(m) => m.to_tenant(current),
            None => current.clone(),
        };
        let apply = |r: &Value, p: &PatchRequest| apply_patch(registry, rt, r, p);
        let Some(mut resolved) = resolve_upserts(&before, &self.request, apply) else {
            return Ok(None);
        };
        let Some(mapping) = mapping else {
            return Ok(Some(resolved));
        };
        for (op, sent) in resolved.operations.iter_mut().zip(&self.request.operations) {
            if op != sent {
                path_less(op);
            }
        }
        mapping.patch_to_upstream(&resolved).map(Some)
    }
}

/// `{"op":"add","path":"attr","value":[...]}` as the path-less add of
/// `{"attr":[...]}` (`{"urn":{"attr":[...]}}` in an extension).
fn path_less(op: &mut PatchOperation) {
    let (Some(path), Some(value)) = (op.path.take(), op.value.take()) else {
        return;
    };
    let mut inner = Map::new();
    inner.insert(path.attr.attr, value);
    let value = match path.attr.urn {
        Some(urn) => {
            let mut outer = Map::new();
            outer.insert(urn, Value::Object(inner));
            outer
        }
        None => inner,
    };
    op.value = Some(Value::Object(value));
}

/// Copies into `written` every member of `current` (the upstream resource
/// as read) that the round trip through the tenant's view (`seen`) lost:
/// hidden, dropped or constant attributes, at any depth of objects.
/// Members the tenant saw are `written`'s business (removed when the PATCH
/// removed them).
fn keep_unseen(written: &mut Value, current: &Value, seen: &Value) {
    let (Value::Object(out), Value::Object(current)) = (written, current) else {
        return;
    };
    let empty = Map::new();
    let seen = seen.as_object().unwrap_or(&empty);
    for (key, value) in current {
        if key.eq_ignore_ascii_case("meta") {
            continue;
        }
        match (get_ci(seen, key), key_ci(out, key).cloned()) {
            (None, None) => {
                out.insert(key.clone(), value.clone());
            }
            (Some(seen_value), Some(k)) if value.is_object() && seen_value.is_object() => {
                if let Some(slot) = out.get_mut(&k) {
                    keep_unseen(slot, value, seen_value);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
