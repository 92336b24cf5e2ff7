//! Real handshakes against `server::serve`: server certificates chosen by
//! SNI, per-tenant client-certificate verification at the TLS layer, and
//! the "verified later" verifier of a shared host name.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::test_pki::{ClientSpec, Leaf, TestCa};
use super::{ClientCertPins, ClientCertPolicy, DeferredClientCertVerifier, TlsSelector};
use crate::conn_info::ConnInfo;
use crate::server::RequestBody;
use crate::server::{serve, Listening, Respond, SettingsSource};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ProtocolVersion, RootCertStore, SignatureScheme};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const A: &str = "a.tenants.test";
const B: &str = "b.tenants.test";
const SHARED: &str = "scim.shared.test";

/// Answers with what it learnt of the connection; on the shared host it
/// verifies the client certificate against tenant A's policy, as the HTTP
/// layer does for a path-prefix tenant.
struct Inspect {
    tenant_a: ClientCertPolicy,
}

impl Respond for Inspect {
    fn call<'a>(
        &'a self,
        _req: Request<RequestBody>,
        conn: Arc<ConnInfo>,
    ) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send + 'a>> {
        Box::pin(async move {
            let chain = conn
                .peer_certificates
                .as_deref()
                .map_or(&[][..], Vec::as_slice);
            let verdict = match self.tenant_a.verify(chain, UnixTime::now()) {
                Ok(id) => format!("ok:{}", id.subject),
                Err(e) => e.reason().as_str().to_string(),
            };
            let body = format!(
                "sni={} certs={} tenant_a={verdict}",
                conn.sni.as_deref().unwrap_or("-"),
                chain.len()
            );
            Response::new(Full::new(Bytes::from(body)))
        })
    }
}

struct World {
    addr: SocketAddr,
    server_roots: RootCertStore,
    served: [(String, CertificateDer<'static>); 3],
    ca_a: TestCa,
    ca_b: TestCa,
    stop: tokio::sync::oneshot::Sender<()>,
}

/// Tenant A (`a.tenants.test`) requires a certificate from CA A, CRL
/// revoking serial 13; tenant B (`b.tenants.test`) takes one from CA B
/// optionally; the shared host defers verification.
async fn world() -> World {
    let server_ca = TestCa::root("server CA");
    let ca_a = TestCa::root("tenant A client CA");
    let ca_b = TestCa::root("tenant B client CA");
    let none = ClientCertPins::default();
    let policy_a = ClientCertPolicy::new(
        vec![ca_a.cert.clone()],
        vec![ca_a.crl(&[13])],
        &none,
        Default::default(),
    )
    .unwrap();
    let policy_b =
        ClientCertPolicy::new(vec![ca_b.cert.clone()], vec![], &none, Default::default()).unwrap();
    let (cert_a, cert_b, cert_shared) = (
        server_ca.server(A),
        server_ca.server(B),
        server_ca.server(SHARED),
    );
    let selector =
        TlsSelector::new(cert_shared.server_config(Some(DeferredClientCertVerifier::new())))
            .with_host(A, cert_a.server_config(Some(policy_a.tls_verifier(true))))
            .with_host(
                &B.to_uppercase(),
                cert_b.server_config(Some(policy_b.tls_verifier(false))),
            );
    let selector = Arc::new(selector);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings: SettingsSource = Arc::new(move || Listening {
        identity: Default::default(),
        tls: Some(selector.clone()),
        header_read_timeout: Duration::from_secs(5),
        max_header_bytes: 8192,
        idle_timeout: Duration::from_secs(30),
    });
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(
        listener,
        settings,
        crate::server::ConnectionCaps::total(16),
        Duration::from_secs(1),
        Arc::new(Inspect { tenant_a: policy_a }),
        async {
            let _ = rx.await;
        },
    ));
    let mut server_roots = RootCertStore::empty();
    server_roots.add(server_ca.cert.clone()).unwrap();
    World {
        addr,
        server_roots,
        served: [
            (A.into(), cert_a.chain[0].clone()),
            (B.into(), cert_b.chain[0].clone()),
            (SHARED.into(), cert_shared.chain[0].clone()),
        ],
        ca_a,
        ca_b,
        stop,
    }
}

/// A client certificate that records the CA hints the server sent.
#[derive(Debug)]
struct ClientCert {
    key: Arc<CertifiedKey>,
    hints: Mutex<Option<usize>>,
}

impl ClientCert {
    fn new(leaf: &Leaf) -> Arc<Self> {
        Self::with_key_of(leaf, leaf)
    }

    /// `leaf`'s certificate with `other`'s key: no proof of possession.
    fn with_key_of(leaf: &Leaf, other: &Leaf) -> Arc<Self> {
        let signer = super::provider()
            .key_provider
            .load_private_key(other.key.clone_key())
            .unwrap();
        Arc::new(Self {
            key: Arc::new(CertifiedKey::new(leaf.chain.clone(), signer)),
            hints: Mutex::new(None),
        })
    }
}

impl ResolvesClientCert for ClientCert {
    fn resolve(&self, hints: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        *self.hints.lock().unwrap() = Some(hints.len());
        Some(self.key.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// What one HTTPS request saw.
#[derive(Debug)]
struct Seen {
    served: CertificateDer<'static>,
    /// The response body; `Err` when the server refused (alert or close).
    body: Result<String, String>,
}

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::TLSv1_2, ProtocolVersion::TLSv1_3];

impl World {
    async fn get(
        &self,
        host: &str,
        cert: Option<Arc<ClientCert>>,
        version: ProtocolVersion,
    ) -> Result<Seen, String> {
        let version = match version {
            ProtocolVersion::TLSv1_2 => &rustls::version::TLS12,
            _ => &rustls::version::TLS13,
        };
        let builder = rustls::ClientConfig::builder_with_provider(super::provider())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(self.server_roots.clone());
        let mut config = match cert {
            Some(c) => builder.with_client_cert_resolver(c),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let name = ServerName::try_from(host.to_string()).unwrap();
        // TLS 1.2 refuses inside the handshake; TLS 1.3 after the
        // client's Finished, on the first read.
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let served = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
        let request = format!("GET / HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
        let mut buf = Vec::new();
        let body = match tls.write_all(request.as_bytes()).await {
            Err(e) => Err(e.to_string()),
            Ok(()) => match tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut buf))
                .await
            {
                Err(_) => Err("timed out".into()),
                Ok(Err(e)) => Err(e.to_string()),
                Ok(Ok(_)) => {
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    match text.split_once("\r\n\r\n") {
                        Some((head, body)) if head.starts_with("HTTP/1.1 200") => {
                            Ok(body.to_string())
                        }
                        _ => Err(format!("no response: {text:?}")),
                    }
                }
            },
        };
        Ok(Seen { served, body })
    }

    /// The response body, or why there was none.
    async fn body(
        &self,
        host: &str,
        cert: Option<Arc<ClientCert>>,
        version: ProtocolVersion,
    ) -> Result<String, String> {
        self.get(host, cert, version).await.and_then(|s| s.body)
    }
}

fn client(ca: &TestCa, serial: u64, years: (i32, i32)) -> Leaf {
    ca.client(&ClientSpec {
        cn: "okta",
        org: Some("Acme"),
        serial,
        years,
        ..ClientSpec::default()
    })
}

#[tokio::test]
async fn sni_picks_the_tenant_certificate() {
    let w = world().await;
    for (host, want) in &w.served {
        // Tenant A needs a client certificate even to answer.
        let cert = (host == A).then(|| ClientCert::new(&client(&w.ca_a, 1, (2000, 2999))));
        let seen = w.get(host, cert, ProtocolVersion::TLSv1_3).await.unwrap();
        assert_eq!(&seen.served, want, "{host}");
        let body = seen.body.unwrap();
        assert!(body.starts_with(&format!("sni={host} ")), "{body}");
    }
    // Host names compare case-insensitively (B was registered in upper case).
    let seen = w
        .get(&B.to_uppercase(), None, ProtocolVersion::TLSv1_3)
        .await
        .unwrap();
    assert_eq!(seen.served, w.served[1].1);
    let _ = w.stop.send(());
}

#[tokio::test]
async fn tenant_a_requires_a_valid_certificate_from_its_own_ca() {
    let w = world().await;
    let valid = client(&w.ca_a, 1, (2000, 2999));
    for version in VERSIONS {
        let refused = [
            ("no certificate", None),
            (
                "tenant B's CA",
                Some(ClientCert::new(&client(&w.ca_b, 1, (2000, 2999)))),
            ),
            (
                "expired",
                Some(ClientCert::new(&client(&w.ca_a, 1, (2000, 2001)))),
            ),
            (
                "revoked",
                Some(ClientCert::new(&client(&w.ca_a, 13, (2000, 2999)))),
            ),
        ];
        for (case, cert) in refused {
            let got = w.body(A, cert, version).await;
            assert!(
                got.is_err(),
                "{case} over {version:?} must be refused: {got:?}"
            );
        }
        let cert = ClientCert::new(&valid);
        let body = w.body(A, Some(cert.clone()), version).await.unwrap();
        assert_eq!(
            body,
            format!("sni={A} certs=1 tenant_a=ok:CN=okta,O=Acme"),
            "{version:?}"
        );
        assert_eq!(
            *cert.hints.lock().unwrap(),
            Some(1),
            "tenant A hints its CA"
        );
    }
    let _ = w.stop.send(());
}

#[tokio::test]
async fn tenant_b_makes_client_certificates_optional() {
    let w = world().await;
    let body = w.body(B, None, ProtocolVersion::TLSv1_3).await.unwrap();
    assert_eq!(body, format!("sni={B} certs=0 tenant_a=no_certificate"));
    let cert = ClientCert::new(&client(&w.ca_b, 1, (2000, 2999)));
    let body = w
        .body(B, Some(cert), ProtocolVersion::TLSv1_3)
        .await
        .unwrap();
    assert!(body.contains("certs=1"), "{body}");
    // A certificate B's CA did not issue is refused even though optional.
    let foreign = ClientCert::new(&client(&w.ca_a, 1, (2000, 2999)));
    assert!(w
        .body(B, Some(foreign), ProtocolVersion::TLSv1_3)
        .await
        .is_err());
    let _ = w.stop.send(());
}

#[tokio::test]
async fn the_shared_host_accepts_any_certificate_and_verifies_it_later() {
    let w = world().await;
    let stranger_ca = TestCa::root("nobody's CA");
    for version in VERSIONS {
        // Any CA passes the handshake; the HTTP layer then refuses it.
        let cases = [
            (client(&stranger_ca, 1, (2000, 2999)), "untrusted"),
            (client(&w.ca_b, 1, (2000, 2999)), "untrusted"),
            (client(&w.ca_a, 1, (2000, 2001)), "expired"),
            (client(&w.ca_a, 13, (2000, 2999)), "revoked"),
            (client(&w.ca_a, 2, (2000, 2999)), "ok:CN=okta,O=Acme"),
        ];
        for (leaf, verdict) in cases {
            let cert = ClientCert::new(&leaf);
            let body = w.body(SHARED, Some(cert.clone()), version).await.unwrap();
            assert_eq!(
                body,
                format!("sni={SHARED} certs=1 tenant_a={verdict}"),
                "{version:?}"
            );
            assert_eq!(*cert.hints.lock().unwrap(), Some(0), "no CA hints");
        }
        // No certificate: the handshake succeeds, the policy says so.
        let body = w.body(SHARED, None, version).await.unwrap();
        assert_eq!(
            body,
            format!("sni={SHARED} certs=0 tenant_a=no_certificate")
        );
        // A certificate without its key fails the handshake signature.
        let good = client(&w.ca_a, 3, (2000, 2999));
        let thief = client(&stranger_ca, 4, (2000, 2999));
        let stolen = ClientCert::with_key_of(&good, &thief);
        let got = w.body(SHARED, Some(stolen), version).await;
        assert!(
            got.is_err(),
            "no proof of possession over {version:?}: {got:?}"
        );
    }
    let _ = w.stop.send(());
}
