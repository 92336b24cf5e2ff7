//! A drift run (docs/safety.md, "Drift reports"): the tenant's Users and
//! Groups paged through the pipeline's own door to the upstream (the
//! tenant's and the upstream's limits, credentials, pool, circuit
//! breaker, emulations), mapped back to the tenant's view like any answer,
//! digested and compared page by page with what the gateway last wrote
//! (`crate::drift`). Bounded: pages per second (`max_rate`), the whole
//! run (`max_duration`), each page (the request timeout and the response
//! cap); one page in memory at a time.
//!
//! Imports: the upstream stage and the schema stage's way in and back,
//! the limiter, `drift`; the pipeline for its shared state.
use super::schema_stage::{self, Stage};
use super::{upstream_stage, Pipeline};
use crate::drift::canonical::{self, Digest};
use crate::drift::report::Run;
use crate::drift::{Drift, DriftSettings, Kind, Report};
use crate::limit::Admitted;
use crate::request_id::RequestId;
use crate::scim::route::Route;
use crate::upstream::{Deadline, UpstreamRequest, UpstreamTarget};
use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The principal the run's reads count against in the tenant's limits.
const PRINCIPAL: &str = "drift:run";

/// Starts a run of `tenant` in a task of its own: `Ok` with the new run's
/// report (running), `Err` with the one already running.
pub(crate) fn start(pipeline: &Arc<Pipeline>, tenant: &str) -> Result<Report, Box<Report>> {
    let Some(drift) = pipeline.drift.clone() else {
        return Err(Box::new(Report::unavailable(tenant)));
    };
    let run = drift.begin(tenant)?;
    let report = run.report.clone();
    let (pipeline, tenant) = (pipeline.clone(), tenant.to_string());
    tokio::spawn(async move {
        let mut run = run;
        let outcome = pages(&pipeline, &drift, &tenant, &mut run).await;
        let report = run.end(&drift, outcome.err());
        tracing::info!(
            tenant = tenant.as_str(),
            run = report.run_id,
            state = ?report.state,
            error = report.error.as_deref(),
            clean = report.counts.clean,
            changed = report.counts.changed,
            created_outside = report.counts.created_outside,
            missing = report.counts.missing,
            unverified = report.counts.unverified,
            "drift run finished"
        );
    });
    Ok(report)
}

/// Whether `tenant` exists and has drift reports on.
pub(crate) fn settings(pipeline: &Pipeline, tenant: &str) -> Option<Option<DriftSettings>> {
    let snapshot = pipeline.config.load();
    let t = snapshot.tenant(tenant)?;
    Some(t.journal.drift.clone())
}

async fn pages(
    pipeline: &Pipeline,
    drift: &Drift,
    tenant: &str,
    run: &mut Run,
) -> Result<(), String> {
    let settings = settings(pipeline, tenant)
        .flatten()
        .ok_or("drift reports are off for this tenant")?;
    let key = drift
        .key()
        .map_err(|e| format!("the drift key could not be read: {e}"))?
        .clone();
    run.start(drift)
        .map_err(|e| format!("the tenant's digests could not be read: {e}"))?;
    let until = Instant::now() + settings.max_duration;
    let gap = Duration::from_secs_f64(1.0 / settings.max_rate);
    let mut next = Instant::now();
    let mut listed = Vec::new();
    for kind in [Kind::User, Kind::Group] {
        let mut start = 1usize;
        loop {
            tokio::time::sleep_until(next).await;
            next = Instant::now() + gap;
            let read = page(pipeline, &key, tenant, kind, start, settings.page_size);
            let page = match tokio::time::timeout_at(until, read).await {
                Err(_) => return Err("the run took longer than max_duration".into()),
                Ok(Err(e)) => return Err(e),
                // The tenant has no such endpoint.
                Ok(Ok(None)) => break,
                Ok(Ok(Some(page))) => page,
            };
            run.compare(drift, &page.items);
            run.report.pages += 1;
            drift.publish(&run.report);
            let n = page.items.len().max(page.without_id);
            if n == 0 || start + n > page.total {
                listed.push(kind);
                break;
            }
            start += n;
        }
    }
    run.finish(drift, &listed)
        .map_err(|e| format!("the tenant's digests could not be updated: {e}"))
}

/// One page: the listed resources' ids and digests, in the tenant's view.
struct Page {
    items: Vec<(Kind, String, Digest)>,
    /// Resources listed without an id (not compared).
    without_id: usize,
    total: usize,
}

async fn page(
    pipeline: &Pipeline,
    key: &ring::hmac::Key,
    tenant_id: &str,
    kind: Kind,
    start: usize,
    count: usize,
) -> Result<Option<Page>, String> {
    // The live config each page: a reload mid-run is honoured.
    let snapshot = pipeline.config.load();
    let tenant = snapshot
        .tenant(tenant_id)
        .ok_or("the tenant is no longer configured")?;
    let Some(rt) = tenant.schema.registry.resource_type(kind.name()) else {
        return Ok(None);
    };
    let route = Route::parse(&rt.endpoint, &tenant.schema.registry)
        .map_err(|_| format!("{} is not an endpoint path", kind.name()))?;
    let base = format!("https://drift.invalid/tenants/{tenant_id}");
    let query = format!("startIndex={start}&count={count}");
    let headers = HeaderMap::new();
    let request = schema_stage::Request {
        method: &Method::GET,
        headers: &headers,
        route: &route,
        audited: false,
    };
    let stage = schema_stage::inbound(&tenant.schema, request, Some(query), Bytes::new(), &base)
        .map_err(|e| format!("the page query was refused: {}", e.detail()))?;
    let Stage::Forward(mut inbound) = stage else {
        return Ok(None);
    };
    // The tenant's limits and the upstream's, as for its IdP's requests
    // (waiting out a refusal, within the run's bound).
    let mut admitted = Admitted::default();
    let limiter = pipeline.limiter();
    let shared = snapshot.shared_limits.as_deref();
    let upstream = &tenant.upstream;
    loop {
        let tenant_ok = limiter
            .admit_tenant(shared, tenant_id, PRINCIPAL, &tenant.limits, &mut admitted)
            .await;
        let refused = match tenant_ok {
            Ok(()) => limiter
                .admit_upstream(shared, &upstream.name, &upstream.limits, &mut admitted)
                .await
                .err(),
            Err(r) => Some(r),
        };
        let Some(refused) = refused else { break };
        admitted = Admitted::default();
        tokio::time::sleep(
            refused
                .retry_after
                .clamp(Duration::from_millis(10), Duration::from_secs(10)),
        )
        .await;
    }
    let within = snapshot.server.request_timeout;
    let deadline = Deadline {
        at: Instant::now() + within,
        within,
    };
    let request = UpstreamRequest {
        method: Method::GET,
        path: route.into_path(),
        query: inbound.query.take(),
        headers,
        body: Bytes::new(),
        request_id: RequestId::generate(),
        client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        forwarded_for: None,
        client_proto: "https",
        client_host: "drift.invalid".into(),
        public_base: match upstream.target {
            UpstreamTarget::Builtin(_) => Some(base.clone()),
            UpstreamTarget::Http(_) => None,
        },
        filtered_upsert: false,
    };
    let max = snapshot.server.max_response_body_bytes;
    let emulated = inbound.emulated.as_deref();
    let response = upstream_stage::forward(upstream, emulated, request, max, deadline, None)
        .await
        .map_err(|e| format!("a page of {} failed: {}", rt.endpoint, e.reason().as_str()))?;
    drop(admitted);
    if !response.status().is_success() {
        return Err(format!(
            "the upstream answered {} to a page of {}",
            response.status().as_u16(),
            rt.endpoint
        ));
    }
    let response = upstream_stage::rebase(response, upstream, &base);
    let response = schema_stage::outbound(&inbound, response);
    let list: Value = serde_json::from_slice(response.body())
        .map_err(|_| format!("a page of {} was not JSON", rt.endpoint))?;
    let resources =
        crate::scim::json::get_ci(list.as_object().ok_or("not a ListResponse")?, "Resources")
            .and_then(Value::as_array);
    let total = list
        .as_object()
        .and_then(|o| crate::scim::json::get_ci(o, "totalResults"))
        .and_then(Value::as_u64)
        .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let mut page = Page {
        items: Vec::new(),
        without_id: 0,
        total,
    };
    for item in resources.into_iter().flatten() {
        match item.get("id").and_then(Value::as_str) {
            Some(id) => page
                .items
                .push((kind, id.to_string(), canonical::digest(key, item))),
            None => page.without_id += 1,
        }
    }
    Ok(Some(page))
}
