//! One exchange with an upstream endpoint: the request target and the
//! cleaned headers, the upstream's credential (an OAuth 2.0 token fetched
//! within the call's time, refreshed once on a 401), one timer for the
//! whole exchange, and the failure classified (connect → 502, timeout →
//! 504, oversized or broken response → 502) with a detail safe for the
//! client; the internal cause goes to the logs only.
//! Imports the upstream's own parts and the ground (`error`, `telemetry`).
use super::endpoint::Endpoint;
use super::headers::{clean_request_headers, clean_response_headers};
use super::oauth;
use super::target::{Upstream, UpstreamAuth};
use super::{Deadline, UpstreamRequest};
use crate::error::{BoxError, Context, GatewayError, Reason};
use crate::telemetry::emit::UpstreamFailed;
use crate::traces::Propagation;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, Uri};
use tokio::time::Instant;

/// One exchange with the upstream: the request sent, the whole answer
/// read (bounded).
pub(super) async fn attempt(
    upstream: &Upstream,
    endpoint: &Endpoint,
    req: &UpstreamRequest,
    max_response_body: usize,
    deadline: Deadline,
    upstream_until: Instant,
    trace: Option<&Propagation>,
) -> Result<Response<Bytes>, GatewayError> {
    let request_id = req.request_id.as_str();
    let fail = |detail: &str, reason: Reason, cause: BoxError| {
        UpstreamFailed {
            upstream: &upstream.name,
            reason: reason.as_str(),
            request_id,
        }
        .emit();
        GatewayError::upstream(detail, reason, cause)
    };
    let uri = endpoint
        .target(&req.path, req.query.as_deref())
        .map_err(|e| {
            fail(
                "the request path cannot be sent upstream",
                Reason::UpstreamProtocol,
                e.into(),
            )
        })?;
    let headers = clean_request_headers(
        &req.headers,
        upstream.authorization.as_ref(),
        req,
        endpoint.host.clone(),
        trace,
    );

    // One timer for the call: the upstream's timeout or what is left of
    // the request's, whichever ends first.
    let until = upstream_until.min(deadline.at);
    let timed_out = || {
        if upstream_until <= deadline.at {
            fail(
                &format!(
                    "the upstream did not answer within {}",
                    humantime::format_duration(upstream.request_timeout)
                ),
                Reason::UpstreamTimeout,
                format!("{} timed out", upstream.name).into(),
            )
        } else {
            fail(
                &format!(
                    "the request did not complete within {}",
                    humantime::format_duration(deadline.within)
                ),
                Reason::RequestTimeout,
                format!("{}: request deadline", upstream.name).into(),
            )
        }
    };
    let exchange = |request: Request<Bytes>| async {
        match tokio::time::timeout_at(until, endpoint.pool.exchange(request, max_response_body))
            .await
        {
            Err(_) => Err(timed_out()),
            Ok(Err(e)) => {
                let (connect, too_large) = (e.is_connect(), e.is_too_large());
                let cause = Context::new(upstream.name.as_str(), e).into();
                Err(if connect {
                    fail(
                        "the upstream could not be reached",
                        Reason::UpstreamConnect,
                        cause,
                    )
                } else if too_large {
                    fail(
                        &format!("the upstream response exceeded {max_response_body} bytes"),
                        Reason::UpstreamTooLarge,
                        cause,
                    )
                } else {
                    fail(
                        "the upstream connection failed",
                        Reason::UpstreamProtocol,
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
    fail: &impl Fn(&str, Reason, BoxError) -> GatewayError,
) -> Result<oauth::AccessToken, GatewayError> {
    match tokio::time::timeout_at(until, source.token()).await {
        Ok(Ok(token)) => Ok(token),
        Ok(Err(e)) => Err(fail(
            "the gateway could not obtain its credential for the upstream",
            Reason::UpstreamCredential { timed_out: false },
            e.into(),
        )),
        Err(_) => Err(fail(
            "the gateway's credential for the upstream did not arrive in time",
            Reason::UpstreamCredential { timed_out: true },
            "token endpoint timed out".into(),
        )),
    }
}
