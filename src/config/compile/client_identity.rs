//! The compile step for who a request's client is: `[server]
//! trusted_proxies` and `forwarded_header`, and `[server.proxy_protocol]`
//! (`crate::client_addr`). A range that does not parse is a config error
//! naming its key and index; so is one that covers every address, which
//! would let any client name itself.
use super::Problems;
use crate::client_addr::{Cidr, CidrSet, ForwardedHeader, Forwarding, ListenerIdentity};
use crate::config::raw::ServerSection;
use std::sync::Arc;

pub(super) fn compile_identity(s: &ServerSection, p: &mut Problems) -> ListenerIdentity {
    let trusted = s
        .trusted_proxies
        .as_deref()
        .map(|list| ranges(list, "server.trusted_proxies", p))
        .unwrap_or_default();
    let header = match s.forwarded_header.as_deref() {
        None => ForwardedHeader::XForwardedFor,
        Some(h) if h.eq_ignore_ascii_case("x-forwarded-for") => ForwardedHeader::XForwardedFor,
        Some(h) if h.eq_ignore_ascii_case("forwarded") => ForwardedHeader::Forwarded,
        Some(h) => {
            p.add(
                "server.forwarded_header",
                format!("\"{h}\" is not \"x-forwarded-for\" or \"forwarded\""),
            );
            ForwardedHeader::XForwardedFor
        }
    };
    if s.forwarded_header.is_some() && trusted.is_empty() {
        p.add(
            "server.forwarded_header",
            "has no effect without trusted_proxies (the proxies whose header is believed)",
        );
    }
    let proxy_protocol = s.proxy_protocol.as_ref().map(|section| {
        let allow = ranges(&section.allow, "server.proxy_protocol.allow", p);
        if section.allow.is_empty() {
            p.add(
                "server.proxy_protocol.allow",
                "is empty: list the balancers' addresses (e.g. [\"10.0.0.0/8\"]), or remove [server.proxy_protocol]",
            );
        }
        Arc::new(allow)
    });
    ListenerIdentity {
        proxy_protocol,
        forwarding: Arc::new(Forwarding {
            trusted,
            header,
        }),
    }
}

fn ranges(list: &[String], key: &str, p: &mut Problems) -> CidrSet {
    let mut out = Vec::with_capacity(list.len());
    for (i, text) in list.iter().enumerate() {
        match text.parse::<Cidr>() {
            Ok(range) => out.push(range),
            Err(e) => p.add(format!("{key}[{i}]"), e.to_string()),
        }
    }
    let set = CidrSet::new(out);
    if set.covers_everything() {
        p.add(
            key,
            "covers every address (a /0): any client could name itself; list only the balancers' or proxies' addresses",
        );
    }
    set
}
