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
    /// A Bulk request (its body, as the tenant sent it): each operation's
    /// outcome is recorded.
    bulk: Option<Bytes>,
}

/// What to record for this request, if anything: a write of a User or a
/// Group, for a tenant with drift reports.
pub(super) fn pending(
    drift: Option<&Drift>,
    tenant: &Tenant,
    method: &Method,
    route: &Route,
    body: Option<&Bytes>,
) -> Option<Pending> {
    drift?;
    tenant.journal.drift.as_ref()?;
    if route.kind() == RouteKind::Bulk && *method == Method::POST {
        return Some(Pending {
            kind: Kind::User,
            id: None,
            delete: false,
            bulk: Some(body.cloned().unwrap_or_default()),
        });
    }
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
        bulk: None,
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
    if let Some(request) = &p.bulk {
        return bulk(drift, tenant, request, response.body());
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

/// A Bulk answer: each operation that succeeded, by its `location` (or,
/// when the answer gives none, as a DELETE's often does not, the path of
/// the request's operation in the same place), as `unverified` (a
/// BulkResponse carries no resource to digest) or, for a DELETE, a
/// tombstone. Without this a resource written by Bulk would be reported
/// as created outside the gateway, or missing.
fn bulk(drift: &Drift, tenant: &Tenant, request: &Bytes, body: &Bytes) {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let request = serde_json::from_slice::<Value>(request).unwrap_or_default();
    let operations = |v: &Value| {
        v.as_object()
            .and_then(|o| crate::scim::json::get_ci(o, "Operations"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (ops, asked) = (operations(&answer), operations(&request));
    let registry = &tenant.schema.registry;
    for (i, op) in ops.iter().enumerate() {
        let status = match &op["status"] {
            Value::String(s) => s.parse::<u16>().ok(),
            Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            _ => None,
        };
        if !status.is_some_and(|s| (200..300).contains(&s)) {
            continue;
        }
        let path = (ops.len() == asked.len())
            .then(|| asked[i]["path"].as_str())
            .flatten();
        let Some(location) = op["location"].as_str().or(path) else {
            continue;
        };
        // `…/Users/{id}`: the last two segments.
        let mut segments = location.trim_end_matches('/').rsplit('/');
        let (Some(id), Some(endpoint)) = (segments.next(), segments.next()) else {
            continue;
        };
        let Some(kind) = registry
            .resource_type_by_endpoint(endpoint)
            .and_then(|rt| Kind::parse(&rt.name))
        else {
            continue;
        };
        // Decoded, as routes give ids (a segment that does not decode is
        // no id the gateway wrote).
        let Ok(id) = crate::scim::route::decode_segment(id) else {
            continue;
        };
        let delete = op["method"]
            .as_str()
            .is_some_and(|m| m.eq_ignore_ascii_case("DELETE"));
        let state = if delete {
            State::Deleted
        } else {
            State::Unverified
        };
        if let Err(e) = drift.record(tenant.id.as_str(), kind, &id, state) {
            tracing::error!(tenant = tenant.id.as_str(), error = %e, "a drift digest could not be written (a drift run may report the resource as drifted)");
            return;
        }
    }
}
