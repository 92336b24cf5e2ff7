#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::conn_info::ConnInfo;
use crate::tls::dev::dev_pki_in_memory;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Answers with what it knows of the connection.
struct Echo;

impl Respond for Echo {
    fn call<'a>(
        &'a self,
        req: Request<RequestBody>,
        conn: Arc<ConnInfo>,
    ) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send + 'a>> {
        Box::pin(async move {
            let forwarding = crate::client_addr::Forwarding::default();
            let body = format!(
                "client={} tls={} sni={}",
                conn.client(req.headers(), &forwarding).ip,
                conn.tls,
                conn.sni.as_deref().unwrap_or("-")
            );
            Response::new(Full::new(Bytes::from(body)))
        })
    }
}

struct Running {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(
    tls: Option<Arc<rustls::ServerConfig>>,
    max_connections: usize,
    idle: Duration,
) -> Running {
    start_with(tls, max_connections, idle, Duration::from_millis(300)).await
}

async fn start_with(
    tls: Option<Arc<rustls::ServerConfig>>,
    max_connections: usize,
    idle: Duration,
    header_read_timeout: Duration,
) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings: SettingsSource = Arc::new(move || Listening {
        identity: Default::default(),
        tls: tls
            .clone()
            .map(|c| Arc::new(crate::tls::TlsSelector::new(c))),
        header_read_timeout,
        max_header_bytes: 8192,
        idle_timeout: idle,
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(serve(
        listener,
        settings,
        ConnectionCaps::total(max_connections),
        Duration::from_secs(2),
        Arc::new(Echo),
        async {
            let _ = rx.await;
        },
    ));
    Running {
        addr,
        stop: Some(tx),
        done,
    }
}

impl Running {
    async fn stop(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        let _ = tokio::time::timeout(Duration::from_secs(5), self.done).await;
    }
}

/// Reads until EOF or `limit`; returns what arrived.
async fn read_all(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(limit, s.read_to_end(&mut buf))
        .await
        .is_ok();
    (String::from_utf8_lossy(&buf).into_owned(), closed)
}

#[tokio::test]
async fn plaintext_http1_answers_and_slow_headers_are_cut_off() {
    let r = start(None, 16, Duration::from_secs(30)).await;
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let (text, closed) = read_all(&mut s, Duration::from_secs(5)).await;
    assert!(
        closed && text.starts_with("HTTP/1.1 200") && text.ends_with("tls=false sni=-"),
        "{text}"
    );

    // Slowloris: half a request head, then nothing.
    let mut slow = TcpStream::connect(r.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let (_, closed) = read_all(&mut slow, Duration::from_secs(3)).await;
    assert!(
        closed,
        "the connection is closed after the header-read timeout"
    );
    r.stop().await;
}

#[tokio::test]
async fn oversized_headers_are_refused() {
    let r = start(None, 16, Duration::from_secs(30)).await;
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    let big = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let _ = s.write_all(big.as_bytes()).await;
    let (text, closed) = read_all(&mut s, Duration::from_secs(3)).await;
    assert!(closed, "closed");
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 431"),
        "{text}"
    );
    r.stop().await;
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let r = start(None, 16, Duration::from_millis(200)).await;
    let mut s = TcpStream::connect(r.addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (text, closed) = read_all(&mut s, Duration::from_secs(3)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(closed, "closed once idle");
    r.stop().await;
}

#[tokio::test]
async fn the_connection_cap_holds_new_clients_back() {
    // (hyper's header-read timeout also ends idle keep-alive waits, so keep
    // it longer than this test's pauses.)
    let r = start_with(None, 1, Duration::from_secs(30), Duration::from_secs(10)).await;
    let mut first = TcpStream::connect(r.addr).await.unwrap();
    first
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = first.read(&mut buf).await.unwrap();
    assert!(n > 0);
    let mut second = TcpStream::connect(r.addr).await.unwrap();
    second
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(400), second.read(&mut buf)).await;
    assert!(
        waited.is_err(),
        "the second connection is not served while the first holds the only slot: {waited:?} {:?}",
        String::from_utf8_lossy(&buf)
    );
    drop(first);
    let (text, _) = read_all(&mut second, Duration::from_secs(3)).await;
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "served once a slot frees: {text}"
    );
    r.stop().await;
}

#[tokio::test]
async fn tls_12_and_13_with_alpn_and_sni() {
    let pki = dev_pki_in_memory(&["acme.localhost".into()], &[]).unwrap();
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.server_cert.as_bytes())
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_slice(pki.server_key.as_bytes()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let r = start(Some(Arc::new(config)), 16, Duration::from_secs(30)).await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_cert.as_bytes()).unwrap())
        .unwrap();
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let mut client = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        client.alpn_protocols = vec![b"http/1.1".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let tcp = TcpStream::connect(r.addr).await.unwrap();
        let mut tls = connector
            .connect(ServerName::try_from("acme.localhost").unwrap(), tcp)
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.protocol_version(), Some(version.version));
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        tls.write_all(b"GET / HTTP/1.1\r\nhost: acme.localhost\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), tls.read_to_end(&mut buf)).await;
        let text = String::from_utf8_lossy(&buf);
        assert!(text.ends_with("tls=true sni=acme.localhost"), "{text}");
    }
    // A client that never finishes its handshake is dropped.
    let mut stalled = TcpStream::connect(r.addr).await.unwrap();
    let (_, closed) = read_all(&mut stalled, Duration::from_secs(3)).await;
    assert!(closed, "handshake timeout");
    r.stop().await;
}

/// A PROXY listener allowing `allow`, one connection per client IP.
async fn start_proxy(allow: &str) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let allow = Arc::new(crate::client_addr::CidrSet::new(vec![allow
        .parse()
        .unwrap()]));
    let settings: SettingsSource = Arc::new(move || Listening {
        identity: crate::client_addr::ListenerIdentity {
            proxy_protocol: Some(allow.clone()),
            forwarding: Default::default(),
        },
        tls: None,
        header_read_timeout: Duration::from_millis(300),
        max_header_bytes: 8192,
        idle_timeout: Duration::from_secs(30),
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let caps = ConnectionCaps {
        max_connections: 16,
        per_ip: 1,
        anonymous: None,
    };
    let done = tokio::spawn(serve(
        listener,
        settings,
        caps,
        Duration::from_secs(2),
        Arc::new(Echo),
        async {
            let _ = rx.await;
        },
    ));
    Running {
        addr,
        stop: Some(tx),
        done,
    }
}

/// A connection that sends `header` and a keep-alive request; the answer
/// (empty when refused) and the still open stream.
async fn proxied_request(addr: std::net::SocketAddr, header: &[u8]) -> (String, TcpStream) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut bytes = header.to_vec();
    bytes.extend_from_slice(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    let _ = s.write_all(&bytes).await;
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
        .await
        .expect("answered or closed")
        .unwrap_or(0);
    (String::from_utf8_lossy(&buf[..n]).into_owned(), s)
}

#[tokio::test]
async fn a_proxy_listener_admits_by_the_client_the_header_names() {
    let r = start_proxy("127.0.0.1/32").await;
    let v1 = |client: &str| format!("PROXY TCP4 {client} 127.0.0.1 40000 443\r\n").into_bytes();
    let (text, _held) = proxied_request(r.addr, &v1("192.0.2.1")).await;
    assert!(
        text.starts_with("HTTP/1.1 200") && text.contains("client=192.0.2.1 "),
        "{text}"
    );
    // The per-IP cap (1) counts 192.0.2.1, not the balancer's address.
    let (text, _) = proxied_request(r.addr, &v1("192.0.2.1")).await;
    assert_eq!(text, "", "a second connection of the same client is closed");
    let (text, _other) = proxied_request(r.addr, &v1("192.0.2.2")).await;
    assert!(text.contains("client=192.0.2.2 "), "{text}");
    // v2 LOCAL (a health check): the balancer's own connection.
    let local = b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";
    let (text, _) = proxied_request(r.addr, local).await;
    assert!(text.contains("client=127.0.0.1 "), "{text}");
    // No header, a garbage one, or one that never completes: closed.
    let (text, _) = proxied_request(r.addr, b"").await;
    assert_eq!(text, "");
    let (text, _) = proxied_request(r.addr, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n").await;
    assert_eq!(text, "");
    let mut slow = TcpStream::connect(r.addr).await.unwrap();
    slow.write_all(b"PROXY TCP4 1.2.3.4").await.unwrap();
    let (_, closed) = read_all(&mut slow, Duration::from_secs(3)).await;
    assert!(
        closed,
        "a header that never completes is cut off at the timeout"
    );
    r.stop().await;

    // A sender outside the allow-list is closed before a byte is read,
    // header or not.
    let r = start_proxy("10.0.0.0/8").await;
    let (text, _) = proxied_request(r.addr, &v1("192.0.2.1")).await;
    assert_eq!(text, "");
    r.stop().await;
}
