//! The trusted-proxy walk under hostile headers: spoofing from an
//! untrusted peer, garbage, lying chains, long chains.
#![allow(clippy::unwrap_used)]
use super::*;
use http::HeaderMap;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn forwarding(header: ForwardedHeader, ranges: &[&str]) -> Forwarding {
    Forwarding {
        trusted: CidrSet::new(ranges.iter().map(|r| r.parse().unwrap()).collect()),
        header,
    }
}

fn headers(name: &str, values: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    h
}

fn xff(f: &Forwarding, peer: &str, values: &[&str]) -> Client {
    let peer = ip(peer);
    f.resolve(peer, &headers("x-forwarded-for", values), || {
        Client::direct(peer)
    })
}

fn fwd(f: &Forwarding, peer: &str, values: &[&str]) -> Client {
    let peer = ip(peer);
    f.resolve(peer, &headers("forwarded", values), || Client::direct(peer))
}

#[test]
fn the_client_is_the_rightmost_untrusted_address_of_a_trusted_peers_chain() {
    let f = forwarding(ForwardedHeader::XForwardedFor, &["10.0.0.0/8"]);
    let c = xff(&f, "10.0.0.1", &["198.51.100.7, 203.0.113.5, 10.0.0.2"]);
    assert_eq!(
        c.ip,
        ip("203.0.113.5"),
        "the client's own claim (198.51...) is not taken"
    );
    assert_eq!(c.via, Some(ip("10.0.0.1")));
    assert_eq!(c.forwarded_for.unwrap(), "203.0.113.5, 10.0.0.2, 10.0.0.1");
    // One header line per proxy, as HAProxy's `option forwardfor` adds.
    let c = xff(&f, "10.0.0.1", &["1.2.3.4", "203.0.113.5"]);
    assert_eq!(c.ip, ip("203.0.113.5"));
    // Ports and brackets, as some balancers write them.
    let c = xff(&f, "10.0.0.1", &["[2001:db8::7]:443"]);
    assert_eq!(c.ip, ip("2001:db8::7"));
    let c = xff(&f, "10.0.0.1", &["203.0.113.5:8080"]);
    assert_eq!(c.ip, ip("203.0.113.5"));
    // Every entry trusted: the leftmost is as far as anyone vouches.
    let c = xff(&f, "10.0.0.1", &["10.9.9.9, 10.0.0.2"]);
    assert_eq!(c.ip, ip("10.9.9.9"));
}

#[test]
fn an_untrusted_peer_is_the_client_whatever_it_claims() {
    let f = forwarding(ForwardedHeader::XForwardedFor, &["10.0.0.0/8"]);
    let c = xff(&f, "192.0.2.9", &["10.0.0.5", "127.0.0.1"]);
    assert_eq!(c, Client::direct(ip("192.0.2.9")));
    // Nobody trusted: the headers are not even read.
    let off = Forwarding::default();
    assert_eq!(
        xff(&off, "10.0.0.1", &["1.2.3.4"]),
        Client::direct(ip("10.0.0.1"))
    );
    // A trusted peer without a header is its own client (a health check).
    assert_eq!(xff(&f, "10.0.0.1", &[]), Client::direct(ip("10.0.0.1")));
}

#[test]
fn garbage_the_walk_reaches_gives_the_peer_and_garbage_beyond_it_is_never_read() {
    let f = forwarding(ForwardedHeader::XForwardedFor, &["10.0.0.0/8"]);
    for bad in [
        "unknown",
        "not an ip",
        "1.2.3",
        "1.2.3.4.5",
        "256.1.1.1",
        "1.2.3.4:",
        "1.2.3.4:65536",
        "1.2.3.4:-1",
        "1.2.3.4:+80",
        "[::1",
        "[::1]x",
        "[::1]:",
        "[1.2.3.4]",
        "::1]:80",
        "fe80::1%eth0",
        "01.2.3.4",
        "1.2.3.4 5.6.7.8",
        "\"1.2.3.4\"",
        "_hidden",
    ] {
        let c = xff(&f, "10.0.0.1", &[bad]);
        assert_eq!(c, Client::direct(ip("10.0.0.1")), "{bad:?}");
    }
    // Non-ASCII bytes in the value: malformed, not a panic.
    let mut h = HeaderMap::new();
    h.append(
        "x-forwarded-for",
        HeaderValue::from_bytes(b"1.2.3.4\xff").unwrap(),
    );
    let peer = ip("10.0.0.1");
    assert_eq!(f.resolve(peer, &h, || Client::direct(peer)).ip, peer);
    // Left of the first untrusted entry: the client's business.
    let c = xff(&f, "10.0.0.1", &["garbage, [[, 203.0.113.5"]);
    assert_eq!(c.ip, ip("203.0.113.5"));
    // Empty list elements name nobody.
    let c = xff(&f, "10.0.0.1", &["203.0.113.5, , "]);
    assert_eq!(c.ip, ip("203.0.113.5"));
}

#[test]
fn a_chain_of_more_trusted_hops_than_the_bound_is_the_peers() {
    let f = forwarding(ForwardedHeader::XForwardedFor, &["10.0.0.0/8"]);
    let long = vec!["10.0.0.3"; MAX_HOPS + 1].join(", ");
    assert_eq!(
        xff(&f, "10.0.0.1", &[&long]),
        Client::direct(ip("10.0.0.1"))
    );
    let fits = vec!["10.0.0.3"; MAX_HOPS].join(", ");
    assert_eq!(xff(&f, "10.0.0.1", &[&fits]).ip, ip("10.0.0.3"));
    // A client padding its side of the chain costs one entry of walk.
    let padded = format!("{}, 203.0.113.5", vec!["1.1.1.1"; 5000].join(", "));
    assert_eq!(xff(&f, "10.0.0.1", &[&padded]).ip, ip("203.0.113.5"));
}

#[test]
fn forwarded_is_read_by_its_for_parameter_and_only_when_chosen() {
    let f = forwarding(ForwardedHeader::Forwarded, &["10.0.0.0/8"]);
    let c = fwd(
        &f,
        "10.0.0.1",
        &["for=198.51.100.1, for=\"[2001:db8:cafe::17]:4711\";proto=https;by=10.0.0.2, For=10.0.0.2"],
    );
    assert_eq!(c.ip, ip("2001:db8:cafe::17"));
    let c = fwd(&f, "10.0.0.1", &["for=192.0.2.43:47011;host=example.com"]);
    assert_eq!(c.ip, ip("192.0.2.43"));
    for bad in [
        "for=unknown",
        "for=_hidden",
        "proto=https",
        "for",
        "for=\"1.2.3.4",
        "for=1.2.3.4\"",
        "for=\"1.2\\\"3.4\"",
        "for=1.2.3.4;for=5.6.7.8",
        "for=\"a, b\"",
        "by=1.2.3.4; ",
    ] {
        assert_eq!(
            fwd(&f, "10.0.0.1", &[bad]),
            Client::direct(ip("10.0.0.1")),
            "{bad:?}"
        );
    }
    // X-Forwarded-For is not read when Forwarded is the chosen header
    // (and the reverse): the proxy rewrites one, the client wrote the other.
    assert_eq!(
        xff(&f, "10.0.0.1", &["203.0.113.5"]),
        Client::direct(ip("10.0.0.1"))
    );
    let x = forwarding(ForwardedHeader::XForwardedFor, &["10.0.0.0/8"]);
    assert_eq!(
        fwd(&x, "10.0.0.1", &["for=203.0.113.5"]),
        Client::direct(ip("10.0.0.1"))
    );
}

#[test]
fn a_balancers_chain_continues_behind_a_trusted_proxy() {
    // PROXY protocol named 10.0.0.9 (an L7 proxy, trusted) as the client
    // of balancer 10.1.1.1; the proxy says the client is 203.0.113.5.
    let f = forwarding(ForwardedHeader::XForwardedFor, &["10.0.0.9/32"]);
    let h = headers("x-forwarded-for", &["203.0.113.5"]);
    let base = || Client {
        ip: ip("10.0.0.9"),
        via: Some(ip("10.1.1.1")),
        forwarded_for: chain_of(ip("10.0.0.9"), ip("10.1.1.1")),
    };
    let c = f.resolve(ip("10.0.0.9"), &h, base);
    assert_eq!(c.ip, ip("203.0.113.5"));
    assert_eq!(c.via, Some(ip("10.1.1.1")));
    assert_eq!(c.forwarded_for.unwrap(), "203.0.113.5, 10.0.0.9, 10.1.1.1");
}
