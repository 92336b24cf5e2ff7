#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The forwarding headers, built without copies where possible.
use super::*;
use bytes::Bytes;
use http::Method;

fn request(headers: HeaderMap, ip: &str, proto: &'static str, host: &str) -> UpstreamRequest {
    UpstreamRequest {
        method: Method::POST,
        path: "/Users".into(),
        query: None,
        headers,
        body: Bytes::new(),
        request_id: "r1".into(),
        client_ip: ip.parse().unwrap(),
        forwarded_for: None,
        client_proto: proto,
        client_host: host.into(),
        public_base: None,
        filtered_upsert: false,
    }
}

fn clean(req: &UpstreamRequest) -> HeaderMap {
    clean_request_headers(
        &req.headers,
        // No upstream credential: `upstream::tests` checks its injection.
        None,
        req,
        HeaderValue::from_static("10.0.0.1:8080"),
        None,
    )
}

fn host_header(host: &'static str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(HOST, HeaderValue::from_static(host));
    h
}

#[test]
fn the_clients_host_value_is_shared_as_forwarded_host() {
    let req = request(
        host_header("acme.example:8443"),
        "192.0.2.7",
        "https",
        "acme.example:8443",
    );
    let h = clean(&req);
    assert_eq!(h[&X_FORWARDED_HOST], "acme.example:8443");
    // A clone of the client's value (same buffer), not a copy.
    assert_eq!(
        h[&X_FORWARDED_HOST].as_bytes().as_ptr(),
        req.headers[HOST].as_bytes().as_ptr()
    );
    assert_eq!(h[HOST], "10.0.0.1:8080");
    assert_eq!(h[&X_FORWARDED_PROTO], "https");
    assert_eq!(h[&X_REQUEST_ID], "r1");
    assert_eq!(
        h[&X_REQUEST_ID].as_bytes().as_ptr(),
        req.request_id.as_str().as_ptr()
    );
}

#[test]
fn forwarded_host_without_a_matching_host_header_is_the_routed_host() {
    // HTTP/2: the host came from `:authority`, there is no Host header.
    let req = request(HeaderMap::new(), "192.0.2.7", "http", "acme.example");
    let h = clean(&req);
    assert_eq!(h[&X_FORWARDED_HOST], "acme.example");
    assert_eq!(h[&X_FORWARDED_PROTO], "http");
    // A Host header that is not the routed host is not reused.
    let req = request(
        host_header("other.example"),
        "192.0.2.7",
        "http",
        "acme.example",
    );
    assert_eq!(clean(&req)[&X_FORWARDED_HOST], "acme.example");
}

#[test]
fn forwarded_for_is_the_client_alone_when_nothing_came_before() {
    for ip in [
        "192.0.2.7",
        "2001:db8::1",
        "::ffff:255.255.255.255",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ] {
        let h = clean(&request(HeaderMap::new(), ip, "https", "acme.example"));
        assert_eq!(h[&X_FORWARDED_FOR], ip, "{ip}");
        assert_eq!(h.get_all(&X_FORWARDED_FOR).iter().count(), 1);
    }
}

#[test]
fn forwarded_for_is_the_resolved_chain_never_the_clients_claim() {
    // Resolved through a trusted proxy (`client_addr`): the chain the
    // gateway vouches for replaces the client's header, whose own claim
    // ("198.51.100.1", left of the first untrusted address) is gone.
    let conn = crate::conn_info::ConnInfo {
        socket_peer: ([10, 0, 0, 1], 5000).into(),
        proxied: None,
        local: ([127, 0, 0, 1], 443).into(),
        tls: true,
        sni: None,
        alpn: None,
        peer_certificates: None,
        cert_checks: Default::default(),
        auth: Default::default(),
    };
    let mut headers = HeaderMap::new();
    headers.append(
        &X_FORWARDED_FOR,
        HeaderValue::from_static("198.51.100.1, 203.0.113.5"),
    );
    let forwarding = crate::client_addr::Forwarding {
        trusted: crate::client_addr::CidrSet::new(vec!["10.0.0.0/8".parse().unwrap()]),
        header: crate::client_addr::ForwardedHeader::XForwardedFor,
    };
    let client = conn.client(&headers, &forwarding);
    let mut req = request(headers.clone(), "127.0.0.1", "https", "acme.example");
    req.client_ip = client.ip;
    req.forwarded_for = client.forwarded_for;
    let h = clean(&req);
    assert_eq!(h[&X_FORWARDED_FOR], "203.0.113.5, 10.0.0.1");
    assert_eq!(h.get_all(&X_FORWARDED_FOR).iter().count(), 1);
    // The same request from a peer nobody trusts: the peer alone.
    let untrusted = crate::client_addr::Forwarding::default();
    let client = conn.client(&headers, &untrusted);
    let mut req = request(headers, "127.0.0.1", "https", "acme.example");
    req.client_ip = client.ip;
    req.forwarded_for = client.forwarded_for;
    assert_eq!(clean(&req)[&X_FORWARDED_FOR], "10.0.0.1");
}

#[test]
fn forwarded_for_is_the_peer_whatever_the_client_sent() {
    // No trusted proxy stands in front: a client's value is a claim
    // anyone can make, so it is replaced, never appended to.
    let mut headers = HeaderMap::new();
    headers.append(&X_FORWARDED_FOR, HeaderValue::from_static("203.0.113.9"));
    headers.append(
        &X_FORWARDED_FOR,
        HeaderValue::from_static("198.51.100.1, 198.51.100.2"),
    );
    headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    headers.insert(&X_FORWARDED_HOST, HeaderValue::from_static("evil.example"));
    let h = clean(&request(headers, "2001:db8::7", "https", "acme.example"));
    assert_eq!(h[&X_FORWARDED_FOR], "2001:db8::7");
    assert_eq!(h.get_all(&X_FORWARDED_FOR).iter().count(), 1);
    assert_eq!(h[&X_FORWARDED_PROTO], "https");
    assert_eq!(h.get_all(&X_FORWARDED_PROTO).iter().count(), 1);
    assert_eq!(h[&X_FORWARDED_HOST], "acme.example");
    assert_eq!(h.get_all(&X_FORWARDED_HOST).iter().count(), 1);
}

#[test]
fn only_allow_listed_client_headers_reach_the_upstream() {
    let mut headers = HeaderMap::new();
    let kept = [
        ("accept", "application/scim+json"),
        ("accept-charset", "utf-8"),
        ("accept-language", "en"),
        ("content-language", "en"),
        ("content-type", "application/scim+json"),
        ("if-match", "W/\"1\""),
        ("if-none-match", "W/\"2\""),
        ("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ("user-agent", "Okta SCIM Client 1.0.0"),
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "vendor=1"),
    ];
    for (n, v) in kept {
        headers.insert(n, HeaderValue::from_static(v));
    }
    let dropped = [
        "authorization",
        "proxy-authorization",
        "cookie",
        "forwarded",
        "x-real-ip",
        "x-forwarded-port",
        "x-forwarded-prefix",
        "x-http-method-override",
        "x-http-method",
        "x-method-override",
        "x-original-url",
        "x-rewrite-url",
        "accept-encoding",
        "expect",
        "x-custom",
    ];
    for n in dropped {
        headers.insert(n, HeaderValue::from_static("spoofed"));
    }
    let h = clean(&request(headers, "192.0.2.7", "https", "acme.example"));
    for (n, v) in kept {
        assert_eq!(h[n], v, "{n}");
    }
    for n in dropped {
        assert!(h.get(n).is_none(), "{n} reached the upstream");
    }
    assert!(!format!("{h:?}").contains("spoofed"));
}

#[test]
fn headers_the_connection_header_names_are_dropped_on_both_legs() {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONNECTION,
        HeaderValue::from_static("Keep-Alive, X-Private, If-Match, close"),
    );
    headers.insert(&KEEP_ALIVE, HeaderValue::from_static("timeout=5"));
    headers.insert("x-private", HeaderValue::from_static("1"));
    headers.insert("if-match", HeaderValue::from_static("*"));
    headers.insert("accept", HeaderValue::from_static("application/scim+json"));
    let h = clean(&request(
        headers.clone(),
        "192.0.2.7",
        "https",
        "acme.example",
    ));
    // An allowed header is dropped too when the Connection header names it.
    assert!(h.get("x-private").is_none() && h.get(&KEEP_ALIVE).is_none());
    assert!(h.get(CONNECTION).is_none() && h.get("if-match").is_none());
    assert!(h.get("accept").is_some());
    // Only what is present and not hop-by-hop anyway needs a name built.
    assert_eq!(
        connection_named(&headers),
        [
            HeaderName::from_static("x-private"),
            HeaderName::from_static("if-match")
        ]
    );
    clean_response_headers(&mut headers);
    let left: Vec<_> = headers.keys().map(HeaderName::as_str).collect();
    assert_eq!(left, ["accept"]);
    let mut plain = HeaderMap::new();
    plain.insert(CONNECTION, HeaderValue::from_static("keep-alive"));
    assert!(connection_named(&plain).is_empty());
}

#[test]
fn the_upstreams_framing_never_reaches_the_client() {
    // Both framings (RFC 9112 §6.3: Transfer-Encoding wins, Content-Length
    // is wrong): neither is passed on; the server frames the body anew.
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("7"));
    headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
    headers.insert("etag", HeaderValue::from_static("W/\"1\""));
    clean_response_headers(&mut headers);
    let left: Vec<_> = headers.keys().map(HeaderName::as_str).collect();
    assert_eq!(left, ["etag"]);
    // Content-Length alone goes too (the body may be rewritten later).
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("7"));
    clean_response_headers(&mut headers);
    assert!(headers.is_empty());
}

#[test]
fn the_trace_context_is_the_clients_when_traces_are_off_and_the_gateways_when_on() {
    let mut client = HeaderMap::new();
    let theirs = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    client.insert("traceparent", HeaderValue::from_static(theirs));
    client.insert("tracestate", HeaderValue::from_static("congo=t61rcWkgMzE"));
    let req = request(client, "192.0.2.7", "https", "acme.example");
    let off = clean(&req);
    assert_eq!(off["traceparent"], theirs);
    assert_eq!(off["tracestate"], "congo=t61rcWkgMzE");
    let ours = "00-4bf92f3577b34da6a3ce929d0e0e4736-1111111111111111-01";
    let on = |tracestate: Option<HeaderValue>| {
        clean_request_headers(
            &req.headers,
            None,
            &req,
            HeaderValue::from_static("10.0.0.1:8080"),
            Some(&crate::traces::Propagation {
                traceparent: HeaderValue::from_static(ours),
                tracestate,
            }),
        )
    };
    let kept = on(Some(HeaderValue::from_static("congo=t61rcWkgMzE")));
    assert_eq!(
        kept.get_all("traceparent").iter().collect::<Vec<_>>(),
        [ours]
    );
    assert_eq!(kept["tracestate"], "congo=t61rcWkgMzE");
    // A tracestate the gateway did not keep (no valid parent, too long)
    // is not passed on.
    assert!(on(None).get("tracestate").is_none());
}

#[test]
fn forwarded_for_writes_ipv4_as_its_display_does() {
    // Every octet value in every position, against std's `Display`.
    for v in 0..=255u8 {
        for octets in [[v, 0, 0, 0], [1, v, 2, 3], [10, 0, v, 255], [255, 9, 99, v]] {
            let ip = IpAddr::from(octets);
            assert_eq!(forwarded_for(ip).unwrap(), ip.to_string().as_str(), "{ip}");
        }
    }
    let v6: IpAddr = "2001:db8::7".parse().unwrap();
    assert_eq!(forwarded_for(v6).unwrap(), "2001:db8::7");
    let mapped: IpAddr = "::ffff:192.0.2.128".parse().unwrap();
    assert_eq!(forwarded_for(mapped).unwrap(), mapped.to_string().as_str());
}

#[test]
fn a_plain_connection_header_and_the_hop_by_hop_ones_beside_it_are_removed() {
    for connection in ["keep-alive", "Keep-Alive", "close"] {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static(connection));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.insert(UPGRADE, HeaderValue::from_static("h2c"));
        headers.insert("etag", HeaderValue::from_static("W/\"1\""));
        headers.insert("location", HeaderValue::from_static("/Users/1"));
        clean_response_headers(&mut headers);
        let mut left: Vec<_> = headers.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["etag", "location"], "Connection: {connection}");
    }
    // Two Connection fields, one of them naming a header: the general path.
    let mut headers = HeaderMap::new();
    headers.append(CONNECTION, HeaderValue::from_static("keep-alive"));
    headers.append(CONNECTION, HeaderValue::from_static("x-private"));
    headers.insert("x-private", HeaderValue::from_static("1"));
    headers.insert("etag", HeaderValue::from_static("W/\"1\""));
    clean_response_headers(&mut headers);
    let left: Vec<_> = headers.keys().map(HeaderName::as_str).collect();
    assert_eq!(left, ["etag"]);
}
