//! One call to an upstream: [`forward`] (with the emulation of what the
//! upstream cannot do), [`send`] (as the request says), and around the
//! attempts on an `http` upstream its resilience: the circuit breaker
//! first, then attempts, retried where safe (see [`super::resilience`]),
//! each on the one endpoint or on the one the balancer picks.
//! Imports the upstream's own parts and the ground (`error`, `telemetry`).
use super::attempt::attempt;
use super::balance;
use super::emulate;
use super::endpoint::HttpTarget;
use super::headers::clean_request_headers;
use super::resilience;
use super::target::{Upstream, UpstreamProtocol, UpstreamTarget};
use super::{public_base_of, Deadline, UpstreamRequest};
use crate::error::{GatewayError, Reason};
use crate::telemetry::emit::{UpstreamFailed, UpstreamRetried, UpstreamThrottled};
use crate::traces;
use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use tokio::time::Instant;

/// Sends the request upstream and reads the whole response (bounded by
/// `max_response_body` bytes, the upstream's request timeout and the
/// request's deadline), emulating what the upstream cannot do (PATCH,
/// Bulk, filtering, ETags: see [`emulate`]).
pub(crate) async fn forward(
    upstream: &Upstream,
    req: UpstreamRequest,
    max_response_body: usize,
    deadline: Deadline,
) -> Result<Response<Bytes>, GatewayError> {
    forward_with(upstream, req, max_response_body, deadline, None).await
}

/// [`forward`], with the view an emulated PATCH applies in
/// (`emulate::Context::patch_view`: a mapped tenant's).
pub(crate) async fn forward_with(
    upstream: &Upstream,
    req: UpstreamRequest,
    max_response_body: usize,
    deadline: Deadline,
    patch_view: Option<emulate::patch::Views>,
) -> Result<Response<Bytes>, GatewayError> {
    // A SCIM 1.1 upstream gets 1.1 bodies from its own stage, which does
    // its own PATCH emulation (`stack::scim11_stage`): nothing to emulate.
    if upstream.protocol == UpstreamProtocol::Scim11 {
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
pub(crate) async fn send(
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
                    upstream.authorization.as_ref(),
                    &req,
                    HeaderValue::from_static("builtin.invalid"),
                    None,
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
            crate::boxed::pinned(|| forward_http(upstream, http, req, max_response_body, deadline))
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
            reason: Reason::CircuitOpen.as_str(),
            request_id: req.request_id.as_str(),
        }
        .emit();
        return Err(GatewayError::unavailable(
            "the upstream is failing; the gateway has paused requests to it",
            Reason::CircuitOpen,
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
        // Each attempt is a span of its own, and the upstream's parent.
        let span = traces::child("upstream attempt", traces::Kind::Client);
        let propagation = span.as_ref().map(|s| {
            if s.recording() {
                s.attribute("scim_gateway.attempt", tries + 1);
                s.attribute("scim_gateway.upstream", upstream.name.clone());
            }
            s.propagation()
        });
        let trace = propagation.as_ref();
        let result = match http {
            HttpTarget::Single(endpoint) => {
                attempt(
                    upstream,
                    endpoint,
                    &req,
                    max_response_body,
                    deadline,
                    upstream_until,
                    trace,
                )
                .await
            }
            // Boxed: the balanced attempt's state would otherwise enlarge
            // every single-endpoint request's future too.
            HttpTarget::Balanced { primary, balancer } => {
                let (used, result) = Box::pin(balance::forward::attempt_balanced(
                    upstream,
                    primary,
                    balancer,
                    &req,
                    max_response_body,
                    deadline,
                    upstream_until,
                    last,
                    trace,
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
                    UpstreamThrottled {
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
            Err(e) if e.reason().retryable() => {
                (true, Some(resilience::backoff(tries + 1, settings)))
            }
            Err(_) => (true, None),
        };
        if let Some(span) = span {
            match &result {
                Ok(resp) => {
                    span.attribute("http.response.status_code", resp.status().as_u16());
                    span.end(resp.status().is_server_error());
                }
                Err(e) => {
                    span.attribute("error.type", e.reason().as_str());
                    span.end(true);
                }
            }
        }
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
                Err(e) => e.reason().as_str(),
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
