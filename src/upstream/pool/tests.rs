#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A test upstream that counts the connections it accepted and answers
/// every request with the HTTP version it arrived in.
struct Server {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

async fn server(tls: Option<Arc<rustls::ServerConfig>>, keep_alive: bool) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let tls = tls.clone();
            tokio::spawn(async move {
                let svc = service_fn(|req: Request<Incoming>| async move {
                    if req.uri().path() == "/slow" {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    let text = format!("{:?} {}", req.version(), req.uri());
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
                });
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder.http1().keep_alive(keep_alive);
                match tls {
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                    }
                    Some(config) => {
                        let Ok(tls) = tokio_rustls::TlsAcceptor::from(config).accept(stream).await
                        else {
                            return;
                        };
                        let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
                    }
                }
            });
        }
    });
    Server { addr, accepted }
}

fn pool(scheme: Scheme, addr: SocketAddr, tls: Option<Arc<rustls::ClientConfig>>) -> Pool {
    pool_with(scheme, addr, tls, 4, Duration::from_secs(30))
}

fn pool_with(
    scheme: Scheme,
    addr: SocketAddr,
    tls: Option<Arc<rustls::ClientConfig>>,
    max_idle: usize,
    idle_timeout: Duration,
) -> Pool {
    let authority = if scheme == Scheme::HTTPS {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    };
    Pool::new(PoolSettings {
        scheme,
        authority: authority.parse().unwrap(),
        tls,
        connect_timeout: Duration::from_secs(2),
        max_idle,
        idle_timeout,
    })
    .unwrap()
}

fn request(path: &str) -> Request<Bytes> {
    let mut req = Request::new(Bytes::new());
    *req.uri_mut() = path.parse().unwrap();
    req.headers_mut().insert(
        http::header::HOST,
        http::HeaderValue::from_static("upstream"),
    );
    req
}

/// One exchange, read to the end: the answer's text.
async fn get(pool: &Pool, path: &str) -> String {
    let response = pool.exchange(request(path), 1 << 20).await.unwrap();
    String::from_utf8(response.into_body().to_vec()).unwrap()
}

/// A TLS server config for `localhost` and a client config trusting it.
fn tls_pair(alpn: &[&[u8]]) -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let pki = crate::tls::dev::dev_pki_in_memory(&["localhost".to_string()], &[]).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "scimgw-pool-{}-{}",
        std::process::id(),
        pki.server_cert.len() ^ (std::ptr::addr_of!(pki) as usize)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let cert = write("server.crt", &pki.server_cert);
    let key = write("server.key", &pki.server_key);
    let ca = write("ca.crt", &pki.ca_cert);
    let mut server = (*crate::tls::server_config(&cert, &key).unwrap()).clone();
    server.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let client = crate::tls::client_config(Some(&ca)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (Arc::new(server), Arc::new(client))
}

#[tokio::test]
async fn one_connection_serves_requests_in_turn() {
    let s = server(None, true).await;
    let p = pool(Scheme::HTTP, s.addr, None);
    for i in 0..5 {
        assert_eq!(
            get(&p, &format!("/Users/{i}?x=1")).await,
            format!("HTTP/1.1 /Users/{i}?x=1")
        );
    }
    assert_eq!(s.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(p.idle_count(), 1);
}

#[tokio::test]
async fn concurrent_requests_open_connections_and_keep_at_most_max_idle() {
    let s = server(None, true).await;
    let p = Arc::new(pool_with(
        Scheme::HTTP,
        s.addr,
        None,
        2,
        Duration::from_secs(30),
    ));
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { get(&p, "/slow").await })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), "HTTP/1.1 /slow");
    }
    assert_eq!(s.accepted.load(Ordering::SeqCst), 6);
    assert_eq!(p.idle_count(), 2);
    // The kept ones are reused.
    get(&p, "/a").await;
    get(&p, "/b").await;
    assert_eq!(s.accepted.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn connections_the_upstream_closes_are_not_reused() {
    let s = server(None, false).await;
    let p = pool(Scheme::HTTP, s.addr, None);
    for _ in 0..4 {
        assert_eq!(get(&p, "/x").await, "HTTP/1.1 /x");
    }
    assert_eq!(s.accepted.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn idle_connections_expire() {
    let s = server(None, true).await;
    let p = pool_with(Scheme::HTTP, s.addr, None, 4, Duration::from_millis(50));
    get(&p, "/x").await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    get(&p, "/x").await;
    assert_eq!(s.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_exchange_dropped_midway_is_not_pooled() {
    let s = server(None, true).await;
    let p = pool(Scheme::HTTP, s.addr, None);
    get(&p, "/x").await;
    assert_eq!(p.idle_count(), 1);
    // The caller gives up while the upstream is still working: that
    // connection has an answer in flight and must never serve another.
    let cut = tokio::time::timeout(
        Duration::from_millis(20),
        p.exchange(request("/slow"), 1024),
    );
    assert!(cut.await.is_err());
    assert_eq!(p.idle_count(), 0);
    assert_eq!(get(&p, "/y").await, "HTTP/1.1 /y");
    assert_eq!(s.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_response_over_the_limit_is_an_error_of_its_own() {
    let s = server(None, true).await;
    let p = pool(Scheme::HTTP, s.addr, None);
    let err = p.exchange(request("/0123456789"), 8).await.unwrap_err();
    assert!(err.is_too_large() && !err.is_connect(), "{err}");
    assert_eq!(p.idle_count(), 0);
    let (server_tls, client_tls) = tls_pair(&[b"h2"]);
    let s = server(Some(server_tls), true).await;
    let p = pool(Scheme::HTTPS, s.addr, Some(client_tls));
    let err = p.exchange(request("/0123456789"), 8).await.unwrap_err();
    assert!(err.is_too_large(), "HTTP/2: {err}");
}

#[tokio::test]
async fn https_negotiates_http2_and_shares_one_connection() {
    let (server_tls, client_tls) = tls_pair(&[b"h2", b"http/1.1"]);
    let s = server(Some(server_tls), true).await;
    let p = Arc::new(pool(Scheme::HTTPS, s.addr, Some(client_tls)));
    // The first request opens the connection; the others share it.
    assert!(get(&p, "/first").await.starts_with("HTTP/2.0 "));
    let calls: Vec<_> = (0..5)
        .map(|i| {
            let p = p.clone();
            tokio::spawn(async move { get(&p, &format!("/Users/{i}")).await })
        })
        .collect();
    for (i, c) in calls.into_iter().enumerate() {
        let text = c.await.unwrap();
        assert!(text.starts_with("HTTP/2.0 "), "{text}");
        assert!(text.ends_with(&format!("/Users/{i}")), "{text}");
    }
    assert_eq!(s.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn https_with_http1_only_pools_http1() {
    let (server_tls, client_tls) = tls_pair(&[b"http/1.1"]);
    let s = server(Some(server_tls), true).await;
    let p = pool(Scheme::HTTPS, s.addr, Some(client_tls));
    for _ in 0..3 {
        assert_eq!(get(&p, "/x").await, "HTTP/1.1 /x");
    }
    assert_eq!(s.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_connect_error() {
    let (server_tls, _) = tls_pair(&[b"http/1.1"]);
    let (_, other_ca) = tls_pair(&[b"http/1.1"]);
    let s = server(Some(server_tls), true).await;
    let p = pool(Scheme::HTTPS, s.addr, Some(other_ca));
    let err = p.exchange(request("/x"), 1024).await.err().unwrap();
    assert!(err.is_connect(), "{err}");
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = pool(Scheme::HTTP, closed, None);
    let err = p.exchange(request("/x"), 1024).await.err().unwrap();
    assert!(err.is_connect(), "{err}");
}

/// An upstream that requires mTLS: the pool's client certificate (from
/// `client_cert_file`/`client_key_file`) opens it; without one, no
/// connection.
#[tokio::test]
async fn a_client_certificate_opens_an_mtls_upstream() {
    let pki = crate::tls::dev::dev_pki_in_memory(&["localhost".to_string()], &["gateway"]).unwrap();
    let dir = std::env::temp_dir().join(format!("scimgw-pool-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let ca = write("ca.crt", &pki.ca_cert);
    let cert = write("server.crt", &pki.server_cert);
    let key = write("server.key", &pki.server_key);
    let (_, client_cert, client_key) = &pki.clients[0];
    let client_cert = write("client.crt", client_cert);
    let client_key = write("client.key", client_key);
    let roots = {
        let mut r = rustls::RootCertStore::empty();
        for c in crate::tls::load_certs(&ca).unwrap() {
            r.add(c).unwrap();
        }
        Arc::new(r)
    };
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots, crate::tls::provider())
            .build()
            .unwrap();
    let server_tls = crate::tls::server_config_with(&cert, &key, Some(verifier)).unwrap();
    let s = server(Some(server_tls), true).await;
    let with = crate::tls::client_config_with_identity(
        Some(&ca),
        Some((client_cert.as_path(), client_key.as_path())),
    )
    .unwrap();
    let p = pool(Scheme::HTTPS, s.addr, Some(Arc::new(with)));
    assert!(get(&p, "/x").await.ends_with("/x"));
    let without = crate::tls::client_config(Some(&ca)).unwrap();
    let p = pool(Scheme::HTTPS, s.addr, Some(Arc::new(without)));
    assert!(
        p.exchange(request("/x"), 1024).await.is_err(),
        "no client certificate, no exchange"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
