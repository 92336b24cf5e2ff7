//! Upstream calls: the pooled HTTP(S) client, the in-process built-in
//! store, header hygiene and credential injection, timeouts and body caps.
//!
//! Failures are classified here (connect → 502, timeout → 504, oversized
//! or broken response → 502) with a detail safe for the client; the
//! internal cause (addresses, transport errors) goes to the logs only.
mod headers;
pub mod oauth;

pub use headers::{clean_request_headers, clean_response_headers};

use crate::error::GatewayError;
use crate::snapshot::{Upstream, UpstreamTarget};
use crate::telemetry::events::UpstreamFailed;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, Uri};
use http_body_util::{BodyExt, Full, Limited};
use std::net::IpAddr;

/// The pooled client used for every `kind = "http"` upstream: HTTP/1.1
/// and HTTP/2, HTTPS through rustls (public roots or a custom CA bundle).
pub type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

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
    pub request_id: String,
    pub client_ip: IpAddr,
    pub client_proto: &'static str,
    pub client_host: String,
    /// The tenant's public SCIM base URL. The in-process store writes its
    /// locations with it directly, so its responses need no rewriting.
    pub public_base: Option<String>,
}

/// The base URL the upstream writes into its locations (for the built-in
/// store, a synthetic base that the gateway rewrites back).
pub fn public_base_of(upstream: &Upstream) -> String {
    match &upstream.target {
        UpstreamTarget::Http { base, .. } => base.to_string().trim_end_matches('/').to_string(),
        UpstreamTarget::Builtin(_) => format!("http://builtin.invalid/{}", upstream.name),
    }
}

/// Sends the request upstream and reads the whole response (bounded by
/// `max_response_body` bytes and the upstream's request timeout).
pub async fn forward(
    upstream: &Upstream,
    req: UpstreamRequest,
    max_response_body: usize,
) -> Result<Response<Bytes>, GatewayError> {
    let fail = |status: u16, detail: &str, reason: &'static str, cause: String| {
        UpstreamFailed {
            upstream: &upstream.name,
            reason,
            request_id: &req.request_id,
        }
        .emit();
        GatewayError::upstream(status, detail, reason, cause)
    };
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
                *h = clean_request_headers(&req.headers, upstream, &req, "builtin.invalid");
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
        UpstreamTarget::Http { base, client } => {
            let uri: Uri = path_and_query(&base.to_string(), &req)
                .parse()
                .map_err(|e| {
                    fail(
                        502,
                        "the request path cannot be sent upstream",
                        "upstream_protocol",
                        format!("{e}"),
                    )
                })?;
            let host = base.authority().map_or("", |a| a.as_str()).to_string();
            let mut builder = Request::builder().method(req.method.clone()).uri(uri);
            if let Some(h) = builder.headers_mut() {
                *h = clean_request_headers(&req.headers, upstream, &req, &host);
            }
            let request = builder.body(Full::new(req.body.clone())).map_err(|e| {
                GatewayError::internal(format!("building the upstream request: {e}"))
            })?;
            let call = async {
                let response = client.request(request).await.map_err(|e| {
                    let cause = format!("{} {e:?}", upstream.name);
                    if e.is_connect() {
                        fail(
                            502,
                            "the upstream could not be reached",
                            "upstream_connect",
                            cause,
                        )
                    } else {
                        fail(
                            502,
                            "the upstream connection failed",
                            "upstream_protocol",
                            cause,
                        )
                    }
                })?;
                let (mut parts, body) = response.into_parts();
                let bytes = Limited::new(body, max_response_body)
                    .collect()
                    .await
                    .map_err(|e| {
                        if e.is::<http_body_util::LengthLimitError>() {
                            fail(
                                502,
                                &format!(
                                    "the upstream response exceeded {max_response_body} bytes"
                                ),
                                "upstream_too_large",
                                e.to_string(),
                            )
                        } else {
                            fail(
                                502,
                                "the upstream response could not be read",
                                "upstream_protocol",
                                e.to_string(),
                            )
                        }
                    })?
                    .to_bytes();
                clean_response_headers(&mut parts.headers);
                Ok(Response::from_parts(parts, bytes))
            };
            match tokio::time::timeout(upstream.request_timeout, call).await {
                Ok(result) => result,
                Err(_) => Err(fail(
                    504,
                    &format!(
                        "the upstream did not answer within {}",
                        humantime::format_duration(upstream.request_timeout)
                    ),
                    "upstream_timeout",
                    format!("{} timed out", upstream.name),
                )),
            }
        }
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
