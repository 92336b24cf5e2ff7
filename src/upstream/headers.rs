//! Header hygiene on both legs (RFC 9110 §7.6.1): hop-by-hop headers never
//! cross the gateway; the client's credentials and cookies never reach the
//! upstream; the upstream's own credential and the forwarding headers are
//! added.
use super::UpstreamRequest;
use crate::snapshot::{Upstream, UpstreamAuth};
use base64::Engine;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONNECTION, COOKIE, HOST};
use http::HeaderMap;

/// Hop-by-hop headers (RFC 9110 §7.6.1) plus `Proxy-*`.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Headers the Connection header names are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        headers.remove(n);
    }
    for n in HOP_BY_HOP {
        headers.remove(n);
    }
}

/// The headers sent upstream.
pub fn clean_request_headers(
    client: &HeaderMap,
    upstream: &Upstream,
    req: &UpstreamRequest,
    host: &str,
) -> HeaderMap {
    let mut h = client.clone();
    remove_hop_by_hop(&mut h);
    h.remove(AUTHORIZATION);
    h.remove(COOKIE);
    h.remove(HOST);
    h.remove(http::header::CONTENT_LENGTH);
    h.remove("x-forwarded-for");
    if let Ok(v) = HeaderValue::from_str(host) {
        h.insert(HOST, v);
    }
    // X-Forwarded-For: append the client to what a trusted load balancer
    // may have sent before us.
    let prior = client
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    let xff = if prior.is_empty() {
        req.client_ip.to_string()
    } else {
        format!("{prior}, {}", req.client_ip)
    };
    for (name, value) in [
        ("x-forwarded-for", xff.as_str()),
        ("x-forwarded-proto", req.client_proto),
        ("x-forwarded-host", req.client_host.as_str()),
        ("x-request-id", req.request_id.as_str()),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    let credential = match &upstream.auth {
        UpstreamAuth::None => None,
        UpstreamAuth::Bearer(token) => Some(format!("Bearer {}", token.expose())),
        UpstreamAuth::Basic { username, password } => Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{username}:{}", password.expose()))
        )),
    };
    if let Some(mut v) = credential.and_then(|c| HeaderValue::from_str(&c).ok()) {
        v.set_sensitive(true);
        h.insert(AUTHORIZATION, v);
    }
    h
}

/// Cleans an upstream response's headers in place.
pub fn clean_response_headers(headers: &mut HeaderMap) {
    remove_hop_by_hop(headers);
}
