//! Upstream calls: the pooled HTTP(S) client, the in-process built-in
//! store, header hygiene and credential injection, timeouts and body caps.
//!
//! Failures are classified here (connect → 502, timeout → 504, oversized
//! or broken response → 502) with a detail safe for the client; the
//! internal cause (addresses, transport errors) goes to the logs only.
pub mod balance;
pub mod emulate;
// Public only for the fuzz target of the response parser (fuzz/).
#[doc(hidden)]
pub mod h1;
mod headers;
pub mod oauth;
pub mod pool;
pub mod resilience;

pub use headers::{clean_request_headers, clean_response_headers};

use crate::error::GatewayError;
use crate::request_id::RequestId;
use crate::rewrite::Rebase;
use crate::snapshot::{Upstream, UpstreamAuth, UpstreamTarget};
use crate::telemetry::emit::{UpstreamFailed, UpstreamRetried};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri};
use pool::{Pool, PoolSettings};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The gateway's own client for auxiliary calls, now in
/// [`crate::http_client`]; this path is kept while the layering moves land.
/// Proxied requests use the upstream's own [`Pool`].
pub use crate::http_client::HttpClient;

/// A remote SCIM server: where it is, how its locations read, and the
/// connection pool to it. Built once per config.
pub struct HttpTarget {
    /// The base URL, e.g. `https://scim.internal/scim/v2`, without a
    /// trailing slash.
    pub base: Uri,
    /// The base's path (`/scim/v2`, or empty), without a trailing slash.
    base_path: String,
    /// The `Host` header sent upstream.
    host: HeaderValue,
    /// Rewrites the upstream's locations to the gateway's.
    pub rebase: Rebase,
    pub pool: Pool,
    /// Several endpoints (`urls = [...]`): the balancer that picks one per
    /// attempt (this target is then the first endpoint's base, used for
    /// locations only). `None` for a single URL: the hot path is unchanged.
    pub balancer: Option<Arc<balance::Balancer>>,
}

impl HttpTarget {
    /// `tls` is required for an `https` base.
    pub fn new(
        base: Uri,
        tls: Option<Arc<rustls::ClientConfig>>,
        connect_timeout: Duration,
        max_idle: usize,
    ) -> Result<HttpTarget, String> {
        let (Some(scheme), Some(authority)) = (base.scheme().cloned(), base.authority().cloned())
        else {
            return Err(format!("\"{base}\" is not an absolute URL"));
        };
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| format!("\"{authority}\" cannot be a Host header"))?;
        let text = base.to_string();
        let rebase = Rebase::new(&text).ok_or_else(|| format!("\"{base}\" has no host"))?;
        let pool = Pool::new(PoolSettings {
            scheme,
            authority,
            tls,
            connect_timeout,
            max_idle,
            idle_timeout: Duration::from_secs(30),
        })?;
        Ok(HttpTarget {
            base_path: base.path().trim_end_matches('/').to_string(),
            base,
            host,
            rebase,
            pool,
            balancer: None,
        })
    }

    /// This target (the first URL) with a balancer over all endpoints.
    pub fn with_balancer(mut self, balancer: balance::Balancer) -> HttpTarget {
        self.balancer = Some(Arc::new(balancer));
        self
    }

    /// The request target: base path + SCIM path + `?query`, in origin
    /// form, nothing re-encoded.
    fn target(&self, path: &str, query: Option<&str>) -> Result<Uri, http::Error> {
        let s = origin_form(&self.base_path, path, query);
        let pq = http::uri::PathAndQuery::from_maybe_shared(Bytes::from(s))?;
        Ok(Uri::from(pq))
    }
}

/// `base_path` + `path` + `?query` (`/` when both paths are empty), in a
/// buffer of exactly its length: `Bytes::from` then keeps the buffer as
/// is (with spare capacity it would allocate a shared header too).
fn origin_form(base_path: &str, path: &str, query: Option<&str>) -> String {
    let root = base_path.is_empty() && path.is_empty();
    let mut s = String::with_capacity(
        base_path.len() + path.len() + usize::from(root) + query.map_or(0, |q| q.len() + 1),
    );
    s.push_str(base_path);
    s.push_str(path);
    if root {
        s.push('/');
    }
    if let Some(q) = query {
        s.push('?');
        s.push_str(q);
    }
    s
}

/// A request on its way upstream.
#[derive(Debug)]
pub struct UpstreamRequest {
    pub method: Method,
    /// The SCIM path relative to the base, e.g. `/Users/123` (may be empty).
    pub path: String,
    /// The raw query, passed through untouched.
    pub query: Option<String>,
    /// The client's headers (cleaned here).
    pub headers: HeaderMap,
    pub body: Bytes,
    pub request_id: RequestId,
    pub client_ip: IpAddr,
    pub client_proto: &'static str,
    pub client_host: String,
    /// The tenant's public SCIM base URL. The in-process store writes its
    /// locations with it directly, so its responses need no rewriting.
    pub public_base: Option<String>,
    /// A PATCH whose value-filtered adds and replaces create the element
    /// when their filter selects nothing (the tenant's dialect has
    /// `filtered_upsert` on: Entra ID). Resolved against the resource
    /// before the PATCH is applied, natively or emulated
    /// (`emulate::upsert`).
    pub filtered_upsert: bool,
}

/// When the whole request must be answered, and the configured limit
/// behind it (for the message).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    pub within: Duration,
}

/// The base URL the upstream writes into its locations (for the built-in
/// store, a synthetic base that the gateway rewrites back).
pub fn public_base_of(upstream: &Upstream) -> String {
    match &upstream.target {
        UpstreamTarget::Http(http) => http.rebase.as_str().to_string(),
        UpstreamTarget::Builtin(_) => format!("http://builtin.invalid/{}", upstream.name),
    }
}

/// Sends the request upstream and reads the whole response (bounded by
/// `max_response_body` bytes, the upstream's request timeout and the
/// request's deadline), emulating what the upstream cannot do (PATCH,
/// Bulk, filtering, ETags: see [`emulate`]).
pub async fn forward(
    upstream: &Upstream,
    req: UpstreamRequest,
    max_response_body: usize,
    deadline: Deadline,
) -> Result<Response<Bytes>, GatewayError> {
    forward_with(upstream, req, max_response_body, deadline, None).await
}

/// [`forward`], with the view an emulated PATCH applies in
/// (`emulate::Context::patch_view`: a mapped tenant's).
pub async fn forward_with(
    upstream: &Upstream,
    req: UpstreamRequest,
    max_response_body: usize,
    deadline: Deadline,
    patch_view: Option<emulate::patch::Views>,
) -> Result<Response<Bytes>, GatewayError> {
    // A SCIM 1.1 upstream gets 1.1 bodies from its own stage, which does
    // its own PATCH emulation (`stack::scim11_stage`): nothing to emulate.
    if upstream.protocol == crate::snapshot::UpstreamProtocol::Scim11 {
        return send(upstream, req, max_response_body, deadline).await;
    }
    let ctx = emulate::Context {
        upstream: &upstream.name,
        emulation: &upstream.emulation,
        builtin: matches!(upstream.target, UpstreamTarget::Builtin(_)),
        deadline,
        patch_view,
    };
    let send = |req| send(upstream, req, max_response_body, deadline);
    // Not boxed: the emulations box their own (large) state, so what is
    // left is small and a box would only add a copy and an allocation.
    emulate::forward(&ctx, req, &send).await
}

/// One call to the upstream, as the request says (no emulation).
pub async fn send(
    upstream: &Upstream,
    req: UpstreamRequest,
    max_response_body: usize,
    deadline: Deadline,
) -> Result<Response<Bytes>, GatewayError> {
    match &upstream.target {
        UpstreamTarget::Builtin(store) => {
            let base = req
                .public_base
                .clone()
                .unwrap_or_else(|| public_base_of(upstream));
            let mut builder = Request::builder()
                .method(req.method.clone())
                .uri(path_and_query(&base, &req));
            if let Some(h) = builder.headers_mut() {
                *h = clean_request_headers(
                    &req.headers,
                    upstream,
                    &req,
                    HeaderValue::from_static("builtin.invalid"),
                );
            }
            let request = builder
                .body(req.body.clone())
                .map_err(|e| GatewayError::internal(format!("building the store request: {e}")))?;
            let path = if req.path.is_empty() {
                "/"
            } else {
                req.path.as_str()
            };
            Ok(store.handle_at(&request, &base, path))
        }
        // Boxed once here so that the large state of the exchange is not
        // moved through every enclosing future.
        UpstreamTarget::Http(http) => {
            Box::pin(forward_http(
                upstream,
                http,
                req,
                max_response_body,
                deadline,
            ))
            .await
        }
    }
}

/// The upstream call with its resilience: the circuit breaker first, then
/// attempts, retried where safe (see [`resilience`]).
async fn forward_http(
    upstream: &Upstream,
    http: &HttpTarget,
    req: UpstreamRequest,
    max_response_body: usize,
    deadline: Deadline,
) -> Result<Response<Bytes>, GatewayError> {
    let settings = &upstream.resilience_settings;
    let state = &upstream.resilience;
    let admission = state.admit(settings);
    if let resilience::Admission::Open(wait) = admission {
        UpstreamFailed {
            upstream: &upstream.name,
            reason: "circuit_open",
            request_id: req.request_id.as_str(),
        }
        .emit();
        return Err(GatewayError::unavailable(
            "the upstream is failing; the gateway has paused requests to it",
            "circuit_open",
            wait.as_secs() + 1,
        ));
    }
    // The probe's slot is given back if this future is dropped before an
    // outcome is recorded (a client hang-up): see `resilience::Probe`.
    let mut probe = state.probe(admission);
    let mut record = |ok: bool| match probe.take() {
        Some(p) => p.record(ok, settings),
        None => state.record(ok, settings),
    };
    // The upstream's timeout covers all attempts.
    let upstream_until = Instant::now() + upstream.request_timeout;
    let until = upstream_until.min(deadline.at);
    let mut tries = 0u32;
    // With several endpoints: the one that served the last attempt (a
    // retry prefers another).
    let mut last = None;
    loop {
        let result = match &http.balancer {
            None => {
                attempt(
                    upstream,
                    http,
                    &req,
                    max_response_body,
                    deadline,
                    upstream_until,
                )
                .await
            }
            // Boxed: the balanced attempt's state would otherwise enlarge
            // every single-endpoint request's future too.
            Some(balancer) => {
                let (used, result) = Box::pin(balance::forward::attempt_balanced(
                    upstream,
                    http,
                    balancer,
                    &req,
                    max_response_body,
                    deadline,
                    upstream_until,
                    last,
                ))
                .await;
                if used.is_none() {
                    // No endpoint to try: 503 at once. Nothing was sent, so
                    // the circuit learns nothing, except that its probe
                    // (if this was it) found the upstream down.
                    if admission == resilience::Admission::Probe {
                        record(false);
                    }
                    return result;
                }
                last = used;
                result
            }
        };
        let (failed, wait) = match &result {
            Ok(resp) if resilience::retriable_status(resp.status().as_u16()) => {
                let status = resp.status().as_u16();
                let wait = if status == 429 {
                    crate::telemetry::emit::UpstreamThrottled {
                        upstream: &upstream.name,
                    }
                    .emit();
                    // The upstream says when; beyond the cap, its answer
                    // goes to the client.
                    resilience::retry_after(resp.headers())
                        .filter(|w| *w <= settings.retry_after_cap)
                } else {
                    Some(resilience::backoff(tries + 1, settings))
                };
                (status != 429, wait)
            }
            // A 5xx counts against the upstream's health (but only the
            // ones above are worth a retry).
            Ok(resp) => (resp.status().is_server_error(), None),
            Err(e) if matches!(e.reason(), "upstream_connect" | "upstream_protocol") => {
                (true, Some(resilience::backoff(tries + 1, settings)))
            }
            Err(_) => (true, None),
        };
        let retry = wait.filter(|w| {
            Instant::now() + *w < until && state.may_retry(&req.method, tries, settings)
        });
        let Some(wait) = retry else {
            record(!failed);
            return result;
        };
        tries += 1;
        UpstreamRetried {
            upstream: &upstream.name,
            reason: match &result {
                Ok(resp) => resilience_reason(resp.status().as_u16()),
                Err(e) => e.reason(),
            },
        }
        .emit();
        tokio::time::sleep(wait).await;
    }
}

fn resilience_reason(status: u16) -> &'static str {
    match status {
        429 => "upstream_429",
        502 => "upstream_502",
        503 => "upstream_503",
        _ => "upstream_504",
    }
}

/// One exchange with the upstream: the request sent, the whole answer
/// read (bounded).
async fn attempt(
    upstream: &Upstream,
    http: &HttpTarget,
    req: &UpstreamRequest,
    max_response_body: usize,
    deadline: Deadline,
    upstream_until: Instant,
) -> Result<Response<Bytes>, GatewayError> {
    let request_id = req.request_id.as_str();
    let fail = |status: u16, detail: &str, reason: &'static str, cause: String| {
        UpstreamFailed {
            upstream: &upstream.name,
            reason,
            request_id,
        }
        .emit();
        GatewayError::upstream(status, detail, reason, cause)
    };
    let uri = http.target(&req.path, req.query.as_deref()).map_err(|e| {
        fail(
            502,
            "the request path cannot be sent upstream",
            "upstream_protocol",
            format!("{e}"),
        )
    })?;
    let headers = clean_request_headers(&req.headers, upstream, req, http.host.clone());

    // One timer for the call: the upstream's timeout or what is left of
    // the request's, whichever ends first.
    let until = upstream_until.min(deadline.at);
    let timed_out = || {
        if upstream_until <= deadline.at {
            fail(
                504,
                &format!(
                    "the upstream did not answer within {}",
                    humantime::format_duration(upstream.request_timeout)
                ),
                "upstream_timeout",
                format!("{} timed out", upstream.name),
            )
        } else {
            fail(
                504,
                &format!(
                    "the request did not complete within {}",
                    humantime::format_duration(deadline.within)
                ),
                "request_timeout",
                format!("{}: request deadline", upstream.name),
            )
        }
    };
    let exchange = |request: Request<Bytes>| async {
        match tokio::time::timeout_at(until, http.pool.exchange(request, max_response_body)).await {
            Err(_) => Err(timed_out()),
            Ok(Err(e)) => {
                let cause = format!("{}: {e}", upstream.name);
                Err(if e.is_connect() {
                    fail(
                        502,
                        "the upstream could not be reached",
                        "upstream_connect",
                        cause,
                    )
                } else if e.is_too_large() {
                    fail(
                        502,
                        &format!("the upstream response exceeded {max_response_body} bytes"),
                        "upstream_too_large",
                        cause,
                    )
                } else {
                    fail(
                        502,
                        "the upstream connection failed",
                        "upstream_protocol",
                        cause,
                    )
                })
            }
            Ok(Ok(response)) => Ok(response),
        }
    };
    let build = |uri: Uri, headers: HeaderMap, authorization: Option<HeaderValue>| {
        let mut request = Request::new(req.body.clone());
        *request.method_mut() = req.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        if let Some(v) = authorization {
            request.headers_mut().insert(http::header::AUTHORIZATION, v);
        }
        request
    };
    let response = match &upstream.auth {
        // Boxed: two exchanges and the token fetches in one state, which
        // requests with a static credential should not carry.
        UpstreamAuth::OAuth2(source) => {
            Box::pin(async {
                // A token from the cache (or one fetch shared by all callers);
                // a 401 to it: one refresh and one retry (the upstream refused
                // the credential, so it did not act on the request).
                let token = oauth_token(source, until, &fail).await?;
                let first = build(uri.clone(), headers.clone(), Some(token.header_value()));
                let response = exchange(first).await?;
                if response.status() == http::StatusCode::UNAUTHORIZED {
                    drop(response);
                    source.invalidate(&token);
                    let token = oauth_token(source, until, &fail).await?;
                    exchange(build(uri, headers, Some(token.header_value()))).await
                } else {
                    Ok(response)
                }
            })
            .await?
        }
        _ => exchange(build(uri, headers, None)).await?,
    };
    let (mut parts, bytes) = response.into_parts();
    clean_response_headers(&mut parts.headers);
    Ok(Response::from_parts(parts, bytes))
}

/// An access token for the upstream, within the call's time.
async fn oauth_token(
    source: &oauth::TokenSource,
    until: Instant,
    fail: &impl Fn(u16, &str, &'static str, String) -> GatewayError,
) -> Result<oauth::AccessToken, GatewayError> {
    match tokio::time::timeout_at(until, source.token()).await {
        Ok(Ok(token)) => Ok(token),
        Ok(Err(e)) => Err(fail(
            502,
            "the gateway could not obtain its credential for the upstream",
            "upstream_credential",
            e.to_string(),
        )),
        Err(_) => Err(fail(
            504,
            "the gateway's credential for the upstream did not arrive in time",
            "upstream_credential",
            "token endpoint timed out".into(),
        )),
    }
}

/// `base` + path + `?query`, without doubling slashes and without
/// re-encoding anything (the colons of `/Schemas/urn:...` stay as sent).
fn path_and_query(base: &str, req: &UpstreamRequest) -> String {
    let mut s = String::with_capacity(base.len() + req.path.len() + 32);
    s.push_str(base.trim_end_matches('/'));
    s.push_str(&req.path);
    if let Some(q) = &req.query {
        s.push('?');
        s.push_str(q);
    }
    s
}

#[cfg(test)]
mod tests;
