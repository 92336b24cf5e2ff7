//! Drift reports on the write path: after a write the upstream accepted,
//! the digest of the resource as the gateway answered it (in the tenant's
//! view, after mapping back) is recorded for the tenant
//! (`crate::drift`). Only for tenants with `[tenants.drift]`: for the
//! others the stage is one `None` check.
//!
//! Imports: `drift`, the request's tenant and route.
use crate::drift::canonical;
use crate::drift::{Drift, Kind, State};
use crate::scim::route::{Route, RouteKind};
use crate::tenant::Tenant;
use bytes::Bytes;
use http::{Method, Response};
use serde_json::Value;

/// A write to record once answered.
#[derive(Debug)]
pub(super) struct Pending {
    kind: Kind,
    /// From the route (`None` for a create: the answer names it).
    id: Option<String>,
    delete: bool,
}

/// What to record for this request, if anything: a write of a User or a
/// Group, for a tenant with drift reports.
pub(super) fn pending(
    drift: Option<&Drift>,
    tenant: &Tenant,
    method: &Method,
    route: &Route,
) -> Option<Pending> {
    drift?;
    tenant.journal.drift.as_ref()?;
    let create = match route.kind() {
        RouteKind::Collection if *method == Method::POST => true,
        RouteKind::Resource if matches!(*method, Method::PUT | Method::PATCH | Method::DELETE) => {
            false
        }
        _ => return None,
    };
    let registry = &tenant.schema.registry;
    let rt = registry.resource_type_by_endpoint(route.first_segment()?)?;
    let kind = Kind::parse(&rt.name)?;
    Some(Pending {
        kind,
        id: if create {
            None
        } else {
            Some(route.id_decoded()?.into_owned())
        },
        delete: *method == Method::DELETE,
    })
}

/// Records the answered write (a 2xx): the answer's digest, a tombstone
/// for a delete, "unverified" for an answer without a body.
pub(super) fn record(
    drift: Option<&Drift>,
    tenant: &Tenant,
    pending: Option<Pending>,
    response: &Response<Bytes>,
) {
    let (Some(drift), Some(p)) = (drift, pending) else {
        return;
    };
    if !response.status().is_success() {
        return;
    }
    let tenant = tenant.id.as_str();
    let (id, state) = match answered(drift, &p, response.body()) {
        Ok(Some(recorded)) => recorded,
        Ok(None) => {
            tracing::warn!(tenant, resource_type = p.kind.name(), "a create was answered without an id: its digest is not recorded (a drift run will list it as created outside the gateway)");
            return;
        }
        Err(e) => {
            tracing::error!(tenant, error = %e, "the drift key could not be read: digests are not recorded");
            return;
        }
    };
    if let Err(e) = drift.record(tenant, p.kind, &id, state) {
        tracing::error!(tenant, resource_type = p.kind.name(), error = %e, "a drift digest could not be written (a drift run may report the resource as drifted)");
    }
}

fn answered(drift: &Drift, p: &Pending, body: &Bytes) -> std::io::Result<Option<(String, State)>> {
    if p.delete {
        return Ok(p.id.clone().map(|id| (id, State::Deleted)));
    }
    let value = match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => v,
        // No body (a PATCH answered 204), or none to digest.
        _ => return Ok(p.id.clone().map(|id| (id, State::Unverified))),
    };
    // The id the IdP addresses: the route's, or the one a create assigned.
    let id = match (&p.id, value.get("id").and_then(Value::as_str)) {
        (Some(id), _) => id.clone(),
        (None, Some(id)) => id.to_string(),
        (None, None) => return Ok(None),
    };
    let digest = canonical::digest(drift.key()?, &value);
    Ok(Some((id, State::Digest(digest))))
}
