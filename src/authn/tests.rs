#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::static_token::{hash_token, hash_token_hex};
use super::*;
use http::HeaderValue;
use std::sync::Arc;

fn tenant() -> TenantAuth {
    TenantAuth {
        tokens: vec![
            StaticToken {
                name: "old".into(),
                sha256: hash_token("token-old-0123456789abcdef"),
                scopes: vec![],
            },
            StaticToken {
                name: "new".into(),
                sha256: hash_token("token-new-0123456789abcdef"),
                scopes: vec![],
            },
        ],
        ..Default::default()
    }
}

fn acme() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn headers(auth: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(a) = auth {
        h.insert(AUTHORIZATION, HeaderValue::from_str(a).unwrap());
    }
    h
}

#[tokio::test]
async fn rotation_accepts_every_active_token_by_name() {
    let t = tenant();
    let p = authenticate(
        &t,
        &acme(),
        &headers(Some("Bearer token-new-0123456789abcdef")),
        &conn(),
        Reach::Full,
    )
    .await
    .unwrap();
    assert_eq!(
        (p.credential.as_str(), p.method),
        ("new", AuthMethod::StaticToken)
    );
    let p = authenticate(
        &t,
        &acme(),
        &headers(Some("bearer token-old-0123456789abcdef")),
        &conn(),
        Reach::Full,
    )
    .await
    .unwrap();
    assert_eq!(p.credential, "old");
    assert_eq!(p.tenant.as_str(), "acme");
}

#[tokio::test]
async fn failures_are_401_with_a_challenge() {
    let t = tenant();
    let e = authenticate(&t, &acme(), &headers(None), &conn(), Reach::Full)
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.reason().as_str()), (401, "missing_token"));
    let resp = e.into_response();
    assert_eq!(resp.headers()["www-authenticate"], "Bearer realm=\"acme\"");
    for (auth, reason) in [
        ("Bearer wrong-token-0123456789abcdef", "invalid_token"),
        ("Basic dXNlcjpwYXNz", "malformed_authorization"),
        ("Bearer", "malformed_authorization"),
        ("Bearer a b", "malformed_authorization"),
    ] {
        let e = authenticate(&t, &acme(), &headers(Some(auth)), &conn(), Reach::Full)
            .await
            .unwrap_err();
        assert_eq!((e.status(), e.reason().as_str()), (401, reason), "{auth}");
        assert!(!e.scim().detail().contains("wrong-token"));
    }
}

#[test]
fn hashes_print_as_config_expects() {
    let h = hash_token_hex("abc");
    assert_eq!(
        h,
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[tokio::test]
async fn principal_debug_has_no_secret() {
    let t = tenant();
    let p = authenticate(
        &t,
        &acme(),
        &headers(Some("Bearer token-new-0123456789abcdef")),
        &conn(),
        Reach::Full,
    )
    .await
    .unwrap();
    assert!(!format!("{p:?}").contains("token-new"));
}

/// A policy recompiled into the very allocation of the one a connection
/// verified under (what the allocator may do after a reload frees the old
/// one): the connection's cached verdict must not answer for it.
#[tokio::test]
async fn a_new_policy_at_a_reused_address_is_verified_again() {
    use crate::tls::test_pki::{ClientSpec, TestCa};
    use crate::tls::{ClientCertPins, ClientCertPolicy};
    let (ca_a, ca_b) = (TestCa::root("CA A"), TestCa::root("CA B"));
    let policy = |ca: &TestCa| {
        ClientCertPolicy::new(
            vec![ca.cert.clone()],
            vec![],
            &ClientCertPins::default(),
            Default::default(),
        )
        .unwrap()
    };
    let leaf = ca_a.client(&ClientSpec::default());
    let mut conn = conn();
    conn.peer_certificates = Some(Arc::new(leaf.chain.clone()));
    let mut t = tenant();
    t.tokens.clear();
    t.mtls = Some(TenantMtls {
        policy: Arc::new(policy(&ca_a)),
        required: true,
    });
    let p = authenticate(&t, &acme(), &headers(None), &conn, Reach::Full)
        .await
        .unwrap();
    assert_eq!(p.method, AuthMethod::ClientCertificate);

    // The new policy trusts only CA B, and sits at the old one's address.
    let mtls = t.mtls.as_mut().unwrap();
    let address = Arc::as_ptr(&mtls.policy);
    *Arc::get_mut(&mut mtls.policy).unwrap() = policy(&ca_b);
    assert_eq!(Arc::as_ptr(&mtls.policy), address);
    let e = authenticate(&t, &acme(), &headers(None), &conn, Reach::Full)
        .await
        .unwrap_err();
    assert_eq!(
        (e.status(), e.reason().as_str()),
        (403, "client_certificate_untrusted")
    );
}

#[test]
fn every_compiled_policy_has_a_new_generation() {
    use crate::tls::test_pki::TestCa;
    use crate::tls::{ClientCertPins, ClientCertPolicy};
    let ca = TestCa::root("CA");
    let compile = || {
        ClientCertPolicy::new(
            vec![ca.cert.clone()],
            vec![],
            &ClientCertPins::default(),
            Default::default(),
        )
        .unwrap()
    };
    let first = compile();
    let second = compile();
    assert!(second.generation() > first.generation());
    assert_eq!(first.clone().generation(), first.generation());
}

fn conn() -> crate::conn_info::ConnInfo {
    crate::conn_info::ConnInfo {
        socket_peer: ([127, 0, 0, 1], 40000).into(),
        proxied: None,
        local: ([127, 0, 0, 1], 443).into(),
        tls: true,
        sni: None,
        alpn: None,
        peer_certificates: None,
        cert_checks: Default::default(),
        auth: Default::default(),
    }
}
