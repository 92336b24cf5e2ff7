#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::snapshot::{ServerSettings, Snapshot};
use crate::store::{Store, StoreConfig};
use crate::tenant_id::TenantId;
use crate::upstream::{Upstream, UpstreamAuth, UpstreamTarget};
use http::HeaderValue;
use std::collections::HashMap;
use std::time::Duration;

pub(crate) fn snapshot(path_routing: bool) -> Snapshot {
    let upstream = Arc::new(Upstream::new(
        "store",
        UpstreamTarget::Builtin(Arc::new(Store::new(StoreConfig::default()))),
        UpstreamAuth::None,
        Duration::from_secs(1),
        Duration::from_secs(1),
    ));
    let mut tenants = Tenants::new();
    for (id, host) in [("acme", "acme.example"), ("globex", "globex.example")] {
        let t = Arc::new(Tenant::new(
            TenantId::new(id).unwrap(),
            vec![host.into()],
            upstream.clone(),
            vec![],
        ));
        tenants.insert(t);
    }
    Snapshot {
        server: ServerSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            reuse_port: false,
            tls: None,
            header_read_timeout: Duration::from_secs(1),
            max_header_bytes: 16384,
            max_connections: 10,
            connections: crate::server::ConnectionCaps::total(10),
            idle_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            max_request_body_bytes: 1024,
            max_response_body_bytes: 1024,
            max_patch_operations: 1000,
            shutdown_timeout: Duration::from_secs(1),
            drain_delay: Duration::ZERO,
            path_routing,
            base_path: "/scim/v2".into(),
            hosts: vec!["gw.example".into(), "*.gw.example".into()],
            auth_damping: crate::authn::damping::DampingSettings {
                max_failures: 20,
                window: Duration::from_secs(60),
            },
            cache_max_bytes: 1 << 20,
            identity: Default::default(),
        },
        admin: None,
        admin_token: None,
        loaded: Default::default(),
        tenants,
        upstreams: HashMap::new(),
        shared_limits: None,
        audit: None,
        events: crate::snapshot::EventsSettings {
            poll_interval: Duration::from_millis(250),
            kafka: None,
        },
        traces: None,
        source: "test.toml".into(),
        warnings: Vec::new(),
    }
}

fn resolve<'s>(
    s: &'s Snapshot,
    uri: &str,
    host: &str,
    sni: Option<&str>,
) -> Result<Routed<'s>, GatewayError> {
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_str(host).unwrap());
    resolve_tenant(
        s.routing(),
        &uri.parse().unwrap(),
        &headers,
        Origin { tls: true, sni },
    )
}

#[test]
fn by_host_ignoring_case_and_port() {
    let s = snapshot(true);
    let r = resolve(
        &s,
        "/scim/v2/Users/1",
        "ACME.example:8443",
        Some("acme.example"),
    )
    .unwrap();
    assert_eq!(r.tenant.id.as_str(), "acme");
    assert_eq!(r.route.path(), "/Users/1");
    assert_eq!(r.public_base, "https://ACME.example:8443/scim/v2");
    let base = resolve(&s, "/scim/v2", "acme.example", None).unwrap();
    assert_eq!(base.route.path(), "");
}

#[test]
fn host_must_match_sni() {
    let s = snapshot(true);
    let e = resolve(&s, "/scim/v2/Users", "globex.example", Some("acme.example")).unwrap_err();
    assert_eq!(e.status(), 421);
}

#[test]
fn by_path_prefix() {
    let s = snapshot(true);
    let r = resolve(&s, "/tenants/globex/scim/v2/Groups?x=1", "gw.example", None).unwrap();
    assert_eq!(r.tenant.id.as_str(), "globex");
    assert_eq!(r.route.path(), "/Groups");
    assert_eq!(r.public_base, "https://gw.example/tenants/globex/scim/v2");
    // Another tenant's host name cannot reach this tenant by path.
    let e = resolve(
        &s,
        "/tenants/globex/scim/v2/Groups",
        "gw.example",
        Some("acme.example"),
    )
    .unwrap_err();
    assert_eq!(e.status(), 421);
}

#[test]
fn unknown_tenants_and_paths_are_404() {
    let s = snapshot(true);
    let e = resolve(&s, "/tenants/nope/scim/v2/Users", "gw.example", None).unwrap_err();
    assert_eq!((e.status(), e.reason().as_str()), (404, "unknown_tenant"));
    assert!(e.scim().detail().contains("nope"));
    let e = resolve(&s, "/scim/v2/Users", "other.example", None).unwrap_err();
    assert_eq!((e.status(), e.reason().as_str()), (404, "unknown_tenant"));
    let e = resolve(&s, "/scimv2/Users", "acme.example", None).unwrap_err();
    assert_eq!((e.status(), e.reason().as_str()), (404, "not_found"));
    let e = resolve(&s, "/tenants/acme/other", "gw.example", None).unwrap_err();
    assert_eq!(e.status(), 404);
    let off = snapshot(false);
    let e = resolve(&off, "/tenants/acme/scim/v2/Users", "gw.example", None).unwrap_err();
    assert_eq!(e.reason().as_str(), "unknown_tenant");
}

#[test]
fn hosts_must_be_a_host_and_a_numeric_port() {
    let s = snapshot(true);
    for host in [
        "acme.example:x@evil.example",
        "acme.example:8443@evil.example",
        "acme.example:",
        "acme.example:99999",
        "acme.example:84a3",
        "acme.example:8443:1",
        "user@acme.example",
        "acme.example/evil",
        "acme..example",
        "[::1",
        "[::1]x",
        "[zz::1]:80",
    ] {
        let e = resolve(&s, "/scim/v2/Users", host, None).unwrap_err();
        assert_eq!(e.status(), 400, "{host}");
        assert_eq!(e.reason().as_str(), "bad_host", "{host}");
    }
    for host in ["acme.example", "acme.example:8443", "ACME.EXAMPLE:1"] {
        assert!(resolve(&s, "/scim/v2/Users", host, None).is_ok(), "{host}");
    }
    assert!(valid_host("[::1]:8443"));
    assert!(valid_host("127.0.0.1:1"));
}

#[test]
fn a_host_header_and_an_authority_must_agree() {
    let s = snapshot(true);
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_static("acme.example"));
    let origin = Origin {
        tls: true,
        sni: None,
    };
    let uri = "https://evil.example/scim/v2/Users".parse().unwrap();
    let e = resolve_tenant(s.routing(), &uri, &headers, origin).unwrap_err();
    assert_eq!((e.status(), e.reason().as_str()), (400, "bad_host"));
    let uri = "https://acme.example/scim/v2/Users".parse().unwrap();
    assert!(resolve_tenant(s.routing(), &uri, &headers, origin).is_ok());
    headers.append(HOST, HeaderValue::from_static("acme.example"));
    let uri = "/scim/v2/Users".parse().unwrap();
    let e = resolve_tenant(s.routing(), &uri, &headers, origin).unwrap_err();
    assert_eq!((e.status(), e.reason().as_str()), (400, "bad_host"));
}

#[test]
fn path_routed_tenants_answer_on_the_listener_names_only() {
    let s = snapshot(true);
    for host in ["gw.example", "GW.example:8443", "eu.gw.example"] {
        let r = resolve(&s, "/tenants/globex/scim/v2/Users", host, None);
        assert!(r.is_ok(), "{host}");
    }
    for host in ["evil.example", "a.b.gw.example", "xgw.example", "127.0.0.1"] {
        let e = resolve(&s, "/tenants/globex/scim/v2/Users", host, None).unwrap_err();
        assert_eq!(e.status(), 421, "{host}");
    }
}

#[test]
fn paths_that_mean_two_things_are_refused_before_routing() {
    let s = snapshot(true);
    for (uri, host) in [
        (
            "/tenants/acme/scim/v2/Users/../../../../globex/scim/v2/Users",
            "gw.example",
        ),
        ("/tenants/%2e%2e/scim/v2/Users", "gw.example"),
        ("/scim/v2/Users/%2e%2e/Groups/g1", "acme.example"),
        ("/scim/v2/../scim/v2/Users", "acme.example"),
        ("/scim/v2/Users/a%2fb", "acme.example"),
    ] {
        let e = resolve(&s, uri, host, None).unwrap_err();
        assert_eq!(
            (e.status(), e.reason().as_str()),
            (400, "invalid_path"),
            "{uri}"
        );
        assert_eq!(
            e.scim().scim_type().map(|t| t.as_str()),
            Some("invalidPath")
        );
    }
    let r = resolve(&s, "/scim/v2/users/.SEARCH", "acme.example", None).unwrap();
    assert_eq!(r.route.path(), "/Users/.search");
}
