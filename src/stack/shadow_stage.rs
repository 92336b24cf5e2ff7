//! The shadow stage (docs/safety.md, "Shadow upstream"), for a tenant
//! with `[tenants.shadow]`:
//!
//! - **Before the schema stage** ([`plan`]): the request as the tenant
//!   sent it (after the dialect) is kept for its copy, and ([`to_primary`])
//!   the ids it names are translated to the primary's, where they differ
//!   (after a cutover: resources created before it).
//! - **After the answer is mapped back** ([`from_primary`]): the
//!   primary's ids in it translated back to keys, then ([`mirror`]) the
//!   copy queued for the tenant's worker: never awaited, never delaying
//!   the IdP; a full queue drops the copy and counts it.
//! - **The worker** ([`copy`]), one per tenant, in the order the primary
//!   answered: the copy's ids translated to the shadow's, validated and
//!   mapped with the shadow's schema, sent through the one door to its
//!   upstream (its credentials, pool, breaker, emulations), mapped back,
//!   its ids translated to keys, and compared with the primary's answer
//!   (`shadow::compare`). A create both made records the two ids; a
//!   delete forgets them.
//!
//! Imports: `shadow` (settings, id map, translation, comparison, the
//! report), the schema stage's way in and back, the upstream door.
use super::schema_stage::{self, Stage};
use super::upstream_stage;
use crate::limit::{Admitted, Limiter};
use crate::request_id::RequestId;
use crate::scim::json::get_ci;
use crate::scim::route::{Route, RouteKind};
use crate::shadow::translate::{self, Way};
use crate::shadow::{compare, ids, now, Difference, Outcome, Shadow, TenantShadow};
use crate::snapshot::Snapshot;
use crate::tenant::{ShadowTarget, Tenant};
use crate::upstream::{Deadline, UpstreamRequest, UpstreamTarget};
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, Method, Response, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The request kept for its copy (the tenant's view, after the dialect).
#[derive(Debug)]
pub(super) struct Pending {
    method: Method,
    route: Route,
    query: Option<String>,
    body: Bytes,
}

/// A copy: the request in the tenant's view (ids as keys) and the
/// primary's answer to it (the tenant's view, ids as keys).
#[derive(Debug, Clone)]
pub(super) struct Copy {
    pub method: Method,
    pub route: Route,
    pub query: Option<String>,
    pub body: Bytes,
    pub primary_status: StatusCode,
    pub primary_body: Bytes,
    /// The key of a resource the primary created, when its answer has no
    /// body to read it from (a Bulk operation's `location`).
    pub created: Option<String>,
}

/// One copy waiting for the tenant's worker.
#[derive(Debug)]
struct Job {
    snapshot: Arc<Snapshot>,
    tenant: String,
    request_id: RequestId,
    public_base: String,
    copy: Copy,
}

/// The bytes of requests and answers a tenant's waiting copies may hold
/// (beside `queue`, their number): past it a copy is dropped and counted.
pub(crate) const MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;

/// The tenants' queues (kept across reloads).
#[derive(Debug, Default)]
pub(crate) struct Queues {
    lanes: Mutex<HashMap<String, Lane>>,
}

/// One tenant's queue and the bytes its waiting copies hold.
#[derive(Debug)]
struct Lane {
    tx: mpsc::Sender<Job>,
    bytes: Arc<AtomicUsize>,
}

/// `Some` for a request of a shadowed tenant that its shadow gets a copy
/// of: a write (POST, PUT, PATCH, DELETE of a resource or collection,
/// Bulk), or with `reads` a GET of a resource or a list, or a search.
pub(super) fn plan(
    tenant: &Tenant,
    method: &Method,
    route: &Route,
    query: Option<&str>,
    body: &Bytes,
) -> Option<Pending> {
    let shadow = tenant.shadow.as_ref().filter(|s| s.settings.mirror)?;
    let kind = route.kind();
    let copied = match kind {
        RouteKind::Resource | RouteKind::Collection | RouteKind::Bulk => {
            route.is_write(method) || (shadow.settings.reads && *method == Method::GET)
        }
        RouteKind::Search | RouteKind::RootSearch => {
            shadow.settings.reads && route.is_search(method)
        }
        _ => false,
    };
    copied.then(|| Pending {
        method: method.clone(),
        route: route.clone(),
        query: query.map(str::to_string),
        body: body.clone(),
    })
}

/// The tenant's shadow state, its id map read from disk on first use
/// (off the reactor: a large map takes a while); `None` without a
/// shadow, or when the map cannot be read (logged).
pub(super) async fn opened(state: &Arc<Shadow>, tenant: &Tenant) -> Option<Arc<TenantShadow>> {
    let shadow = tenant.shadow.as_ref()?;
    if let Some(ts) = state.opened(tenant.id.as_str()) {
        return Some(ts);
    }
    let (state, id) = (state.clone(), tenant.id.as_str().to_string());
    let upstream = shadow.settings.upstream.clone();
    crate::offload::blocking(move || state.tenant(&id, &upstream).ok())
        .await
        .ok()
        .flatten()
}

/// The request the primary gets: the ids it holds under other names
/// (after a cutover) translated in the query and body (in place; a large
/// body off the reactor); the route to send, when its id is one of them.
pub(super) async fn to_primary(
    ts: &Arc<TenantShadow>,
    tenant: &Tenant,
    route: &Route,
    query: &mut Option<String>,
    body: &mut Bytes,
) -> Option<Route> {
    let primary = tenant.upstream.name.clone();
    if !translate::needed(&ts.ids(), &primary) {
        return None;
    }
    if !crate::offload::worth_it(body.len()) {
        let map = ts.ids();
        return translated(&map, Way::ToUpstream(&primary), route, query, body);
    }
    let (ts, route) = (ts.clone(), route.clone());
    let (mut q, mut b) = (query.clone(), body.clone());
    let work = move || {
        let map = ts.ids();
        let r = translated(&map, Way::ToUpstream(&primary), &route, &mut q, &mut b);
        (r, q, b)
    };
    match crate::offload::blocking(work).await {
        Ok((r, q, b)) => {
            (*query, *body) = (q, b);
            r
        }
        Err(_) => {
            tracing::error!(
                tenant = tenant.id.as_str(),
                "a request's ids could not be translated for the primary"
            );
            None
        }
    }
}

/// A request's ids translated `way` (query and body in place); the route
/// when its id changes.
fn translated(
    map: &ids::IdMap,
    way: Way<'_>,
    route: &Route,
    query: &mut Option<String>,
    body: &mut Bytes,
) -> Option<Route> {
    let endpoint = route.first_segment()?;
    if !translate::needed(map, side_of(way)) {
        return None;
    }
    if let Some(q) = query.as_deref() {
        if let Some(new) = translate::query(map, way, endpoint, q) {
            *query = Some(new);
        }
    }
    if !body.is_empty() {
        if let Ok(mut v) = serde_json::from_slice::<Value>(body) {
            if translate::request(map, way, endpoint, &mut v) {
                if let Ok(b) = serde_json::to_vec(&v) {
                    *body = Bytes::from(b);
                }
            }
        }
    }
    let id = route.id_decoded()?;
    let new = way.id(map, &ids::kind(endpoint), &id)?;
    route.with_id(&new)
}

/// The primary's answer with its ids translated back to keys (where the
/// primary holds resources under other names; a large answer off the
/// reactor).
pub(super) async fn from_primary(
    ts: &Arc<TenantShadow>,
    tenant: &Tenant,
    route: &Route,
    response: Response<Bytes>,
) -> Response<Bytes> {
    let primary = tenant.upstream.name.clone();
    if !translate::needed(&ts.ids(), &primary) {
        return response;
    }
    let Some(endpoint) = route.first_segment().map(str::to_string) else {
        return response;
    };
    if !crate::offload::worth_it(response.body().len()) {
        let map = ts.ids();
        return back_to_keys(&map, Way::ToKey(&primary), &endpoint, response);
    }
    let (parts, body) = response.into_parts();
    let kept = Response::from_parts(parts.clone(), body.clone());
    let ts = ts.clone();
    let work = move || {
        let map = ts.ids();
        back_to_keys(&map, Way::ToKey(&primary), &endpoint, kept)
    };
    match crate::offload::blocking(work).await {
        Ok(r) => r,
        Err(_) => {
            tracing::error!(
                tenant = tenant.id.as_str(),
                "an answer's ids could not be translated back"
            );
            Response::from_parts(parts, body)
        }
    }
}

/// An answer's ids translated to keys (`way` is `ToKey`).
pub(super) fn back_to_keys(
    map: &ids::IdMap,
    way: Way<'_>,
    endpoint: &str,
    response: Response<Bytes>,
) -> Response<Bytes> {
    let (mut parts, body) = response.into_parts();
    if let Some(loc) = parts.headers.get(LOCATION).and_then(|v| v.to_str().ok()) {
        if let Some(new) = translate::location(map, way, endpoint, loc) {
            if let Ok(v) = HeaderValue::from_str(&new) {
                parts.headers.insert(LOCATION, v);
            }
        }
    }
    let mut body = body;
    if let Ok(mut v) = serde_json::from_slice::<Value>(&body) {
        if translate::answer(map, way, endpoint, &mut v) {
            if let Ok(b) = serde_json::to_vec(&v) {
                parts
                    .headers
                    .insert(CONTENT_LENGTH, HeaderValue::from(b.len()));
                body = Bytes::from(b);
            }
        }
    }
    Response::from_parts(parts, body)
}

/// Queues the copy of an answered request (never waits).
#[allow(clippy::too_many_arguments)] // the request's pieces, each once
pub(super) fn mirror(
    queues: &Queues,
    (state, limiter): (&Arc<Shadow>, &Arc<Limiter>),
    snapshot: &Arc<Snapshot>,
    tenant: &Tenant,
    pending: Pending,
    request_id: &RequestId,
    public_base: &str,
    response: &Response<Bytes>,
) {
    let Some(shadow) = &tenant.shadow else {
        return;
    };
    let job = Job {
        snapshot: snapshot.clone(),
        tenant: tenant.id.as_str().to_string(),
        request_id: request_id.clone(),
        public_base: public_base.to_string(),
        copy: Copy {
            method: pending.method,
            route: pending.route,
            query: pending.query,
            body: pending.body,
            primary_status: response.status(),
            primary_body: response.body().clone(),
            created: None,
        },
    };
    let size = job.copy.body.len() + job.copy.primary_body.len();
    let mut lanes = queues
        .lanes
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let lane = lanes
        .entry(job.tenant.clone())
        .or_insert_with(|| spawn(state.clone(), limiter.clone(), shadow.settings.queue));
    if lane.tx.is_closed() {
        *lane = spawn(state.clone(), limiter.clone(), shadow.settings.queue);
    }
    let why = if lane.bytes.load(Ordering::Relaxed) + size > MAX_QUEUED_BYTES {
        Some((job, "the shadow's queue holds too many bytes"))
    } else {
        lane.bytes.fetch_add(size, Ordering::Relaxed);
        match lane.tx.try_send(job) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(j) | mpsc::error::TrySendError::Closed(j)) => {
                lane.bytes.fetch_sub(size, Ordering::Relaxed);
                Some((j, "the shadow's queue is full"))
            }
        }
    };
    drop(lanes);
    if let Some((job, why)) = why {
        if let Ok(ts) = state.tenant(&job.tenant, &shadow.settings.upstream) {
            let d = difference(
                &job.copy,
                &job.request_id,
                None,
                Vec::new(),
                Some(why.into()),
            );
            ts.record(d, Outcome::Dropped);
        }
    }
}

fn spawn(state: Arc<Shadow>, limiter: Arc<Limiter>, capacity: usize) -> Lane {
    let (tx, mut rx) = mpsc::channel::<Job>(capacity);
    let bytes = Arc::new(AtomicUsize::new(0));
    let held = bytes.clone();
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            let size = job.copy.body.len() + job.copy.primary_body.len();
            copy(&state, &limiter, job).await;
            held.fetch_sub(size, Ordering::Relaxed);
        }
    });
    Lane { tx, bytes }
}

fn difference(
    copy: &Copy,
    request_id: &RequestId,
    shadow_status: Option<u16>,
    paths: Vec<String>,
    error: Option<String>,
) -> Difference {
    Difference {
        at: now(),
        request_id: request_id.as_str().to_string(),
        method: copy.method.as_str().to_string(),
        path: copy.route.path().to_string(),
        primary_status: copy.primary_status.as_u16(),
        shadow_status,
        outcome: "",
        paths,
        error,
    }
}

/// One copy of the worker's queue.
async fn copy(state: &Shadow, limiter: &Limiter, job: Job) {
    let Some(tenant) = job.snapshot.tenant(&job.tenant) else {
        return;
    };
    let Some(target) = tenant.shadow.as_ref() else {
        return;
    };
    let Ok(ts) = state.tenant(&job.tenant, &target.settings.upstream) else {
        return;
    };
    let (rid, base) = (&job.request_id, job.public_base.as_str());
    if job.copy.route.kind() == RouteKind::Bulk {
        for copy in bulk_copies(tenant, &job.copy) {
            match copy {
                Ok(copy) => {
                    let _ = send_copy(&ts, target, limiter, &job.snapshot, rid, base, &copy).await;
                }
                Err(skipped) => ts.record(*skipped, Outcome::Skipped),
            }
        }
        return;
    }
    // Recorded inside; a failure is counted there too.
    let _ = send_copy(&ts, target, limiter, &job.snapshot, rid, base, &job.copy).await;
}

/// A Bulk request's operations as copies of their own, in order, each
/// with the primary's answer to it: `bulkId:` references replaced by the
/// keys the primary's answer gives them (the shadow gets each operation
/// as a request of its own, so it needs no Bulk). An operation the
/// primary did not answer (it stopped at `failOnErrors`), or one that
/// cannot be read, is skipped.
fn bulk_copies(tenant: &Tenant, bulk: &Copy) -> Vec<Result<Copy, Box<Difference>>> {
    let rid = RequestId::generate();
    let skipped = |why: &str, method: &str, path: &str| {
        let mut d = difference(bulk, &rid, None, Vec::new(), Some(why.to_string()));
        d.method = method.to_string();
        d.path = path.to_string();
        Err(Box::new(d))
    };
    if !bulk.primary_status.is_success() {
        return vec![skipped(
            "the primary refused the Bulk request",
            "POST",
            "/Bulk",
        )];
    }
    let request: Value = serde_json::from_slice(&bulk.body).unwrap_or(Value::Null);
    let answer: Value = serde_json::from_slice(&bulk.primary_body).unwrap_or(Value::Null);
    let list = |v: &Value| {
        v.as_object()
            .and_then(|o| get_ci(o, "Operations"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (ops, answered) = (list(&request), list(&answer));
    let field = |v: &Value, name: &str| {
        v.as_object()
            .and_then(|o| get_ci(o, name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    // bulkId → the key the primary gave the resource.
    let mut keys: HashMap<String, String> = HashMap::new();
    for a in &answered {
        if let (Some(bulk_id), Some(location)) = (field(a, "bulkId"), field(a, "location")) {
            let last = location.rsplit('/').next().unwrap_or("");
            if let Ok(key) = crate::scim::route::decode_segment(last) {
                keys.insert(bulk_id, key.into_owned());
            }
        }
    }
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let method = field(op, "method").unwrap_or_default().to_ascii_uppercase();
        let raw_path = field(op, "path").unwrap_or_default();
        // The operation's answer: by bulkId, else by place.
        let bulk_id = field(op, "bulkId");
        let a = match &bulk_id {
            Some(b) => answered
                .iter()
                .find(|a| field(a, "bulkId").as_ref() == Some(b)),
            None => answered.get(i).filter(|a| field(a, "bulkId").is_none()),
        };
        let Some(a) = a else {
            out.push(skipped(
                "the primary did not answer the operation",
                &method,
                &raw_path,
            ));
            continue;
        };
        let status = a
            .as_object()
            .and_then(|o| get_ci(o, "status"))
            .and_then(|s| match s {
                Value::String(s) => s.parse::<u16>().ok(),
                Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                _ => None,
            })
            .and_then(|s| StatusCode::from_u16(s).ok());
        let path = with_keys(&Value::String(raw_path.clone()), &keys);
        let route = path
            .as_str()
            .and_then(|p| Route::parse(p, &tenant.schema.registry).ok());
        let m = Method::from_bytes(method.as_bytes()).ok();
        let (Some(status), Some(route), Some(m)) = (status, route, m) else {
            out.push(skipped(
                "the operation could not be read",
                &method,
                &raw_path,
            ));
            continue;
        };
        let data = op
            .as_object()
            .and_then(|o| get_ci(o, "data"))
            .map(|d| with_keys(d, &keys));
        let body = data
            .and_then(|d| serde_json::to_vec(&d).ok())
            .map(Bytes::from)
            .unwrap_or_default();
        let response = a.as_object().and_then(|o| get_ci(o, "response"));
        out.push(Ok(Copy {
            method: m,
            route,
            query: None,
            body,
            primary_status: status,
            primary_body: response
                .filter(|_| status.is_success())
                .and_then(|r| serde_json::to_vec(r).ok())
                .map(Bytes::from)
                .unwrap_or_default(),
            created: bulk_id.and_then(|b| keys.get(&b).cloned()),
        }));
    }
    out
}

/// `bulkId:NAME` references (whole strings, or a path's last segment)
/// replaced by the keys the primary gave.
fn with_keys(v: &Value, keys: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => {
            if let Some(k) = s.strip_prefix("bulkId:").and_then(|name| keys.get(name)) {
                return Value::String(k.clone());
            }
            if let Some((head, last)) = s.rsplit_once("/bulkId:") {
                if let Some(k) = keys.get(last) {
                    return Value::String(format!("{head}/{}", translate::encode(k)));
                }
            }
            v.clone()
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| with_keys(x, keys)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), with_keys(x, keys)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A copy sent to the shadow and its answer compared with the primary's
/// (counted and, when they differ, logged): the shadow's status and the
/// outcome.
pub(super) async fn send_copy(
    ts: &Arc<TenantShadow>,
    target: &ShadowTarget,
    limiter: &Limiter,
    snapshot: &Snapshot,
    rid: &RequestId,
    base: &str,
    copy: &Copy,
) -> Result<(StatusCode, Outcome), String> {
    match send(ts, target, limiter, snapshot, rid, base, copy).await {
        Err(e) => {
            let d = difference(copy, rid, None, Vec::new(), Some(e.clone()));
            ts.record(d, Outcome::Failed);
            Err(e)
        }
        Ok((status, value)) => {
            let ignore = &target.settings.ignore;
            let paths = if crate::offload::worth_it(copy.primary_body.len()) {
                let (copy, ignore) = (copy.clone(), ignore.clone());
                let work = move || judge(&copy, status, value.as_ref(), &ignore);
                crate::offload::blocking(work)
                    .await
                    .unwrap_or_else(|_| vec!["(not compared)".into()])
            } else {
                judge(copy, status, value.as_ref(), ignore)
            };
            let outcome = if paths.is_empty() {
                Outcome::Match
            } else {
                Outcome::Differ
            };
            ts.record(
                difference(copy, rid, Some(status.as_u16()), paths, None),
                outcome,
            );
            Ok((status, outcome))
        }
    }
}

/// The shadow's answer: status and body (ids as keys); the id map kept
/// for a create or delete. Not counted (the backfill's creates are not
/// copies of the IdP's requests).
pub(super) async fn send(
    ts: &Arc<TenantShadow>,
    target: &ShadowTarget,
    limiter: &Limiter,
    snapshot: &Snapshot,
    rid: &RequestId,
    base: &str,
    p: &Copy,
) -> Result<(StatusCode, Option<Value>), String> {
    let mirror = &target.tenant;
    let side = mirror.upstream.name.as_str();
    // The copy in the shadow's ids (a large body off the reactor).
    let (ts2, side2, p2) = (ts.clone(), side.to_string(), p.clone());
    let work = move || to_shadow(&ts2, &side2, &p2);
    let (route, query, body) = if crate::offload::worth_it(p.body.len()) {
        crate::offload::blocking(work)
            .await
            .map_err(|e| e.detail().to_string())??
    } else {
        work()?
    };
    let response = call(
        mirror, limiter, snapshot, &p.method, route, query, body, rid, base,
    )
    .await?;
    // Large answers are read off the reactor (a 100,000-member group must
    // not stall other tenants' requests on this thread).
    if !crate::offload::worth_it(response.body().len() + p.primary_body.len()) {
        return settle(ts, side, p, response);
    }
    let (ts, side, p) = (ts.clone(), side.to_string(), p.clone());
    crate::offload::blocking(move || settle(&ts, &side, &p, response))
        .await
        .map_err(|e| e.detail().to_string())?
}

/// The upstream a way translates for.
fn side_of<'a>(way: Way<'a>) -> &'a str {
    match way {
        Way::ToUpstream(u) | Way::ToKey(u) => u,
    }
}

/// The copy's route, query and body in the shadow's ids.
fn to_shadow(
    ts: &TenantShadow,
    side: &str,
    p: &Copy,
) -> Result<(Route, Option<String>, Bytes), String> {
    let kind = ids::kind(p.route.first_segment().unwrap_or(""));
    let (mut query, mut body) = (p.query.clone(), p.body.clone());
    let map = ts.ids();
    let way = Way::ToUpstream(side);
    let moved = translated(&map, way, &p.route, &mut query, &mut body);
    let id = p.route.id_decoded();
    let route = match moved {
        Some(route) => route,
        // An id the shadow has under another name, which cannot be a
        // path segment: not sent under the primary's.
        None if id.is_some_and(|id| way.id(&map, &kind, &id).is_some()) => {
            return Err("the shadow's id of the resource is not a path segment".into());
        }
        None => p.route.clone(),
    };
    Ok((route, query, body))
}

/// The shadow's answer read: the id map kept (a create both made
/// recorded, a delete forgotten), its ids translated to keys, parsed.
fn settle(
    ts: &TenantShadow,
    side: &str,
    p: &Copy,
    response: Response<Bytes>,
) -> Result<(StatusCode, Option<Value>), String> {
    let endpoint = p.route.first_segment().unwrap_or("");
    let kind = ids::kind(endpoint);
    let status = response.status();
    // The answer read once: its id taken, then its ids made keys in place.
    let mut value = serde_json::from_slice::<Value>(response.body()).ok();
    let mut map = ts.ids();
    if p.method == Method::POST && p.route.kind() == RouteKind::Collection {
        let id_of = |v: &Value| v.get("id").and_then(Value::as_str).map(str::to_string);
        let primary_id = p.created.clone().or_else(|| {
            // Only the id: a scan, not a tree.
            serde_json::from_slice::<IdOnly>(&p.primary_body)
                .ok()
                .and_then(|o| o.id)
        });
        let shadow_id = value.as_ref().and_then(id_of);
        if let (true, true, Some(key), Some(id)) = (
            p.primary_status.is_success(),
            status.is_success(),
            primary_id,
            shadow_id,
        ) {
            map.put(&kind, &key, side, &id)
                .map_err(|e| format!("the id map could not be written: {e}"))?;
        }
    }
    if p.method == Method::DELETE && p.primary_status.is_success() {
        if let Some(key) = p.route.id_decoded() {
            map.remove(&kind, &key)
                .map_err(|e| format!("the id map could not be written: {e}"))?;
        }
    }
    if let Some(v) = value.as_mut() {
        if translate::needed(&map, side) {
            translate::answer(&map, Way::ToKey(side), endpoint, v);
        }
    }
    Ok((status, value))
}

/// A resource's `id`, read without building the rest.
#[derive(serde::Deserialize)]
struct IdOnly {
    id: Option<String>,
}

/// One request to `target`'s upstream in its schema, as the pipeline
/// sends the IdP's (the one door: credentials, pool, breaker,
/// emulations), its answer rebased and mapped back to the tenant's view.
#[allow(clippy::too_many_arguments)] // the request's pieces, each once
pub(super) async fn call(
    target: &Tenant,
    limiter: &Limiter,
    snapshot: &Snapshot,
    method: &Method,
    route: Route,
    query: Option<String>,
    body: Bytes,
    request_id: &RequestId,
    base: &str,
) -> Result<Response<Bytes>, String> {
    let mut headers = HeaderMap::new();
    if !body.is_empty() {
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/scim+json"),
        );
    }
    let request = schema_stage::Request {
        method,
        headers: &headers,
        route: &route,
        // A copy is not audited: nothing to keep for a record.
        audited: false,
    };
    let stage = schema_stage::inbound(&target.schema, request, query, body, base)
        .map_err(|e| format!("the schema refused the request: {}", e.detail()))?;
    let Stage::Forward(mut inbound) = stage else {
        return Err("the schema answered the request itself".into());
    };
    let mut outgoing = upstream_stage::outgoing(target, None, &route, &mut inbound);
    let within = snapshot.server.request_timeout;
    let deadline = Deadline {
        at: tokio::time::Instant::now() + within,
        within,
    };
    let upstream = &target.upstream;
    // The upstream's limits protect a backend others may share: a copy
    // (or a backfill's request) waits its turn within the deadline. The
    // tenant's limits are the IdP's, not counted here.
    let mut admitted = Admitted::default();
    loop {
        let shared = snapshot.shared_limits.as_deref();
        let limits = &upstream.limits;
        let refused = match limiter
            .admit_upstream(shared, &upstream.name, limits, &mut admitted)
            .await
        {
            Ok(()) => break,
            Err(r) => r,
        };
        let wait = refused
            .retry_after
            .clamp(Duration::from_millis(10), Duration::from_secs(10));
        if tokio::time::Instant::now() + wait > deadline.at {
            return Err("the upstream's limits did not admit it within the request timeout".into());
        }
        tokio::time::sleep(wait).await;
    }
    let request = UpstreamRequest {
        method: method.clone(),
        path: route.into_path(),
        query: outgoing.query.take(),
        headers,
        body: std::mem::take(&mut outgoing.body),
        request_id: request_id.clone(),
        client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        forwarded_for: None,
        client_proto: "https",
        client_host: "shadow.invalid".into(),
        public_base: match upstream.target {
            UpstreamTarget::Builtin(_) => Some(base.to_string()),
            UpstreamTarget::Http(_) => None,
        },
        filtered_upsert: outgoing.filtered_upsert,
    };
    let max = snapshot.server.max_response_body_bytes;
    let emulated = inbound.emulated.as_deref();
    let view = outgoing.patch_view;
    let response = upstream_stage::forward(upstream, emulated, request, max, deadline, view)
        .await
        .map_err(|e| format!("the upstream failed: {}", e.reason().as_str()))?;
    drop(admitted);
    let response = upstream_stage::rebase(response, upstream, base);
    Ok(schema_stage::outbound(&inbound, response))
}

/// What differs between the primary's answer and the shadow's.
fn judge(
    copy: &Copy,
    status: StatusCode,
    shadow: Option<&Value>,
    ignore: &[String],
) -> Vec<String> {
    let primary = serde_json::from_slice::<Value>(&copy.primary_body).ok();
    let (a, b) = (copy.primary_status, status);
    if a.is_success() != b.is_success() || (!a.is_success() && a != b) {
        return vec!["status".into()];
    }
    if !a.is_success() {
        let scim_type = |v: Option<&Value>| {
            v.and_then(Value::as_object)
                .and_then(|o| get_ci(o, "scimType"))
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
        };
        if scim_type(primary.as_ref()) != scim_type(shadow) {
            return vec!["scimType".into()];
        }
        return Vec::new();
    }
    match (primary.as_ref(), shadow) {
        (Some(x), Some(y)) => compare::differences(x, y, ignore),
        // A 204 on one side: nothing to compare but the status class.
        _ => Vec::new(),
    }
}
