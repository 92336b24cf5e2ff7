//! The trusted-proxy walk over `X-Forwarded-For` and `Forwarded`
//! (`client_addr::Forwarding::resolve`) on fuzzed header values (one per
//! line): never a panic; the client is the peer, or an address of the
//! chain with the peer last in the chain sent upstream; a client resolved
//! past the peer is trusted only when every walked entry was.
#![no_main]
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use scim_gateway::client_addr::{CidrSet, Client, ForwardedHeader, Forwarding};
use std::net::IpAddr;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let header = if first & 1 == 0 {
        ForwardedHeader::XForwardedFor
    } else {
        ForwardedHeader::Forwarded
    };
    let forwarding = Forwarding {
        trusted: CidrSet::new(vec![
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ]),
        header,
    };
    let mut headers = HeaderMap::new();
    for line in rest.split(|&b| b == b'\n').take(64) {
        if let Ok(v) = HeaderValue::from_bytes(line) {
            headers.append(header.name(), v);
        }
    }
    let peer: IpAddr = if first & 2 == 0 {
        [10, 0, 0, 1].into()
    } else {
        [192, 0, 2, 1].into()
    };
    let client = forwarding.resolve(peer, &headers, || Client::direct(peer));
    if client.ip == peer && client.forwarded_for.is_none() {
        return;
    }
    assert!(
        forwarding.trusts(peer),
        "an untrusted peer's header was read"
    );
    let chain = client
        .forwarded_for
        .expect("a resolved client has its chain");
    let chain = chain.to_str().unwrap();
    let entries: Vec<&str> = chain.split(", ").collect();
    assert_eq!(
        entries.first().copied(),
        Some(client.ip.to_string().as_str()),
        "{chain}"
    );
    assert_eq!(
        entries.last().copied(),
        Some(peer.to_string().as_str()),
        "{chain}"
    );
    for e in &entries {
        assert!(
            e.parse::<IpAddr>().is_ok(),
            "{chain}: only parsed addresses go upstream"
        );
    }
    // Every hop between the client and the peer is trusted.
    for e in &entries[1..] {
        assert!(forwarding.trusts(e.parse().unwrap()), "{chain}");
    }
});
