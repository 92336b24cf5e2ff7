//! A shadow backfill (docs/safety.md, "Shadow upstream"): the tenant's
//! Users, then its Groups, paged from the primary through the one door
//! (in the primary's schema, mapped back to the tenant's view, ids as
//! keys) and created at the shadow when its id map has no entry for
//! them, through the same path as a mirrored create (`shadow_stage`): the
//! two ids recorded, the two representations compared. A create the
//! shadow refuses as a duplicate (409) is linked instead: the one
//! resource the shadow finds by `userName` (a Group: `displayName`)
//! takes the entry. Groups come after Users, so their members are sent
//! in the shadow's ids. Bounded: one request at a time, at most
//! [`RATE`] per second; the copies of the IdP's writes go on meanwhile.
//!
//! Imports: the shadow stage's calls and comparison, `shadow`; the
//! pipeline for its shared state.
use super::shadow_stage::{self, call};
use super::Pipeline;
use crate::limit::Limiter;
use crate::request_id::RequestId;
use crate::scim::json::get_ci;
use crate::scim::route::Route;
use crate::shadow::translate::Way;
use crate::shadow::{ids, now, Backfill, TenantShadow};
use crate::snapshot::Snapshot;
use crate::tenant::Tenant;
use http::{Method, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Resources created (or looked up) per second at most.
pub(crate) const RATE: u32 = 50;
/// Resources per page read from the primary.
const PAGE: usize = 100;
/// The base the backfill's answers are rebased to (compared, never shown).
const BASE: &str = "https://shadow.invalid/scim/v2";

/// Whether `tenant` exists, and its shadow's report if it has one.
pub(crate) fn report(pipeline: &Pipeline, tenant: &str) -> Option<Option<crate::shadow::Report>> {
    let snapshot = pipeline.config.load();
    let t = snapshot.tenant(tenant)?;
    let Some(shadow) = &t.shadow else {
        return Some(None);
    };
    let ts = pipeline
        .shadow
        .tenant(tenant, &shadow.settings.upstream)
        .ok()?;
    Some(Some(ts.report()))
}

/// Starts a backfill of `tenant` in a task of its own: its first
/// progress, or why not (`Err((conflict, message))`).
pub(crate) fn start(pipeline: &Arc<Pipeline>, tenant: &str) -> Result<Backfill, (bool, String)> {
    let snapshot = pipeline.config.load();
    let t = snapshot
        .tenant(tenant)
        .ok_or((false, "no such tenant".to_string()))?;
    let shadow = t.shadow.as_ref().ok_or((
        true,
        "this tenant has no shadow upstream: add [tenants.shadow] to its config".to_string(),
    ))?;
    let ts = pipeline
        .shadow
        .tenant(tenant, &shadow.settings.upstream)
        .map_err(|e| (true, e))?;
    if ts.backfilling() {
        return Err((true, "a backfill of this tenant is running".into()));
    }
    let b = Backfill {
        started: now(),
        state: "running",
        ..Backfill::default()
    };
    ts.backfill(b.clone());
    let (pipeline, tenant) = (pipeline.clone(), tenant.to_string());
    tokio::spawn(async move {
        let mut b = b;
        let outcome = run(&pipeline, &ts, &tenant, &mut b).await;
        b.finished = Some(now());
        b.state = if outcome.is_ok() { "done" } else { "failed" };
        b.error = outcome.err();
        tracing::info!(
            tenant = tenant.as_str(),
            state = b.state,
            read = b.read,
            created = b.created,
            present = b.present,
            linked = b.linked,
            failed = b.failed,
            error = b.error.as_deref(),
            "shadow backfill finished"
        );
        ts.backfill(b);
    });
    Ok(Backfill {
        started: now(),
        state: "running",
        ..Backfill::default()
    })
}

async fn run(
    pipeline: &Pipeline,
    ts: &Arc<TenantShadow>,
    tenant_id: &str,
    b: &mut Backfill,
) -> Result<(), String> {
    let gap = Duration::from_secs(1) / RATE;
    for endpoint in ["Users", "Groups"] {
        let mut start = 1usize;
        loop {
            // The live config each page: a reload mid-run is honoured.
            let snapshot = pipeline.config.load();
            let tenant = snapshot
                .tenant(tenant_id)
                .ok_or("the tenant is no longer configured")?;
            let Some(route) = endpoint_route(tenant, endpoint) else {
                break;
            };
            let limiter = pipeline.limiter();
            let (items, total) = page(&snapshot, limiter, tenant, ts, &route, start).await?;
            let n = items.len();
            for item in items {
                tokio::time::sleep(gap).await;
                b.read += 1;
                one(&snapshot, limiter, tenant, ts, &route, item, b).await;
                ts.backfill(b.clone());
            }
            if n == 0 || start + n > total {
                break;
            }
            start += n;
        }
    }
    Ok(())
}

fn endpoint_route(tenant: &Tenant, endpoint: &str) -> Option<Route> {
    let registry = &tenant.schema.registry;
    let rt = registry.resource_type_by_endpoint(endpoint)?;
    Route::parse(&rt.endpoint, registry).ok()
}

/// A GET of `route` with `query` at `tenant`'s upstream (a request id of
/// its own, the backfill's base).
async fn get(
    tenant: &Tenant,
    limiter: &Limiter,
    snapshot: &Snapshot,
    route: &Route,
    query: String,
) -> Result<http::Response<bytes::Bytes>, String> {
    let rid = RequestId::generate();
    call(
        tenant,
        limiter,
        snapshot,
        &Method::GET,
        route.clone(),
        Some(query),
        bytes::Bytes::new(),
        &rid,
        BASE,
    )
    .await
}

/// One page of the primary, ids as keys.
async fn page(
    snapshot: &Arc<Snapshot>,
    limiter: &Limiter,
    tenant: &Tenant,
    ts: &Arc<TenantShadow>,
    route: &Route,
    start: usize,
) -> Result<(Vec<Value>, usize), String> {
    let query = format!("startIndex={start}&count={PAGE}");
    let answer = get(tenant, limiter, snapshot, route, query)
        .await
        .map_err(|e| format!("a page of the primary's {}: {e}", route.path()))?;
    if !answer.status().is_success() {
        return Err(format!(
            "the primary answered {} to a page of {}",
            answer.status().as_u16(),
            route.path()
        ));
    }
    let endpoint = route.first_segment().unwrap_or("");
    let primary = tenant.upstream.name.as_str();
    let answer = {
        let map = ts.ids();
        shadow_stage::back_to_keys(&map, Way::ToKey(primary), endpoint, answer)
    };
    let list: Value = serde_json::from_slice(answer.body()).map_err(|_| "a page was not JSON")?;
    let o = list.as_object().ok_or("a page was not a ListResponse")?;
    let total = get_ci(o, "totalResults")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let items = get_ci(o, "Resources")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok((items, usize::try_from(total).unwrap_or(usize::MAX)))
}

/// One resource of the primary: created at the shadow (or linked).
#[allow(clippy::too_many_arguments)] // the run's pieces, each once
async fn one(
    snapshot: &Arc<Snapshot>,
    limiter: &Limiter,
    tenant: &Tenant,
    ts: &Arc<TenantShadow>,
    route: &Route,
    item: Value,
    b: &mut Backfill,
) {
    let Some(target) = &tenant.shadow else {
        return;
    };
    let side = target.tenant.upstream.name.as_str();
    let endpoint = route.first_segment().unwrap_or("");
    let kind = ids::kind(endpoint);
    let Some(key) = item.get("id").and_then(Value::as_str).map(str::to_string) else {
        b.failed += 1;
        return;
    };
    if ts.ids().entry(&kind, &key, side).is_some() {
        b.present += 1;
        return;
    }
    let mut body = item.clone();
    if let Some(o) = body.as_object_mut() {
        o.retain(|k, _| {
            !["id", "meta", "groups"]
                .iter()
                .any(|r| k.eq_ignore_ascii_case(r))
        });
    }
    let Ok(bytes) = serde_json::to_vec(&body) else {
        b.failed += 1;
        return;
    };
    let rid = RequestId::generate();
    let primary = serde_json::to_vec(&item).unwrap_or_default();
    let copy = shadow_stage::Copy {
        method: Method::POST,
        route: route.clone(),
        query: None,
        body: bytes::Bytes::from(bytes),
        primary_status: StatusCode::CREATED,
        primary_body: bytes::Bytes::from(primary),
        created: None,
    };
    match shadow_stage::send(ts, target, limiter, snapshot, &rid, BASE, &copy).await {
        Ok((status, _)) if status.is_success() => b.created += 1,
        Ok((StatusCode::CONFLICT, _)) => {
            match link(snapshot, limiter, tenant, ts, route, &item, &key).await {
                Ok(()) => b.linked += 1,
                Err(e) => {
                    b.failed += 1;
                    tracing::warn!(
                        tenant = tenant.id.as_str(),
                        id = key.as_str(),
                        error = e.as_str(),
                        "shadow backfill: not linked"
                    );
                }
            }
        }
        Ok((status, _)) => {
            b.failed += 1;
            tracing::warn!(
                tenant = tenant.id.as_str(),
                id = key.as_str(),
                status = status.as_u16(),
                "shadow backfill: the shadow refused a create"
            );
        }
        Err(e) => {
            b.failed += 1;
            tracing::warn!(
                tenant = tenant.id.as_str(),
                id = key.as_str(),
                error = e.as_str(),
                "shadow backfill: a create failed"
            );
        }
    }
}

/// A duplicate at the shadow linked: the one resource it finds by
/// `userName` (a Group: `displayName`).
async fn link(
    snapshot: &Arc<Snapshot>,
    limiter: &Limiter,
    tenant: &Tenant,
    ts: &Arc<TenantShadow>,
    route: &Route,
    item: &Value,
    key: &str,
) -> Result<(), String> {
    let target = tenant.shadow.as_ref().ok_or("no shadow")?;
    let endpoint = route.first_segment().unwrap_or("");
    let attr = if endpoint.eq_ignore_ascii_case("Groups") {
        "displayName"
    } else {
        "userName"
    };
    let value = item
        .as_object()
        .and_then(|o| get_ci(o, attr))
        .and_then(Value::as_str)
        .ok_or("the resource has no name to look it up by")?;
    let filter = format!(
        "{attr} eq {}",
        serde_json::to_string(value).map_err(|e| e.to_string())?
    );
    let query = format!("filter={}", crate::scim::query::encode_component(&filter));
    let answer = get(&target.tenant, limiter, snapshot, route, query).await?;
    let list: Value =
        serde_json::from_slice(answer.body()).map_err(|_| "the lookup's answer was not JSON")?;
    let found: Vec<&str> = list
        .as_object()
        .and_then(|o| get_ci(o, "Resources"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("id").and_then(Value::as_str))
        .collect();
    let [id] = found.as_slice() else {
        return Err(format!(
            "the shadow found {} resources by {attr}",
            found.len()
        ));
    };
    let side = target.tenant.upstream.name.as_str();
    ts.ids()
        .put(&ids::kind(endpoint), key, side, id)
        .map_err(|e| format!("the id map could not be written: {e}"))
}
