//! Header hygiene on both legs (RFC 9110 §7.6.1): hop-by-hop headers never
//! cross the gateway; only an allow-list of the client's headers reaches the
//! upstream (never its credentials, cookies, forwarding or override
//! headers); the upstream's own credential and the gateway's forwarding
//! headers are added; the upstream's framing never reaches the client.
use super::UpstreamRequest;
use crate::traces::Propagation;
use http::header::{
    HeaderName, HeaderValue, ACCEPT, ACCEPT_CHARSET, ACCEPT_LANGUAGE, AUTHORIZATION, CONNECTION,
    CONTENT_LANGUAGE, CONTENT_LENGTH, CONTENT_TYPE, HOST, IF_MATCH, IF_MODIFIED_SINCE,
    IF_NONE_MATCH, IF_UNMODIFIED_SINCE, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER,
    TRANSFER_ENCODING, UPGRADE, USER_AGENT,
};
use http::HeaderMap;
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

/// The client's headers an upstream may see; every other one is dropped.
/// What a SCIM exchange needs (media types, RFC 7644 §3.1; the ETag
/// preconditions, §3.14) and what helps an upstream's logs and traces.
/// Not among them, so never forwarded: credentials and cookies (the
/// upstream gets the gateway's own credential), the forwarding headers
/// (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`: written here by the gateway
/// alone), method overrides (`X-HTTP-Method-Override`, ...) and URL
/// rewrites (`X-Original-URL`, `X-Rewrite-URL`) that would let a client
/// reach upstream what the gateway did not authorize, and anything else
/// unknown. docs/configuration.md ("What the upstream sees") lists them.
static FROM_CLIENT: [HeaderName; 12] = [
    ACCEPT,
    ACCEPT_CHARSET,
    ACCEPT_LANGUAGE,
    CONTENT_LANGUAGE,
    CONTENT_TYPE,
    IF_MATCH,
    IF_NONE_MATCH,
    IF_MODIFIED_SINCE,
    IF_UNMODIFIED_SINCE,
    USER_AGENT,
    // W3C Trace Context: with traces off, the client's trace goes on
    // upstream as it came; with traces on, the gateway's own replace it.
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("tracestate"),
];

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The headers sent upstream: the allow-listed ones of the client's
/// ([`FROM_CLIENT`]), then the gateway's own (`Host`, `X-Forwarded-*`,
/// `X-Request-Id`, the upstream credential `authorization`). Built fresh rather than
/// cloned and pruned: one pass over the client's headers, each checked
/// against a short static table, no allocation beyond the map and the
/// `X-Forwarded-For` value.
pub(super) fn clean_request_headers(
    client: &HeaderMap,
    authorization: Option<&HeaderValue>,
    req: &UpstreamRequest,
    host: HeaderValue,
    trace: Option<&Propagation>,
) -> HeaderMap {
    // An allowed header the client's `Connection` names is hop-by-hop
    // (RFC 9110 §7.6.1) and stays here too.
    let named_by_connection = if client.contains_key(CONNECTION) {
        connection_named(client)
    } else {
        Vec::new()
    };
    let mut h = HeaderMap::with_capacity(client.len().min(FROM_CLIENT.len()) + 6);
    for (name, value) in client {
        if FROM_CLIENT.contains(name) && !named_by_connection.contains(name) {
            h.append(name.clone(), value.clone());
        }
    }
    // Traces on: the upstream's parent is the gateway's attempt span
    // (the caller's `tracestate` goes on beside it, bounded).
    if let Some(trace) = trace {
        h.insert(TRACEPARENT.clone(), trace.traceparent.clone());
        match &trace.tracestate {
            Some(state) => h.insert(TRACESTATE.clone(), state.clone()),
            None => h.remove(&TRACESTATE),
        };
    }
    h.insert(HOST, host);
    // The forwarding headers are the gateway's alone: the client, the
    // scheme it was reached by and the host it was addressed as. No
    // client value is kept or appended to: the `X-Forwarded-For` chain is
    // the client the gateway resolved, then the proxies it trusts
    // (`trusted_proxies`, a PROXY-protocol balancer), rewritten from
    // parsed addresses; whatever an untrusted peer claimed is not in it.
    // They are made without copying where the value already exists.
    let chain = req.forwarded_for.clone();
    if let Some(v) = chain.or_else(|| forwarded_for(req.client_ip)) {
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
    if let Some(v) = authorization {
        h.insert(AUTHORIZATION, v.clone());
    }
    h
}

/// `X-Forwarded-For`: the client alone, written on the stack and copied once,
/// into the value. IPv4, the common case, by hand: `fmt` costs more than
/// the rest of the header set together.
fn forwarded_for(ip: IpAddr) -> Option<HeaderValue> {
    // The longest address (IPv6 with an embedded IPv4) is 45 bytes.
    let mut buf = [0u8; 48];
    let len = match ip {
        IpAddr::V4(v4) => write_ipv4(v4.octets(), &mut buf),
        IpAddr::V6(_) => {
            let mut cursor = std::io::Cursor::new(&mut buf[..]);
            write!(cursor, "{ip}").ok()?;
            usize::try_from(cursor.position()).ok()?
        }
    };
    HeaderValue::from_bytes(buf.get(..len)?).ok()
}

/// Dotted-decimal IPv4 (as `Ipv4Addr`'s `Display`) into `buf`; the length.
fn write_ipv4(octets: [u8; 4], buf: &mut [u8; 48]) -> usize {
    let mut len = 0;
    for (i, octet) in octets.into_iter().enumerate() {
        if i > 0 {
            buf[len] = b'.';
            len += 1;
        }
        let digits = [octet / 100, octet / 10 % 10, octet % 10];
        let skip = if octet >= 100 {
            0
        } else if octet >= 10 {
            1
        } else {
            2
        };
        for d in &digits[skip..] {
            buf[len] = b'0' + d;
            len += 1;
        }
    }
    len
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
pub(super) fn clean_response_headers(headers: &mut HeaderMap) {
    headers.remove(CONTENT_LENGTH);
    let hop = hop_by_hop();
    if !headers.keys().any(|name| hop.contains(&name)) {
        return;
    }
    // Usually `Connection: keep-alive` alone: only the hop-by-hop names
    // present are removed (a lookup each), and the ones `Connection`
    // names only when it names more than `keep-alive` or `close`.
    let plain = headers.get_all(CONNECTION).iter().all(|v| {
        v.as_bytes().eq_ignore_ascii_case(b"keep-alive")
            || v.as_bytes().eq_ignore_ascii_case(b"close")
    });
    if !plain {
        remove_hop_by_hop(headers);
        return;
    }
    for n in hop {
        if headers.contains_key(n) {
            headers.remove(n);
        }
    }
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
