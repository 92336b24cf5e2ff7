//! mTLS per tenant, with real handshakes and test-made PKI: a tenant that
//! requires client certificates refuses none, another tenant's, expired
//! and revoked ones (at the handshake on its own host name, at the HTTP
//! layer when reached by path on the shared host), and the upstream
//! receives nothing from any refused client.
use crate::support::echo::EchoUpstream;
use crate::support::gateway::TestGateway;
use crate::support::pki::{identity, write_ca, write_crl, ClientSpec, TestCa};

struct Setup {
    echo: EchoUpstream,
    gw: TestGateway,
    ca_a: TestCa,
    ca_b: TestCa,
}

const REVOKED: u64 = 66;

/// alpha (host alpha.localhost) and gamma (by path only) accept CA A's
/// client certificates; beta (host beta.localhost) CA B's. None of them
/// has a bearer token: the certificate is the credential.
fn setup() -> Setup {
    let ca_a = TestCa::root("tenant A client CA");
    let ca_b = TestCa::root("tenant B client CA");
    let echo = EchoUpstream::spawn();
    let dir = std::env::temp_dir().join(format!("scimgw-mtls-{}", echo.addr.port()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = write_ca(&ca_a, &dir.join("ca-a.pem"));
    let b = write_ca(&ca_b, &dir.join("ca-b.pem"));
    let crl = write_crl(&ca_a, &[REVOKED], &dir.join("ca-a.crl"));
    let tenant = |id: &str, hosts: &str, ca: &std::path::Path, crl: Option<&std::path::Path>| {
        let crls = crl.map_or(String::new(), |c| {
            format!("crl_files = [\"{}\"]\n", c.display())
        });
        format!(
            "[[tenants]]\nid = \"{id}\"\nhosts = [{hosts}]\nupstream = \"echo\"\n[tenants.mtls]\nca_files = [\"{}\"]\n{crls}",
            ca.display()
        )
    };
    let gw = TestGateway::builder()
        .server("auth_failure_limit = 0")
        .http("echo", &echo.url(), "")
        .raw_tenant(
            &tenant("alpha", "\"alpha.localhost\"", &a, Some(&crl)),
            &["alpha.localhost"],
        )
        .raw_tenant(
            &tenant("beta", "\"beta.localhost\"", &b, None),
            &["beta.localhost"],
        )
        .raw_tenant(&tenant("gamma", "", &a, Some(&crl)), &[])
        .spawn();
    Setup {
        echo,
        gw,
        ca_a,
        ca_b,
    }
}

fn client_spec(cn: &str, serial: u64) -> ClientSpec<'_> {
    ClientSpec {
        cn,
        serial,
        ..ClientSpec::default()
    }
}

/// GET /Users with this client certificate (or none): the status, or
/// `None` when the TLS handshake was refused.
async fn call(s: &Setup, url: &str, cert: Option<&crate::support::pki::Leaf>) -> Option<u16> {
    let mut builder = s.gw.client_builder();
    if let Some(leaf) = cert {
        builder = builder.identity(identity(leaf));
    }
    match builder.build().unwrap().get(url).send().await {
        Ok(resp) => Some(resp.status().as_u16()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn a_tenant_host_refuses_wrong_certificates_at_the_handshake() {
    let s = setup();
    let url = format!("{}/Users", s.gw.base("alpha.localhost"));
    let good = s.ca_a.client(&client_spec("okta-a", 1));
    let foreign = s.ca_b.client(&client_spec("okta-b", 2));
    let expired = s.ca_a.client(&ClientSpec {
        years: (2000, 2001),
        ..client_spec("old", 3)
    });
    let revoked = s.ca_a.client(&client_spec("leaked", REVOKED));
    for (name, cert) in [
        ("no certificate", None),
        ("another tenant's CA", Some(&foreign)),
        ("expired", Some(&expired)),
        ("revoked", Some(&revoked)),
    ] {
        let got = call(&s, &url, cert).await;
        assert!(
            got.is_none() || got == Some(403),
            "{name}: {got:?} (refused expected)"
        );
    }
    assert_eq!(s.echo.hits(), 0, "nothing reached the upstream");
    assert_eq!(call(&s, &url, Some(&good)).await, Some(200));
    assert_eq!(s.echo.hits(), 1);
    // Tenant B's host takes only B's certificates.
    let beta = format!("{}/Users", s.gw.base("beta.localhost"));
    assert_eq!(call(&s, &beta, Some(&foreign)).await, Some(200));
    let got = call(&s, &beta, Some(&good)).await;
    assert!(
        got.is_none() || got == Some(403),
        "A's certificate at B: {got:?}"
    );
    assert_eq!(s.echo.hits(), 2);
    // Every refusal is its tenant's failed authentication in the audit
    // log, also when it happened at the handshake (no HTTP request).
    let failures = |tenant: &str| -> usize {
        std::fs::read_dir(s.gw.dir.join("audit"))
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .collect::<Vec<_>>()
            })
            .filter(|r| r["kind"] == "auth_failure" && r["tenant"] == tenant)
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while (failures("alpha") < 4 || failures("beta") < 1) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(failures("alpha"), 4, "four refusals at alpha");
    assert_eq!(failures("beta"), 1, "one refusal at beta");
}

#[tokio::test]
async fn a_tenant_by_path_checks_the_certificate_at_the_http_layer() {
    let s = setup();
    let url = format!(
        "{}/tenants/gamma/scim/v2/Users",
        s.gw.origin("gw.localhost")
    );
    let good = s.ca_a.client(&client_spec("okta-a", 11));
    let foreign = s.ca_b.client(&client_spec("okta-b", 12));
    let expired = s.ca_a.client(&ClientSpec {
        years: (2000, 2001),
        ..client_spec("old", 13)
    });
    let revoked = s.ca_a.client(&client_spec("leaked", REVOKED));
    for (name, cert) in [
        ("no certificate", None),
        ("another tenant's CA", Some(&foreign)),
        ("expired", Some(&expired)),
        ("revoked", Some(&revoked)),
    ] {
        assert_eq!(call(&s, &url, cert).await, Some(403), "{name}");
    }
    assert_eq!(s.echo.hits(), 0, "nothing reached the upstream");
    // The right one passes, on the same shared host name.
    assert_eq!(call(&s, &url, Some(&good)).await, Some(200));
    assert_eq!(s.echo.hits(), 1);
    // Beta's certificate cannot reach gamma by path either.
    let beta_cert = s.ca_b.client(&client_spec("okta-b", 14));
    assert_eq!(call(&s, &url, Some(&beta_cert)).await, Some(403));
    assert_eq!(s.echo.hits(), 1);
}

/// The certificate a TLS client gets for `sni` from the gateway.
async fn served_certificate(
    gw: &TestGateway,
    sni: &str,
    roots: &[rustls::pki_types::CertificateDer<'static>],
) -> Vec<u8> {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store.add(r.clone()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(scim_gateway::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(store)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(gw.bound.public)
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0]
        .as_ref()
        .to_vec()
}

#[tokio::test]
async fn a_tenant_certificate_is_served_by_sni_and_replaced_on_reload() {
    let server_ca = TestCa::root("tenant server CA");
    let first = server_ca.server("delta.localhost");
    let echo = EchoUpstream::spawn();
    let dir = std::env::temp_dir().join(format!("scimgw-tenant-cert-{}", echo.addr.port()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("delta.crt"), dir.join("delta.key"));
    crate::support::pki::write_leaf(&first, &cert, &key);
    let gw = TestGateway::builder()
        .http("echo", &echo.url(), "")
        .tenant_with(
            "delta",
            &["delta.localhost"],
            "echo",
            &format!(
                "[tenants.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
                cert.display(),
                key.display()
            ),
        )
        .tenant("other", &["other.localhost"], "echo")
        .spawn();
    let gateway_ca = scim_gateway::tls::load_certs(&gw.ca_file())
        .unwrap()
        .remove(0);
    let roots = [server_ca.cert.clone(), gateway_ca];
    assert_eq!(
        served_certificate(&gw, "delta.localhost", &roots).await,
        first.chain[0].as_ref()
    );
    // Other host names keep the listener's certificate.
    assert_ne!(
        served_certificate(&gw, "other.localhost", &roots).await,
        first.chain[0].as_ref()
    );
    // Rotate the files and reload: new connections get the new one.
    let second = server_ca.server("delta.localhost");
    crate::support::pki::write_leaf(&second, &cert, &key);
    gw.config.reload().unwrap();
    assert_eq!(
        served_certificate(&gw, "delta.localhost", &roots).await,
        second.chain[0].as_ref()
    );
}
