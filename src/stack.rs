//! The per-request pipeline, assembled in one place. Each stage is a plain
//! function or `async fn`; the order is the design (DESIGN.md, "Request
//! pipeline"), and each line says why it sits where it does.
use crate::authn::{self, Principal};
use crate::config::reload::ConfigHandle;
use crate::error::{ErrorInfo, GatewayError};
use crate::rewrite;
use crate::scim::error::ScimError;
use crate::server::{ConnInfo, Handler};
use crate::snapshot::Snapshot;
use crate::telemetry::events::{AuthFailed, RequestCompleted};
use crate::tenant::{resolve_tenant, Origin, Routed};
use crate::upstream::{self, UpstreamRequest};
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, LOCATION};
use http::{HeaderName, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `X-Request-Id`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The gateway: the current configuration and what the stages share.
#[derive(Debug)]
pub struct Gateway {
    config: Arc<ConfigHandle>,
}

/// What the access log and metrics learn about a request.
#[derive(Debug, Default)]
struct Trace {
    tenant: Option<String>,
    principal: Option<String>,
    resource_type: Option<String>,
    upstream: Option<String>,
    upstream_status: Option<u16>,
    upstream_latency: Option<Duration>,
}

impl Gateway {
    pub fn new(config: Arc<ConfigHandle>) -> Gateway {
        Gateway { config }
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
        let request_id = request_id(&req);
        // One snapshot for the whole request: a reload mid-request cannot
        // mix two configs.
        let snapshot = self.config.load();
        let mut trace = Trace::default();
        let deadline = snapshot.server.request_timeout;
        let outcome = tokio::time::timeout(
            deadline,
            pipeline(&snapshot, req, &conn, &request_id, &mut trace),
        )
        .await
        .unwrap_or_else(|_| {
            let within = humantime::format_duration(deadline);
            // Before the upstream was called, the time went to the client
            // (a slow body): 408; after, to the upstream: 504.
            Err(match trace.upstream {
                None => GatewayError::client_reason(
                    ScimError::new(
                        408,
                        None,
                        format!("the request did not arrive within {within}"),
                    ),
                    "request_timeout",
                ),
                Some(_) => GatewayError::upstream(
                    504,
                    &format!("the request did not complete within {within}"),
                    "request_timeout",
                    "request deadline",
                ),
            })
        });
        let mut response = outcome.unwrap_or_else(GatewayError::into_response);
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(X_REQUEST_ID.clone(), v);
        }
        let error = response.extensions().get::<ErrorInfo>();
        if let (Some(e), Some(tenant)) = (error, trace.tenant.as_deref()) {
            if response.status() == http::StatusCode::UNAUTHORIZED {
                AuthFailed {
                    tenant,
                    reason: e.reason,
                    request_id: &request_id,
                    peer: conn.peer.ip(),
                }
                .emit();
            }
        }
        RequestCompleted {
            request_id: &request_id,
            tenant: trace.tenant.as_deref(),
            principal: trace.principal.as_deref(),
            method: &method,
            resource_type: trace.resource_type.as_deref(),
            status: response.status().as_u16(),
            upstream: trace.upstream.as_deref(),
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
async fn pipeline<B>(
    snapshot: &Snapshot,
    req: Request<B>,
    conn: &ConnInfo,
    request_id: &str,
    trace: &mut Trace,
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
    let routed = resolve_tenant(snapshot, req.uri(), req.headers(), origin)?;
    trace.tenant = Some(routed.tenant.id.to_string());
    trace.resource_type = resource_type(&routed.scim_path);

    // Authenticate before reading the body: an unauthenticated client
    // costs one header check, not a body upload.
    let principal: Principal = authn::authenticate(&routed.tenant, req.headers())?;
    trace.principal = Some(principal.credential.clone());

    // Bounded body read (413 beyond the cap; the request deadline bounds
    // the time).
    let (parts, body) = req.into_parts();
    let body = read_body(&parts.headers, body, snapshot.server.max_request_body_bytes).await?;

    // The upstream call: credentials swapped, headers cleaned, timeouts
    // and the response cap applied inside.
    let upstream = routed.tenant.upstream.clone();
    trace.upstream = Some(upstream.name.clone());
    let started = Instant::now();
    let response = upstream::forward(
        &upstream,
        UpstreamRequest {
            method: parts.method,
            path: routed.scim_path.clone(),
            query: parts.uri.query().map(str::to_string),
            headers: parts.headers,
            body,
            request_id: request_id.to_string(),
            client_ip: conn.peer.ip(),
            client_proto: if conn.tls { "https" } else { "http" },
            client_host: routed.host.clone(),
            public_base: Some(routed.public_base.clone()),
        },
        snapshot.server.max_response_body_bytes,
    )
    .await?;
    trace.upstream_latency = Some(started.elapsed());
    trace.upstream_status = Some(response.status().as_u16());

    // On the way back: locations point at the gateway, never upstream.
    // (The in-process store already wrote them with the public base.)
    if matches!(upstream.target, crate::snapshot::UpstreamTarget::Builtin(_)) {
        let (parts, body) = response.into_parts();
        return Ok(Response::from_parts(parts, Full::new(body)));
    }
    Ok(rewrite_response(
        response,
        &upstream::public_base_of(&upstream),
        &routed,
    ))
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
    from_base: &str,
    routed: &Routed,
) -> Response<Full<Bytes>> {
    let (mut parts, body) = response.into_parts();
    if let Some(loc) = parts.headers.get(LOCATION).and_then(|v| v.to_str().ok()) {
        if let Some(new) = rewrite::rewrite_location_header(loc, from_base, &routed.public_base) {
            if let Ok(v) = HeaderValue::from_str(&new) {
                parts.headers.insert(LOCATION, v);
            }
        }
    }
    let body = match rewrite::rewrite_response_body(&body, from_base, &routed.public_base) {
        Some(new) => {
            parts.headers.remove(CONTENT_LENGTH);
            new
        }
        None => body,
    };
    Response::from_parts(parts, Full::new(body))
}

/// The request id: the client's `X-Request-Id` when it is short and plain,
/// else a fresh one.
fn request_id<B>(req: &Request<B>) -> String {
    if let Some(id) = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
    {
        return id.to_string();
    }
    new_request_id()
}

/// 128 random bits as hex, from a per-process random hasher and a counter.
fn new_request_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static SEED: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = SEED.get_or_init(std::collections::hash_map::RandomState::new);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut a = seed.build_hasher();
    a.write_u64(n);
    let mut b = seed.build_hasher();
    b.write_u64(!n);
    format!("{:016x}{:016x}", a.finish(), b.finish())
}

/// The resource type a SCIM path addresses (`/Users/1` → `Users`).
fn resource_type(scim_path: &str) -> Option<String> {
    scim_path
        .trim_start_matches('/')
        .split('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(32).collect())
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
