//! The per-request pipeline, assembled in one place: [`pipeline`] calls
//! one stage per line, in the order the design needs (docs/architecture.md,
//! "The request path"); the comment above each line says why it sits where
//! it does. Each stage is a plain function or `async fn` over concrete
//! types in a file of its own; a stage that may answer the request itself
//! returns a [`Step`]. [`Pipeline::handle`] runs the pipeline and its
//! epilogue (`access_log`); [`Gateway`] is what the server runs.
//!
//! Imports: every stage below it, the request's snapshot and tenant
//! resolution, the state kept across reloads (limiter, cache, damper,
//! write order, journal). Nothing below the pipeline imports `stack`.
use crate::audit::Journal;
use crate::authn::damping::FailureDamper;
use crate::authn::grants;
use crate::cache::ResponseCache;
use crate::client_addr::Client;
use crate::config::reload::ConfigHandle;
use crate::conn_info::ConnInfo;
use crate::creates::ReplayWindow;
use crate::error::GatewayError;
use crate::guardrail::Guardrail;
use crate::limit::ordering::WriteOrder;
use crate::limit::{Admitted, Limiter};
use crate::request_id::RequestId;
use crate::server::RequestBody;
use crate::server::Respond;
use crate::snapshot::Snapshot;
use crate::tenant::Tenant;
use crate::tenant::{resolve_tenant, Origin};
use crate::traces::{Spans, Tracer};
use crate::upstream::Deadline;
use crate::upstream::Upstream;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;
use trace::Trace;

mod access_log;
mod audit_stage;
mod authn_stage;
mod body;
mod cache_stage;
mod create_stage;
mod detached;
mod dialect_stage;
pub(crate) mod drift_run;
mod drift_stage;
mod guardrail_stage;
mod hook_stage;
mod limit_stage;
mod schema_stage;
mod scim11_stage;
pub(crate) mod shadow_run;
mod shadow_stage;
mod spans;
mod trace;
mod upstream_stage;

pub use detached::Gateway;
pub(crate) use guardrail_stage::{drop_held, release};

/// The pipeline: the current configuration and what the stages share
/// (kept across reloads).
#[derive(Debug)]
pub struct Pipeline {
    config: Arc<ConfigHandle>,
    /// Failed authentications per tenant and client (kept across reloads).
    damper: FailureDamper,
    /// Rate and concurrency state (kept across reloads).
    limiter: Arc<Limiter>,
    /// Cached GET answers (per tenant keys; kept across reloads).
    cache: ResponseCache,
    /// One write at a time per resource.
    write_order: WriteOrder,
    /// Creates made within each tenant's replay window.
    creates: ReplayWindow,
    /// The audit log and events outbox (`None`: `[audit] enabled = false`).
    journal: Option<Journal>,
    /// The deprovisioning guardrail's windows and held operations (kept
    /// beside the audit journal).
    guardrail: Guardrail,
    /// Traces (`None`: off, the default).
    tracer: Option<Arc<Tracer>>,
    /// Drift digests and runs (`None`: no audit journal to keep them by).
    drift: Option<Arc<crate::drift::Drift>>,
    /// Shadow upstreams' id maps and reports (kept beside the journal).
    shadow: Arc<crate::shadow::Shadow>,
    /// The shadowed tenants' copies waiting for their workers.
    shadow_queues: shadow_stage::Queues,
}

/// What a stage that may answer the request itself gives the pipeline.
#[derive(Debug)]
enum Step<T> {
    /// Go on with this.
    Next(T),
    /// The answer (a cache hit, discovery): no later stage runs.
    Answer(Response<Full<Bytes>>),
}

/// The value of a [`Step`], or return its answer from the pipeline.
macro_rules! next {
    ($step:expr) => {
        match $step {
            Step::Next(value) => value,
            Step::Answer(answer) => return Ok(answer),
        }
    };
}

impl Pipeline {
    /// A pipeline without an audit journal.
    pub fn new(config: Arc<ConfigHandle>) -> Pipeline {
        Pipeline::with_journal(config, None)
    }

    /// A pipeline that audits every write and authentication failure in
    /// `journal` (kept across reloads, like the limiter and the cache).
    pub fn with_journal(config: Arc<ConfigHandle>, journal: Option<Journal>) -> Pipeline {
        let snapshot = config.load();
        let cache_max_bytes = snapshot.server.cache_max_bytes;
        let guardrail_dir = snapshot.audit.as_ref().map(|a| a.dir.join("guardrail"));
        let shadow_dir = snapshot.audit.as_ref().map(|a| a.dir.join("shadow"));
        Pipeline {
            config,
            damper: FailureDamper::new(),
            limiter: Arc::new(Limiter::new()),
            cache: ResponseCache::new(cache_max_bytes),
            write_order: WriteOrder::new(),
            creates: ReplayWindow::new(),
            journal,
            guardrail: Guardrail::new(guardrail_dir),
            tracer: None,
            drift: None,
            shadow: Arc::new(crate::shadow::Shadow::new(shadow_dir)),
            shadow_queues: shadow_stage::Queues::default(),
        }
    }

    /// This pipeline, recording drift digests (for the tenants with
    /// `[tenants.drift]`) in `drift`.
    pub(crate) fn with_drift(mut self, drift: Option<Arc<crate::drift::Drift>>) -> Pipeline {
        self.drift = drift;
        self
    }

    /// The drift state (for the admin API and periodic runs).
    pub(crate) fn drift(&self) -> Option<&Arc<crate::drift::Drift>> {
        self.drift.as_ref()
    }

    /// This pipeline, recording every request's trace with `tracer`.
    pub(crate) fn traced(mut self, tracer: Option<Arc<Tracer>>) -> Pipeline {
        self.tracer = tracer;
        self
    }

    pub fn config(&self) -> &Arc<ConfigHandle> {
        &self.config
    }

    /// The rate and concurrency state (for the admin API).
    pub(crate) fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// The response cache (for the admin API).
    pub(crate) fn cache(&self) -> &ResponseCache {
        &self.cache
    }

    /// The deprovisioning guardrail (for the admin API).
    pub(crate) fn guardrail(&self) -> &Guardrail {
        &self.guardrail
    }

    /// The shadow upstreams' id maps and reports.
    pub(crate) fn shadow(&self) -> &Arc<crate::shadow::Shadow> {
        &self.shadow
    }

    /// The audit journal, when on.
    pub(crate) fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// Handles one request; never fails: every error becomes a SCIM error
    /// response (the rescue).
    pub async fn handle<B>(&self, req: Request<B>, conn: Arc<ConnInfo>) -> Response<Full<Bytes>>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let started = Instant::now();
        let method = req.method().clone();
        // Shared with the client's header, or fresh (see `RequestId`).
        let request_id = RequestId::of_request(req.headers());
        // One snapshot for the whole request: a reload mid-request cannot
        // mix two configs.
        let snapshot = self.config.load();
        let mut trace = Trace {
            // The caller's trace continued (or a new one), when traces are on.
            spans: spans::begin(self.tracer.as_deref(), req.headers()),
            ..Trace::default()
        };
        // Who the client is, once: every stage, log line and audit record
        // below uses this (never the socket peer, a proxy's address when
        // one stands in front).
        let client = conn.client(req.headers(), &snapshot.server.identity.forwarding);
        // The request deadline bounds every wait of the pipeline (the body
        // read and the upstream call; the other stages do not wait).
        let deadline = Deadline {
            at: tokio::time::Instant::from_std(started) + snapshot.server.request_timeout,
            within: snapshot.server.request_timeout,
        };
        // Boxed: the pipeline's state (about 5.6 KB) is allocated once,
        // and this future stays small enough to move cheaply.
        let spans = trace.spans.clone();
        macro_rules! run {
            () => {
                pipeline(
                    &snapshot,
                    self,
                    req,
                    &conn,
                    &client,
                    &request_id,
                    deadline,
                    &mut trace,
                )
            };
        }
        // With traces on, scoped: the calls below the pipeline (upstream
        // attempts, key fetches, introspection) find the request's trace.
        // The pipeline's future is made inside each arm: a wrapper, or a
        // local holding it, would put its state in this future too (which
        // the server boxes and copies per request), traces on or off.
        let outcome = match spans.clone() {
            None => crate::boxed::pinned(|| run!()).await,
            Some(t) => crate::boxed::pinned(|| crate::traces::scope(t, run!())).await,
        };
        let mut response = outcome.unwrap_or_else(GatewayError::into_response);
        // The answer waits until the journal has the write's record.
        let to = self
            .journal
            .as_ref()
            .map(|journal| audit_stage::Journaling {
                journal,
                versions: snapshot.shared_limits.as_deref(),
            });
        let rid = &request_id;
        if let Some(journaled) =
            access_log::journaled(to, &trace, rid, &method, &client, started, &mut response)
        {
            let spans = Spans(spans.as_deref());
            let audit = spans.start("audit");
            response = journaled.await;
            spans.end(audit);
        }
        access_log::finish(&mut trace, rid, &method, &client, started, &mut response);
        if let (Some(tracer), Some(spans)) = (&self.tracer, &spans) {
            spans::finish(
                tracer,
                spans,
                &trace,
                &method,
                &request_id,
                response.status(),
            );
        }
        response
    }
}

/// The stages, in order.
#[allow(clippy::too_many_arguments)] // the request's parts, each once
async fn pipeline<'s, B>(
    snapshot: &'s Arc<Snapshot>,
    shared: &Pipeline,
    req: Request<B>,
    conn: &ConnInfo,
    client: &Client,
    request_id: &RequestId,
    deadline: Deadline,
    trace: &mut Trace<'s>,
) -> Result<Response<Full<Bytes>>, GatewayError>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    // Tenant first: everything after it (credentials, limits, upstream) is
    // per tenant.
    let origin = Origin {
        tls: conn.tls,
        sni: conn.sni.as_deref(),
    };
    let rt = trace.spans.clone();
    let spans = Spans(rt.as_deref());
    // An operation the guardrail held and an operator released, sent by
    // the gateway itself (never set by a client's request).
    let released = req.extensions().get::<guardrail_stage::Released>().cloned();
    let s = spans.start("tenant");
    let resolved = match &released {
        None => resolve_tenant(snapshot.routing(), req.uri(), req.headers(), origin),
        Some(r) => guardrail_stage::resolve_released(snapshot.routing(), r),
    };
    let routed = spans.close(s, resolved)?;
    let tenant: &'s Tenant = routed.tenant;
    // The tenant's IdP dialect, turned canonical before anything reads the
    // request (the authorization header here, query and body below).
    let mut req = req;
    let rules = dialect_stage::before_auth(tenant, &mut req);
    trace.tenant = Some(tenant);
    // The Okta hook leaves here (boxed: a rare path whose state would
    // otherwise enlarge every request's future).
    if routed.hook {
        let rid = request_id.as_str();
        return Box::pin(hook_stage::okta(
            snapshot, shared, tenant, req, conn, client, rid, deadline,
        ))
        .await;
    }
    // Every stage below reads this one parsed route, never the raw path.
    let route = &routed.route;
    trace.route(route);
    // Authenticate before reading the body: an unauthenticated client
    // costs one header check, not a body upload.
    let (headers, damper) = (req.headers(), &shared.damper);
    let s = spans.start("authenticate");
    let principal = match &released {
        None => {
            authn_stage::authenticate(snapshot, damper, tenant, headers, conn, client, deadline)
                .await
        }
        // Authenticated when it was held; released by an operator.
        Some(r) => Ok(guardrail_stage::released_principal(tenant, r)),
    };
    let principal = spans.close(s, principal)?;
    // Authorize: the tenant's grants cover this resource type and method.
    let authorized = grants::authorize(&tenant.auth.grants, &principal, req.method(), route);
    let credential = limit_stage::credential(&principal);
    let rules = dialect_stage::after_auth(tenant, rules, &req, principal.issuer.as_deref());
    trace.principal = Some(principal);
    // A write is audited from here on, whatever its outcome (a refused
    // authorization too).
    trace.write(shared.journal.is_some(), route, req.method());
    authorized?;
    // The tenant's limits, and its principal's: after authentication, so
    // that a limit counts who is calling. (Held until the answer.)
    let mut admitted = Admitted::default();
    let limiter: &Limiter = &shared.limiter;
    let s = spans.start("limits tenant");
    let admit = limit_stage::admit_tenant(limiter, snapshot, tenant, &credential, &mut admitted);
    spans.close(s, admit.await)?;
    // Bounded body read (413 beyond the cap; 408 when the client is too
    // slow for the request deadline).
    let (parts, body) = req.into_parts();
    let limit = snapshot.server.max_request_body_bytes;
    let s = spans.start("read body");
    let body = spans.close(
        s,
        body::read_within(&parts.headers, body, limit, deadline).await,
    )?;
    // The dialect on the query and the body, before the schema reads them.
    let s = spans.start("dialect");
    let dialected = dialect_stage::request(tenant, rules.as_ref(), &parts, route, body).await;
    let (query, body) = spans.close(s, dialected)?;
    trace.body(&body);
    // What the guardrail reads and keeps: the request after the dialect,
    // before mapping (a reference count, not a copy).
    let before_mapping = tenant
        .guardrail
        .as_ref()
        .map(|_| (query.clone(), body.clone()));
    // A create the tenant makes idempotent keeps its body as sent.
    let create = create_stage::plan(tenant, &parts.method, route, &body);
    // A shadowed tenant's copy of the request as sent, and the ids the
    // primary holds under other names (after a cutover) translated.
    let copy = shadow_stage::plan(tenant, &parts.method, route, query.as_deref(), &body);
    let (mut query, mut body) = (query, body);
    let mut shadowed = None;
    let mut primary_route = None;
    if tenant.shadow.is_some() {
        // (Boxed: only a shadowed tenant's request holds this state.)
        shadowed = Box::pin(shadow_stage::opened(&shared.shadow, tenant))
            .await
            .map(|ts| (ts, route.clone()));
        if let Some((ts, _)) = &shadowed {
            let translated = shadow_stage::to_primary(ts, tenant, route, &mut query, &mut body);
            primary_route = Box::pin(translated).await;
        }
    }
    // The tenant's schema: writes and searches validated and mapped to the
    // upstream's schema; discovery answered here, from the tenant's view.
    let base = &routed.public_base;
    let s = spans.start("validate and map");
    let audited = trace.write.is_some();
    let schema = schema_stage::step(&tenant.schema, &parts, route, query, body, base, audited);
    let schema = schema.await;
    let mut inbound = next!(spans.close(s, schema)?);
    if let Some(scanned) = inbound.scanned.take() {
        trace.scanned(scanned);
    }
    // The deprovisioning guardrail: after the schema stage (a refused
    // request deprovisions nothing), before the cache and the upstream (a
    // held one reaches neither).
    if let Some((query, body)) = &before_mapping {
        let s = spans.start("guardrail");
        let asked = guardrail_stage::Request {
            method: &parts.method,
            route,
            query: query.as_deref(),
            body,
            released: released.as_ref(),
            request_id: request_id.as_str(),
            client: client.ip.to_string(),
        };
        let checked = guardrail_stage::check(&shared.guardrail, tenant, asked, trace).await;
        spans.close(s, checked)?;
    }
    let mut outgoing = upstream_stage::outgoing(tenant, rules.as_ref(), route, &mut inbound);
    // The cache, where the tenant enables it: a hit costs the upstream
    // (and its limits) nothing. A write invalidates (on every replica
    // with shared generations; a drop guard, also when the client hangs
    // up while the write is upstream).
    let (cache, redis) = (&shared.cache, snapshot.shared_limits.as_ref());
    let s = spans.start("cache lookup");
    let looked = cache_stage::lookup(cache, redis.map(|r| &**r), tenant, &parts, route, base).await;
    spans.attribute(s, "scim_gateway.cache.hit", || {
        matches!(looked, Step::Answer(_))
    });
    spans.end(s);
    let store = next!(looked);
    let invalidate = cache_stage::invalidate_on_write(cache, redis, tenant, &parts.method, route);
    // The upstream's limits protect a backend that several tenants may
    // share; they come last, right before the call.
    let upstream: &'s Upstream = &tenant.upstream;
    let s = spans.start("limits upstream");
    let admit = limit_stage::admit_upstream(limiter, snapshot, tenant, upstream, &mut admitted);
    spans.close(s, admit.await)?;
    trace.upstream = Some(upstream);
    // Nothing unaudited reaches a backend: writes wait for a working
    // journal.
    audit_stage::refuse_unaudited(shared.journal.as_ref(), trace)?;
    // Writes to one resource go one at a time (held until the answer).
    let order = &shared.write_order;
    let s = spans.start("write order");
    let turn = limit_stage::write_turn(order, snapshot, tenant, &parts.method, route, deadline);
    trace.turn = spans.close(s, turn.await)?;
    // A write whose answer is digested for drift reports (where enabled).
    let drift = shared.drift.as_deref();
    let bulk_body = trace.write.as_ref().map(|w| &w.body);
    let digest = drift_stage::pending(drift, tenant, &parts.method, &routed.route, bulk_body);
    let started = Instant::now();
    let (route, host) = (primary_route.unwrap_or(routed.route), routed.host);
    let request = upstream_stage::request(
        parts,
        route,
        host,
        base,
        upstream,
        &mut outgoing,
        request_id,
        conn,
        client,
    );
    // The upstream call: 2.0, 1.1 or an emulated list, through one door.
    let max_response = snapshot.server.max_response_body_bytes;
    let (emulated, view) = (inbound.emulated.as_deref(), outgoing.patch_view);
    let s = spans.start("upstream");
    spans.attribute(s, "scim_gateway.upstream", || upstream.name.clone());
    let response = match &create {
        None => {
            upstream_stage::forward(upstream, emulated, request, max_response, deadline, view).await
        }
        // Around the call: the replay window, a duplicate answered with the
        // existing resource (boxed: the rare path's state).
        Some(create) => {
            let (window, mapping) = (&shared.creates, inbound.mapping);
            let door = create_stage::door(tenant, window, mapping, base, max_response, deadline);
            Box::pin(create_stage::forward(create, &door, request, view, trace)).await
        }
    };
    let response = spans.close(s, response);
    // Stale on every replica before the client hears of the write.
    if let Some(invalidate) = invalidate {
        invalidate.done().await;
    }
    let response = response?;
    trace.upstream_latency = Some(started.elapsed());
    // (The create stage may have set the status that tells its story.)
    if trace.upstream_status.is_none() {
        trace.upstream_status = Some(response.status().as_u16());
    }
    // On the way back: locations point at the gateway, never at the upstream.
    let response = upstream_stage::rebase(response, upstream, &routed.public_base);
    trace.answer(&inbound, &response);
    // In the tenant's schema again.
    let s = spans.start("map response");
    let response = schema_stage::outbound_bounded(&tenant.schema, &inbound, response).await;
    spans.end(s);
    // A shadowed tenant: the primary's ids back to the IdP's, and the
    // copy queued for the shadow (never awaited).
    let response = match &shadowed {
        Some((ts, r)) => Box::pin(shadow_stage::from_primary(ts, tenant, r, response)).await,
        None => response,
    };
    if let Some(copy) = copy {
        let (queues, state) = (&shared.shadow_queues, (&shared.shadow, &shared.limiter));
        shadow_stage::mirror(
            queues, state, snapshot, tenant, copy, request_id, base, &response,
        );
    }
    // What the IdP was answered, digested (the tenant's view).
    drift_stage::record(drift, tenant, digest, &response);
    cache_stage::store(cache, store, &response);
    let (parts, body) = response.into_parts();
    Ok(Response::from_parts(parts, Full::new(body)))
}

impl Respond for Pipeline {
    fn call<'a>(
        &'a self,
        req: Request<RequestBody>,
        conn: Arc<ConnInfo>,
    ) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send + 'a>> {
        crate::boxed::pinned(|| self.handle(req, conn))
    }
}
