//! One attempt of a request on an upstream with several endpoints: pick
//! an endpoint, count the request in flight on it, send it through the
//! endpoint's pool, and let the outcome feed outlier detection.
//!
//! Locations: an endpoint other than the first writes its own base into
//! `Location` and the JSON locations; they are rewritten here to the
//! upstream's primary base (the first URL), which the pipeline then
//! rewrites to the tenant's public base like for any upstream.
use super::{health, Balancer};
use crate::error::{GatewayError, Reason};
use crate::rewrite::Rebase;
use crate::telemetry::emit::UpstreamFailed;
use crate::traces::Propagation;
use crate::upstream::attempt::attempt;
use crate::upstream::endpoint::Endpoint;
use crate::upstream::target::Upstream;
use crate::upstream::{Deadline, UpstreamRequest};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, LOCATION};
use http::{HeaderValue, Response};
use std::sync::Arc;
use tokio::time::Instant;

/// The `reason` of the 503 when no endpoint is available.
pub(crate) const NO_ENDPOINT: Reason = Reason::NoEndpoint;

/// An attempt on the least loaded available endpoint other than `avoid`;
/// returns the endpoint used (`None` when none was available: then the
/// error is a 503 with `Retry-After`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn attempt_balanced(
    upstream: &Upstream,
    primary: &Endpoint,
    balancer: &Arc<Balancer>,
    req: &UpstreamRequest,
    max_response_body: usize,
    deadline: Deadline,
    upstream_until: Instant,
    avoid: Option<usize>,
    trace: Option<&Propagation>,
) -> (Option<usize>, Result<Response<Bytes>, GatewayError>) {
    health::start(balancer, &upstream.auth);
    let (i, member) = match balancer.pick(avoid) {
        Ok(i) => match balancer.endpoint(i) {
            Some(e) => (i, e),
            None => {
                return (
                    None,
                    Err(GatewayError::internal("picked a missing endpoint")),
                )
            }
        },
        Err(wait) => {
            UpstreamFailed {
                upstream: &upstream.name,
                reason: NO_ENDPOINT.as_str(),
                request_id: req.request_id.as_str(),
            }
            .emit();
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return (
                None,
                Err(GatewayError::unavailable(
                    "no server of the upstream is available; retry after the time in Retry-After",
                    NO_ENDPOINT,
                    secs,
                )),
            );
        }
    };
    let in_flight = balancer.begin(i);
    let result = attempt(
        upstream,
        &member.endpoint,
        req,
        max_response_body,
        deadline,
        upstream_until,
        trace,
    )
    .await;
    drop(in_flight);
    let failed = is_endpoint_failure(&result);
    if failed {
        tracing::debug!(
            upstream = %upstream.name,
            endpoint = %member.label,
            request_id = %req.request_id,
            "attempt failed on this endpoint"
        );
    }
    balancer.record(i, !failed);
    let result = match result {
        Ok(response) if i != 0 => Ok(rebase(response, &member.endpoint.rebase, primary)),
        other => other,
    };
    (Some(i), result)
}

/// What counts against an endpoint: it could not be reached, broke the
/// connection, did not answer within the upstream's timeout, or answered
/// 5xx. (The request's own deadline, a credential problem or an oversized
/// answer are not the endpoint's health.)
pub(crate) fn is_endpoint_failure(result: &Result<Response<Bytes>, GatewayError>) -> bool {
    match result {
        Ok(response) => response.status().is_server_error(),
        Err(e) => e.reason().counts_against_endpoint(),
    }
}

/// `Location` and JSON locations from the endpoint's base to the primary
/// base.
fn rebase(response: Response<Bytes>, from: &Rebase, primary: &Endpoint) -> Response<Bytes> {
    let to = primary.rebase.as_str();
    let (mut parts, body) = response.into_parts();
    if let Some(new) = parts
        .headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| from.location(loc, to))
    {
        if let Ok(v) = HeaderValue::from_str(&new) {
            parts.headers.insert(LOCATION, v);
        }
    }
    let body = match from.body(&body, to) {
        Some(new) => {
            parts.headers.remove(CONTENT_LENGTH);
            new
        }
        None => body,
    };
    Response::from_parts(parts, body)
}
