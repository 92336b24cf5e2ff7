//! Header hygiene on both legs (RFC 9110 §7.6.1): hop-by-hop headers never
//! cross the gateway; the client's credentials and cookies never reach the
//! upstream; the upstream's own credential and the forwarding headers are
//! added.
use super::UpstreamRequest;
use crate::snapshot::Upstream;
use http::header::{
    HeaderName, HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, COOKIE, HOST,
    PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
};
use http::HeaderMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// Hop-by-hop headers (RFC 9110 §7.6.1) plus `Proxy-*`.
fn hop_by_hop() -> [&'static HeaderName; 8] {
    [
        &CONNECTION,
        &KEEP_ALIVE,
        &PROXY_AUTHENTICATE,
        &PROXY_AUTHORIZATION,
        &TE,
        &TRAILER,
        &TRANSFER_ENCODING,
        &UPGRADE,
    ]
}

/// The headers a `Connection` header names (hop-by-hop as well) that are
/// present and not among [`hop_by_hop`] (removed anyway). Usually none:
/// `Connection: keep-alive` or `close` then costs no allocation.
fn connection_named(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|n| {
            headers.contains_key(*n)
                && !hop_by_hop()
                    .iter()
                    .any(|h| h.as_str().eq_ignore_ascii_case(n))
        })
        .filter_map(|n| HeaderName::from_bytes(n.as_bytes()).ok())
        .collect()
}

fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Headers the Connection header names are hop-by-hop too.
    if headers.contains_key(CONNECTION) {
        for n in connection_named(headers) {
            headers.remove(n);
        }
    }
    for n in hop_by_hop() {
        headers.remove(n);
    }
}

/// The headers sent upstream: the client's, minus what must not cross
/// (built fresh rather than cloned and pruned: one pass, no removals).
pub fn clean_request_headers(
    client: &HeaderMap,
    upstream: &Upstream,
    req: &UpstreamRequest,
    host: HeaderValue,
) -> HeaderMap {
    let named_by_connection = if client.contains_key(CONNECTION) {
        connection_named(client)
    } else {
        Vec::new()
    };
    let mut h = HeaderMap::with_capacity(client.len() + 6);
    for (name, value) in client {
        let dropped = hop_by_hop().contains(&name)
            || [
                &AUTHORIZATION,
                &COOKIE,
                &CONTENT_LENGTH,
                &HOST,
                &X_FORWARDED_FOR,
                // The body is already read (no 100-continue), and responses
                // must come uncompressed so their locations can be rewritten.
                &http::header::EXPECT,
                &http::header::ACCEPT_ENCODING,
            ]
            .contains(&name)
            || named_by_connection.contains(name);
        if !dropped {
            h.append(name.clone(), value.clone());
        }
    }
    h.insert(HOST, host);
    // The forwarding headers are made without copying where the value
    // already exists as a header (one request's allocations matter here).
    if let Some(v) = forwarded_for(client, req.client_ip) {
        h.insert(X_FORWARDED_FOR.clone(), v);
    }
    let proto = match req.client_proto {
        "https" => Some(HeaderValue::from_static("https")),
        "http" => Some(HeaderValue::from_static("http")),
        other => HeaderValue::from_str(other).ok(),
    };
    if let Some(v) = proto {
        h.insert(X_FORWARDED_PROTO.clone(), v);
    }
    // The client's own `Host` value when that is the host (HTTP/1.1): a
    // shared clone; else (HTTP/2's `:authority`) a copy.
    let forwarded_host = client
        .get(HOST)
        .filter(|v| v.as_bytes() == req.client_host.as_bytes())
        .cloned()
        .or_else(|| HeaderValue::from_str(&req.client_host).ok());
    if let Some(v) = forwarded_host {
        h.insert(X_FORWARDED_HOST.clone(), v);
    }
    h.insert(X_REQUEST_ID.clone(), req.request_id.header());
    if let Some(v) = &upstream.authorization {
        h.insert(AUTHORIZATION, v.clone());
    }
    h
}

/// `X-Forwarded-For`: the client appended to what a trusted load balancer
/// may have sent before us. With no earlier value (the common case) the
/// address is written on the stack and copied once, into the value.
fn forwarded_for(client: &HeaderMap, ip: IpAddr) -> Option<HeaderValue> {
    if !client.contains_key(&X_FORWARDED_FOR) {
        // The longest address (IPv6 with an embedded IPv4) is 45 bytes.
        let mut buf = [0u8; 48];
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        write!(cursor, "{ip}").ok()?;
        let len = usize::try_from(cursor.position()).ok()?;
        return HeaderValue::from_bytes(buf.get(..len)?).ok();
    }
    let mut xff = String::with_capacity(48);
    for v in client
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        xff.push_str(v);
        xff.push_str(", ");
    }
    write!(xff, "{ip}").ok()?;
    HeaderValue::from_str(&xff).ok()
}

/// Cleans an upstream response's headers in place (one scan when there
/// is nothing to remove, the common case).
///
/// The upstream's framing never reaches the client: the gateway holds the
/// whole (decoded, possibly rewritten) body and the server frames it anew
/// from its length. A `Content-Length` passed on beside a body it does not
/// describe (an upstream that sent it with `Transfer-Encoding: chunked`,
/// which RFC 9112 §6.3 says to ignore, or a body rewritten since) would
/// desynchronise the client's connection: the bytes after the announced
/// length would be read as the next response (response splitting).
pub fn clean_response_headers(headers: &mut HeaderMap) {
    headers.remove(CONTENT_LENGTH);
    let hop = hop_by_hop();
    if headers.keys().any(|name| hop.contains(&name)) {
        remove_hop_by_hop(headers);
    }
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
