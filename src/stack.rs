//! The per-request pipeline, assembled in one place. Each stage is a plain
//! function or `async fn`; the order is the design (docs/architecture.md,
//! "The request path"), and each line says why it sits where it does.
use crate::audit::Journal;
use crate::authn::damping::FailureDamper;
use crate::authn::{self, Principal};
use crate::authz;
use crate::cache::ResponseCache;
use crate::config::reload::ConfigHandle;
use crate::error::{ErrorInfo, GatewayError};
use crate::limit::ordering::WriteOrder;
use crate::limit::{Admitted, Limiter, Refused};
use crate::request_id::RequestId;
use crate::rewrite::Rebase;
use crate::scim::error::ScimError;
use crate::scim::route::RouteKind;
use crate::server::{ConnInfo, Handler};
use crate::snapshot::{Snapshot, Tenant, Upstream, UpstreamProtocol, UpstreamTarget};
use crate::telemetry::emit::{
    AuthFailed, BulkCounted, CacheLookup, Deprovisioned, Limited as LimitedEvent, RequestCompleted,
};
use crate::telemetry::names::resource_type_label;
use crate::tenant::{resolve_tenant, Origin};
use crate::upstream::{self, Deadline, UpstreamRequest};
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, LOCATION};
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod audit_stage;
mod dialect_stage;
mod hook_stage;
mod schema_stage;
mod scim11_stage;

pub use crate::request_id::X_REQUEST_ID;

/// The gateway: the current configuration and what the stages share.
#[derive(Debug)]
pub struct Gateway {
    config: Arc<ConfigHandle>,
    /// Failed authentications per tenant and client (kept across reloads).
    damper: FailureDamper,
    /// Rate and concurrency state (kept across reloads).
    limiter: Limiter,
    /// Cached GET answers (per tenant keys; kept across reloads).
    cache: ResponseCache,
    /// One write at a time per resource.
    write_order: WriteOrder,
    /// The audit log and events outbox (`None`: `[audit] enabled = false`).
    journal: Option<Journal>,
}

/// What the access log and metrics learn about a request (borrowed from
/// the request's snapshot: nothing is copied).
#[derive(Debug, Default)]
struct Trace<'s> {
    tenant: Option<&'s Tenant>,
    principal: Option<Principal>,
    /// The resource-type label (a fixed set).
    resource_type: Option<&'static str>,
    /// The first path segment when it is not one of the known resource
    /// types (for the access log).
    other_resource: Option<String>,
    upstream: Option<&'s Upstream>,
    upstream_status: Option<u16>,
    upstream_latency: Option<Duration>,
    /// A User deprovisioned (delete, or `active` set to false).
    deprovision: bool,
    /// A Bulk request's operations: (succeeded, failed).
    bulk: Option<(u64, u64)>,
    /// A write to audit (only while a journal is open).
    write: Option<audit_stage::WriteTrace>,
    /// The resource's write turn, held until the write is journaled: the
    /// outbox then has one resource's events in the order the upstream
    /// applied the writes.
    turn: Option<crate::limit::ordering::Turn>,
}

impl Gateway {
    /// A gateway without an audit journal.
    pub fn new(config: Arc<ConfigHandle>) -> Gateway {
        Gateway::with_journal(config, None)
    }

    /// A gateway that audits every write and authentication failure in
    /// `journal` (kept across reloads, like the limiter and the cache).
    pub fn with_journal(config: Arc<ConfigHandle>, journal: Option<Journal>) -> Gateway {
        let cache_max_bytes = config.load().server.cache_max_bytes;
        Gateway {
            config,
            damper: FailureDamper::new(),
            limiter: Limiter::new(),
            cache: ResponseCache::new(cache_max_bytes),
            write_order: WriteOrder::new(),
            journal,
        }
    }

    pub fn config(&self) -> &Arc<ConfigHandle> {
        &self.config
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
        let mut trace = Trace::default();
        // The request deadline bounds every wait of the pipeline (the body
        // read and the upstream call; the other stages do not wait).
        let deadline = Deadline {
            at: tokio::time::Instant::from_std(started) + snapshot.server.request_timeout,
            within: snapshot.server.request_timeout,
        };
        // Boxed: the pipeline's state (about 2.9 KB) is allocated once,
        // and this future stays small enough to move cheaply.
        let outcome = Box::pin(pipeline(
            &snapshot,
            self,
            req,
            &conn,
            &request_id,
            deadline,
            &mut trace,
        ))
        .await;
        let mut response = outcome.unwrap_or_else(GatewayError::into_response);
        // The answer waits until the journal has the write's record (and
        // event): a success the client sees is audited.
        if let Some(journal) = &self.journal {
            if trace.write.is_some()
                || response.status() == http::StatusCode::UNAUTHORIZED
                || response.status() == http::StatusCode::FORBIDDEN
            {
                response = Box::pin(audit_stage::journal(
                    journal,
                    &trace,
                    request_id.as_str(),
                    &method,
                    conn.peer.ip(),
                    started,
                    response,
                ))
                .await;
            }
        }
        // The next write of the resource may go.
        drop(trace.turn.take());
        response
            .headers_mut()
            .insert(X_REQUEST_ID.clone(), request_id.header());
        let error = response.extensions().get::<ErrorInfo>();
        let tenant = trace.tenant;
        if let (Some(e), Some(tenant)) = (error, tenant) {
            if matches!(response.status().as_u16(), 401 | 403) || e.reason == "too_many_failures" {
                AuthFailed {
                    tenant: tenant.id.as_str(),
                    reason: e.reason,
                    request_id: request_id.as_str(),
                    peer: conn.peer.ip(),
                }
                .emit();
            }
        }
        if let Some(tenant) = tenant {
            let id = tenant.id.as_str();
            if trace.deprovision {
                Deprovisioned {
                    tenant: id,
                    ok: response.status().is_success(),
                    latency: started.elapsed(),
                }
                .emit();
            }
            if let Some((ok, failed)) = trace.bulk {
                BulkCounted {
                    tenant: id,
                    ok,
                    failed,
                }
                .emit();
            }
        }
        RequestCompleted {
            request_id: request_id.as_str(),
            tenant: tenant.map(|t| t.id.as_str()),
            tenant_metrics: tenant.map(|t| &t.metrics),
            principal: trace.principal.as_ref().map(|p| p.credential.as_str()),
            auth_method: trace.principal.as_ref().map(|p| p.method.as_str()),
            subject: trace.principal.as_ref().map(|p| p.subject.as_str()),
            method: &method,
            resource_type: trace.other_resource.as_deref().or(trace.resource_type),
            resource_label: trace.resource_type.unwrap_or("base"),
            upstream: trace.upstream.map(|u| u.name.as_str()),
            upstream_metrics: trace.upstream.map(|u| &u.metrics),
            status: response.status().as_u16(),
            upstream_status: trace.upstream_status,
            latency: started.elapsed(),
            upstream_latency: trace.upstream_latency,
            error: error.map(|e| e.reason),
            cause: error.and_then(|e| e.cause.as_deref()),
            peer: conn.peer.ip(),
        }
        .emit();
        response
    }
}

/// The stages, in order.
async fn pipeline<'s, B>(
    snapshot: &'s Snapshot,
    gateway: &Gateway,
    req: Request<B>,
    conn: &ConnInfo,
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
    let routed = resolve_tenant(snapshot.routing(), req.uri(), req.headers(), origin)?;
    let tenant: &'s Tenant = routed.tenant;
    // The tenant's IdP dialect, turned canonical before anything reads
    // the request (the authorization header here, query and body below).
    let mut req = req;
    let mut rules = tenant
        .dialect
        .as_ref()
        .map(|d| dialect_stage::rules(d, req.headers(), req.uri().query()));
    if let Some(rules) = &rules {
        dialect_stage::authorization(tenant, rules, req.headers_mut());
    }
    trace.tenant = Some(tenant);
    if routed.hook {
        // Boxed: a rare path whose state would otherwise enlarge every
        // request's future.
        return Box::pin(hook_stage::okta(
            snapshot,
            gateway,
            tenant,
            req,
            conn,
            request_id.as_str(),
            deadline,
        ))
        .await;
    }
    // Every stage below reads this one parsed route, never the raw path.
    let route = &routed.route;
    let segment = route.first_segment();
    let label = resource_type_label(segment);
    trace.resource_type = Some(label);
    if label == "other" {
        trace.other_resource = segment.map(|s| s.chars().take(32).collect());
    }

    // Brute-force damping (docs/authentication.md): a client that failed
    // too often lately at this tenant is still authenticated, but only as
    // far as the gateway can check without calling anyone (`Reach::Local`);
    // a credential that verifies goes on, anything else gets 429. So a
    // valid credential behind a shared address (NAT, a load balancer) is
    // never locked out by another client's failures, while a guess costs a
    // local check and never a key fetch or an introspection call.
    let (damper, limiter) = (&gateway.damper, &gateway.limiter);
    let damping = snapshot.server.auth_damping;
    let ip = conn.peer.ip();
    let damped = damper.check(damping, tenant.id.as_str(), ip).err();
    let reach = match damped {
        Some(_) => authn::Reach::Local,
        None => authn::Reach::Full,
    };

    // Authenticate before reading the body: an unauthenticated client
    // costs one header check, not a body upload. (A key fetch or an
    // introspection call is bounded by the request deadline.)
    let authenticated = tokio::time::timeout_at(
        deadline.at,
        authn::authenticate(&tenant.auth, &tenant.id, req.headers(), conn, reach),
    )
    .await;
    let principal: Principal = match authenticated {
        Ok(Ok(principal)) => {
            // The connection no longer counts as anonymous (server::admit).
            conn.authenticated();
            principal
        }
        Ok(Err(e)) => {
            if e.status() == 401 || e.reason().starts_with("client_certificate") {
                damper.failed(damping, tenant.id.as_str(), ip);
            }
            return Err(match damped {
                Some(wait) => too_many_failures(wait),
                None => e,
            });
        }
        Err(_) => {
            return Err(GatewayError::unavailable(
                "the credentials could not be checked in time; try again later",
                "auth_timeout",
                5,
            ))
        }
    };
    // Authorize: the tenant's grants cover this resource type and method.
    let authorized = authz::authorize(&tenant.auth.grants, &principal, req.method(), route);
    // The principal's limits are keyed by auth method and credential: a
    // JWT client named like a static token has a budget of its own.
    let credential = [principal.method.as_str(), ":", &principal.credential].concat();
    // `auto` weighs the verified token's issuer too (the authorization
    // header was fixed above, before there was a token to read).
    if let Some(after) = tenant.dialect.as_ref().and_then(|d| {
        dialect_stage::rules_after_auth(
            d,
            req.headers(),
            req.uri().query(),
            principal.issuer.as_deref(),
        )
    }) {
        rules = Some(after);
    }
    trace.principal = Some(principal);
    // From here on a write is audited, whatever its outcome (a failed
    // authentication is audited as such).
    if gateway.journal.is_some() && route.is_write(req.method()) {
        trace.write = Some(audit_stage::WriteTrace {
            route: route.clone(),
            body: Bytes::new(),
        });
    }
    authorized?;

    // The tenant's limits, and its principal's: after authentication, so
    // that a limit counts who is calling. (Held until the answer.)
    let mut admitted = Admitted::default();
    limiter
        .admit_tenant(
            snapshot.shared_limits.as_deref(),
            tenant.id.as_str(),
            &credential,
            &tenant.limits,
            &mut admitted,
        )
        .await
        .map_err(|r| limited(tenant, r))?;

    // Bounded body read (413 beyond the cap; 408 when the client is too
    // slow for the request deadline).
    let (parts, body) = req.into_parts();
    let limit = snapshot.server.max_request_body_bytes;
    let body =
        match tokio::time::timeout_at(deadline.at, read_body(&parts.headers, body, limit)).await {
            Ok(body) => body?,
            Err(_) => {
                return Err(GatewayError::client_reason(
                    ScimError::new(
                        408,
                        None,
                        format!(
                            "the request did not arrive within {}",
                            humantime::format_duration(deadline.within)
                        ),
                    ),
                    "request_timeout",
                ))
            }
        };

    let query = match &rules {
        Some(rules) => dialect_stage::query(tenant, rules, parts.uri.query())
            .or_else(|| parts.uri.query().map(str::to_string)),
        None => parts.uri.query().map(str::to_string),
    };
    let body = match &rules {
        Some(rules) => {
            dialect_stage::body(tenant, rules, &parts.method, &parts.headers, route, &body)
                .await
                .map_err(|e| GatewayError::client_reason(e, "dialect"))?
                .unwrap_or(body)
        }
        None => body,
    };
    if let Some(write) = &mut trace.write {
        write.body = body.clone();
    }

    // The tenant's schema: writes and searches validated and mapped to the
    // upstream's schema; discovery answered here, from the tenant's view.
    // (Off the reactor when the body is large: `crate::offload`.)
    let stage = schema_stage::inbound_bounded(
        &tenant.schema,
        &parts.method,
        &parts.headers,
        route,
        query,
        body,
        &routed.public_base,
    )
    .await
    .map_err(|e| GatewayError::client_reason(e, "schema"))?;
    let mut inbound = match stage {
        schema_stage::Stage::Forward(inbound) => inbound,
        schema_stage::Stage::Answer(answer) => {
            let (parts, body) = answer.into_parts();
            return Ok(Response::from_parts(parts, Full::new(body)));
        }
    };
    let (query, body) = (inbound.query.take(), std::mem::take(&mut inbound.body));
    // The tenant's PATCH, should the upstream need it emulated (a SCIM 1.1
    // upstream's stage may too), is applied in the tenant's schema
    // (`schema_stage::emulated_patch`), and Entra's upserts are resolved
    // there; nothing to build where neither can happen.
    let builtin = matches!(tenant.upstream.target, UpstreamTarget::Builtin(_));
    let filtered_upsert =
        rules.is_some_and(|r| r.is_on(crate::dialect::Rule::FilteredUpsert) && !r.shadow);
    let patch_view = if tenant.upstream.emulation.may_emulate_patch(builtin)
        || filtered_upsert
        || matches!(tenant.upstream.protocol, UpstreamProtocol::Scim11)
    {
        schema_stage::emulated_patch::view(
            &tenant.schema,
            route.first_segment().unwrap_or(""),
            std::mem::take(&mut inbound.tenant_patch),
        )
    } else {
        None
    };

    // The cache, where the tenant enables it: a hit costs the upstream
    // (and its limits) nothing. Keys are per tenant and public base; a
    // query parameter outside SCIM's is not cached (cache::key).
    let segment = route.first_segment().unwrap_or("");
    let cache = tenant
        .cache
        .filter(|_| parts.method == http::Method::GET)
        .and_then(|settings| {
            let discovery = matches!(route.kind(), RouteKind::Discovery(_));
            let ttl = if discovery {
                settings.discovery_ttl
            } else {
                settings.ttl
            };
            let (path, query) = (route.path(), parts.uri.query());
            let key = gateway.cache.key(
                tenant.id.as_str(),
                segment,
                &routed.public_base,
                path,
                query,
            )?;
            Some((key, ttl, settings.max_bytes))
        });
    if let Some((key, _, _)) = &cache {
        let hit = gateway.cache.get(key);
        CacheLookup {
            tenant: tenant.id.as_str(),
            hit: hit.is_some(),
        }
        .emit();
        if let Some(hit) = hit {
            let mut response = Response::new(Full::new(hit.body.clone()));
            *response.status_mut() = hit.status;
            *response.headers_mut() = hit.headers_with_age();
            return Ok(response);
        }
    }
    // Every write forwarded for the tenant makes its cached answers of the
    // type stale (a search is a read).
    let writes = tenant.cache.is_some() && route.is_write(&parts.method);
    // A guard: also when the client hangs up while the write is upstream.
    let invalidate = writes.then(|| Invalidate {
        cache: &gateway.cache,
        tenant: tenant.id.as_str(),
        resource_type: segment.to_string(),
    });

    // The upstream call: credentials swapped, headers cleaned, timeouts
    // and the response cap applied inside.
    let upstream: &'s Upstream = &tenant.upstream;
    // The upstream's limits protect a backend that several tenants may
    // share; they come last, right before the call.
    limiter
        .admit_upstream(
            snapshot.shared_limits.as_deref(),
            &upstream.name,
            &upstream.limits,
            &mut admitted,
        )
        .await
        .map_err(|r| limited(tenant, r))?;
    trace.upstream = Some(upstream);
    // Nothing unaudited reaches a backend: writes wait for a working
    // journal.
    if let (Some(journal), Some(_)) = (&gateway.journal, &trace.write) {
        audit_stage::refuse_writes(journal)?;
    }
    // Writes to one resource go one at a time (held until the answer).
    let (shared, within) = (
        snapshot.shared_limits.as_ref(),
        snapshot.server.request_timeout,
    );
    trace.turn = match WriteOrder::key(tenant.id.as_str(), &parts.method, route) {
        None => None,
        Some(key) => Some(
            tokio::time::timeout_at(
                deadline.at,
                gateway.write_order.turn_shared(key, shared, within),
            )
            .await
            .map_err(|_| {
                GatewayError::upstream(
                    504,
                    "an earlier write to this resource did not finish in time",
                    "request_timeout",
                    "write ordering wait",
                )
            })?,
        ),
    };
    let started = Instant::now();
    let request = UpstreamRequest {
        method: parts.method,
        // The upstream target is built from the route: it cannot leave the
        // tenant's upstream base.
        path: routed.route.into_path(),
        query,
        headers: parts.headers,
        body,
        request_id: request_id.clone(),
        client_ip: conn.peer.ip(),
        client_proto: if conn.tls { "https" } else { "http" },
        client_host: routed.host,
        public_base: match upstream.target {
            UpstreamTarget::Builtin(_) => Some(routed.public_base.clone()),
            UpstreamTarget::Http(_) => None,
        },
        filtered_upsert,
    };
    let max_response = snapshot.server.max_response_body_bytes;
    let response = match upstream.protocol {
        // A filter the mapping cannot send upstream: the gateway lists and
        // filters itself (schema_stage::emulated_filter).
        _ if inbound.emulated.is_some() => {
            let list = schema_stage::emulated_filter::list(
                &inbound,
                upstream,
                request,
                max_response,
                deadline,
            );
            Box::pin(list).await
        }
        UpstreamProtocol::Scim2 => {
            upstream::forward_with(upstream, request, max_response, deadline, patch_view).await
        }
        UpstreamProtocol::Scim11 => {
            Box::pin(scim11_stage::forward(
                upstream,
                request,
                max_response,
                deadline,
                patch_view,
            ))
            .await
        }
    };
    drop(invalidate);
    let response = response?;
    trace.upstream_latency = Some(started.elapsed());
    trace.upstream_status = Some(response.status().as_u16());

    // On the way back: locations point at the gateway, never upstream.
    // (The in-process store already wrote them with the public base.)
    let response = match &upstream.target {
        UpstreamTarget::Builtin(_) => response,
        UpstreamTarget::Http(http) => {
            rewrite_response(response, http.rebase(), &routed.public_base)
        }
    };
    trace.deprovision = inbound.deprovision;
    if inbound.bulk && response.status().is_success() {
        trace.bulk = schema_stage::bulk_outcomes(response.body());
    }
    // In the tenant's schema again.
    let response = schema_stage::outbound_bounded(&tenant.schema, &inbound, response).await;
    if let Some((key, ttl, max_bytes)) = cache {
        gateway.cache.put(
            key,
            max_bytes,
            response.status(),
            response.headers(),
            response.body(),
            ttl,
        );
    }
    let (parts, body) = response.into_parts();
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// Makes a tenant's cached answers of a resource type stale when dropped:
/// after a write's upstream answer, or when the write is cancelled while
/// upstream (the upstream may have applied it).
struct Invalidate<'a> {
    cache: &'a ResponseCache,
    tenant: &'a str,
    resource_type: String,
}

impl Drop for Invalidate<'_> {
    fn drop(&mut self) {
        self.cache.invalidate(self.tenant, &self.resource_type);
    }
}

/// 429 for a client the failure damper holds whose credential failed.
fn too_many_failures(wait: u64) -> GatewayError {
    GatewayError::too_many_requests(
        "too many failed authentications from this client; try again later",
        "too_many_failures",
        wait,
    )
}

/// 429 for a refused limit, with the time to wait.
fn limited(tenant: &Tenant, refused: Refused) -> GatewayError {
    LimitedEvent {
        tenant: tenant.id.as_str(),
        kind: refused.kind,
    }
    .emit();
    let detail = match refused.kind {
        "tenant_rate" => "this tenant's request rate is exceeded",
        "principal_rate" => "this credential's request rate is exceeded",
        "upstream_rate" => "the backend's request rate is exceeded",
        "tenant_concurrency" => "this tenant has too many requests in flight",
        _ => "the backend has too many requests in flight",
    };
    GatewayError::too_many_requests(
        &format!("{detail}; retry after the time in Retry-After"),
        "rate_limited",
        refused.retry_after_secs(),
    )
}

/// Reads a request body up to `limit` bytes.
async fn read_body<B>(
    headers: &http::HeaderMap,
    body: B,
    limit: usize,
) -> Result<Bytes, GatewayError>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let too_large = || {
        GatewayError::client_reason(
            ScimError::payload_too_large(format!("the request body is larger than {limit} bytes")),
            "payload_too_large",
        )
    };
    // Refuse early when the client announces too much.
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(GatewayError::client_reason(
            ScimError::invalid_syntax("the request body could not be read"),
            "body_read",
        )
        .with_cause(e)),
    }
}

/// `Location` and the JSON locations rewritten from the upstream's base to
/// the tenant's public base.
fn rewrite_response(
    response: Response<Bytes>,
    rebase: &Rebase,
    public_base: &str,
) -> Response<Bytes> {
    let (mut parts, body) = response.into_parts();
    if let Some(loc) = parts.headers.get(LOCATION).and_then(|v| v.to_str().ok()) {
        if let Some(new) = rebase.location(loc, public_base) {
            if let Ok(v) = HeaderValue::from_str(&new) {
                parts.headers.insert(LOCATION, v);
            }
        }
    }
    let body = match rebase.body(&body, public_base) {
        Some(new) => {
            parts.headers.remove(CONTENT_LENGTH);
            new
        }
        None => body,
    };
    Response::from_parts(parts, body)
}

impl Handler for Gateway {
    fn call<'a>(
        &'a self,
        req: Request<Incoming>,
        conn: Arc<ConnInfo>,
    ) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send + 'a>> {
        Box::pin(self.handle(req, conn))
    }
}

/// The gateway as the server runs it: a write whose cancellation could
/// lose something is handled in a task of its own, so a client that hangs
/// up does not cancel it half-way (the upstream may have the change: it is
/// still answered by the upstream, audited and its event kept, and the
/// resource's write turn is held until then). That is every write when
/// the audit journal is on; without it, PUT, PATCH and DELETE (their
/// write-order turn) and Bulk. A create without a journal has nothing to
/// lose (its cache invalidation is a drop guard) and, like reads, stays in
/// the connection's task: a task per request costs about 2 µs of CPU.
#[derive(Debug, Clone)]
pub struct Detached {
    gateway: Arc<Gateway>,
    writes: Arc<InFlight>,
}

/// `/Bulk` (under any tenant prefix), in any case.
fn is_bulk_path(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    path.get(path.len().saturating_sub(5)..)
        .is_some_and(|tail| tail.eq_ignore_ascii_case("/Bulk"))
}

/// Detached writes still running.
#[derive(Debug, Default)]
struct InFlight {
    count: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// Counts a detached write until it ends (also by a panic).
struct Running(Arc<InFlight>);

impl Drop for Running {
    fn drop(&mut self) {
        if self
            .0
            .count
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel)
            == 1
        {
            self.0.idle.notify_waiters();
        }
    }
}

impl Detached {
    pub fn new(gateway: Arc<Gateway>) -> Detached {
        Detached {
            gateway,
            writes: Arc::default(),
        }
    }

    /// Waits (at most `within`) until no detached write runs: at shutdown,
    /// before the journal closes.
    pub async fn drained(&self, within: Duration) {
        use std::sync::atomic::Ordering;
        let _ = tokio::time::timeout(within, async {
            loop {
                let idle = self.writes.idle.notified();
                if self.writes.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        })
        .await;
    }
}

impl Handler for Detached {
    fn client_certificate_refused(
        &self,
        peer: std::net::SocketAddr,
        sni: Option<&str>,
        reason: &str,
    ) {
        // A refusal on a tenant's host is that tenant's failed
        // authentication: counted, logged and audited like a 401.
        let snapshot = self.gateway.config.load();
        let Some(tenant) = sni.and_then(|h| snapshot.tenant_by_host(h)) else {
            return;
        };
        let request_id = RequestId::generate();
        let label = crate::tls::handshake_refusal_reason(reason);
        if label == "client_certificate_crl_expired" {
            tracing::warn!(tenant = tenant.id.as_str(), "client certificate refused at the TLS handshake: the tenant's CRL for its issuer is past its nextUpdate; publish a fresh CRL and reload (or set crl_expired = \"allow\")");
        }
        AuthFailed {
            tenant: tenant.id.as_str(),
            reason: label,
            request_id: request_id.as_str(),
            peer: peer.ip(),
        }
        .emit();
        tracing::debug!(tenant = tenant.id.as_str(), %reason, "client certificate refused at the TLS handshake");
        let Some(journal) = &self.gateway.journal else {
            return;
        };
        // Status 0: no HTTP answer, the handshake was refused.
        let ack = journal.auth_failure(
            request_id.as_str(),
            "TLS",
            peer.ip(),
            Some(tenant.id.as_str()),
            0,
            label,
        );
        tokio::spawn(async move {
            if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(10), ack).await {
                tracing::error!(error = %e, "a refused client certificate could not be audited");
            }
        });
    }

    fn call<'a>(
        &'a self,
        req: Request<Incoming>,
        conn: Arc<ConnInfo>,
    ) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send + 'a>> {
        use std::sync::atomic::Ordering;
        let read = matches!(
            *req.method(),
            http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
        );
        let lone_create = *req.method() == http::Method::POST
            && self.gateway.journal.is_none()
            && !is_bulk_path(req.uri().path());
        if read || lone_create {
            return Box::pin(self.gateway.handle(req, conn));
        }
        let gateway = self.gateway.clone();
        self.writes.count.fetch_add(1, Ordering::AcqRel);
        let running = Running(self.writes.clone());
        let task = tokio::spawn(async move {
            let _running = running;
            gateway.handle(req, conn).await
        });
        Box::pin(async move {
            task.await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "a write's task failed");
                GatewayError::internal(e).into_response()
            })
        })
    }
}
