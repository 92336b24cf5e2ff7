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
        forwarding: Arc::new(Forwarding { trusted, header }),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::path::Path;

    fn config(server: &str) -> String {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nplaintext = true\n{server}\n[upstreams.store]\nkind = \"builtin\"\n\n[[tenants]]\nid = \"acme\"\nhosts = [\"acme.example\"]\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"t\"\nhash = \"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"\n"
        )
    }

    fn errors(server: &str) -> String {
        let raw = super::super::parse(&config(server), "t.toml").unwrap();
        super::super::compile(&raw, Path::new("t.toml"), None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn the_replicas_example_has_its_balancer_name_the_clients() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/replicas.toml");
        let s = super::super::check(&path).unwrap_or_else(|e| panic!("{e}"));
        let allow = s.server.identity.proxy_protocol.as_ref().unwrap();
        assert!(allow.contains("10.0.1.9".parse().unwrap()));
        assert!(!allow.contains("10.0.2.9".parse().unwrap()));
    }

    #[tokio::test]
    async fn ranges_compile_and_bad_ones_are_named_by_key_and_index() {
        let raw = super::super::parse(
            &config("trusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\"]\nforwarded_header = \"Forwarded\"\n[server.proxy_protocol]\nallow = [\"127.0.0.1/32\"]\n"),
            "t.toml",
        )
        .unwrap();
        let s = super::super::compile(&raw, Path::new("t.toml"), None).unwrap();
        let id = &s.server.identity;
        assert!(id.forwarding.trusts("10.2.3.4".parse().unwrap()));
        assert!(!id.forwarding.trusts("192.0.2.8".parse().unwrap()));
        assert_eq!(
            id.forwarding.header,
            crate::client_addr::ForwardedHeader::Forwarded
        );
        assert!(id
            .proxy_protocol
            .as_ref()
            .unwrap()
            .contains("127.0.0.1".parse().unwrap()));
        // Off by default.
        let s = super::super::compile(
            &super::super::parse(&config(""), "t.toml").unwrap(),
            Path::new("t.toml"),
            None,
        )
        .unwrap();
        assert!(s.server.identity.proxy_protocol.is_none());
        assert!(!s.server.identity.forwarding.is_on());

        let e = errors("trusted_proxies = [\"10.0.0.0/8\", \"10.0.0.300\"]\n");
        assert!(
            e.contains("server.trusted_proxies[1]")
                && e.contains("\"10.0.0.300\" is not an address range"),
            "{e}"
        );
        let e = errors("trusted_proxies = [\"10.1.0.0/8\"]\n");
        assert!(e.contains("did you mean \"10.0.0.0/8\""), "{e}");
        let e = errors("trusted_proxies = [\"0.0.0.0/0\"]\n");
        assert!(e.contains("covers every address"), "{e}");
        let e = errors("trusted_proxies = [\"10.0.0.0/8\"]\nforwarded_header = \"x-real-ip\"\n");
        assert!(e.contains("server.forwarded_header"), "{e}");
        let e = errors("forwarded_header = \"forwarded\"\n");
        assert!(e.contains("has no effect without trusted_proxies"), "{e}");
        let e = errors("[server.proxy_protocol]\nallow = []\n");
        assert!(
            e.contains("server.proxy_protocol.allow") && e.contains("is empty"),
            "{e}"
        );
        let e = errors("[server.proxy_protocol]\nallow = [\"::/0\"]\n");
        assert!(e.contains("covers every address"), "{e}");
        let e = errors("[server.proxy_protocol]\nallow = [\"lb.example\"]\n");
        assert!(e.contains("server.proxy_protocol.allow[0]"), "{e}");
    }
}
