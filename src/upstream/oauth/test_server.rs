#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A tiny authorization server for tests: hyper HTTP/1.1 on 127.0.0.1:0,
//! answering form POSTs through a closure and recording what it received.
use base64::Engine;
use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request as the endpoint saw it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub form: Vec<(String, String)>,
}

/// What the endpoint answers.
pub(crate) struct Reply {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
}

type Respond = dyn Fn(usize, &Recorded) -> Reply + Send + Sync;

pub(crate) struct MockEndpoint {
    pub uri: Uri,
    count: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    accept: JoinHandle<()>,
    /// The development PKI of a TLS endpoint.
    dir: Option<PathBuf>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub(crate) fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

impl Recorded {
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The Basic credentials, decoded per RFC 6749 §2.3.1.
    pub(crate) fn basic(&self) -> Option<(String, String)> {
        let b64 = self.authorization.as_deref()?.strip_prefix("Basic ")?;
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (id, secret) = raw.split_once(':')?;
        let decode = |s: &str| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        Some((decode(id)?, decode(secret)?))
    }
}

impl MockEndpoint {
    /// Serves `respond(n, request)` for the n-th request (0-based) over
    /// plain HTTP/1.1.
    pub(crate) async fn start(
        respond: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static,
    ) -> MockEndpoint {
        MockEndpoint::spawn(Arc::new(respond), None).await
    }

    /// The same over HTTPS at `https://localhost:PORT`, with a certificate
    /// from a fresh development CA; the CA file is `self.ca_file()`.
    pub(crate) async fn start_tls(
        respond: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static,
    ) -> MockEndpoint {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "scim-gateway-oauth-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        crate::tls::dev::make_dev_pki(&dir, &[], &[]).unwrap();
        let config =
            crate::tls::server_config(&dir.join("server.crt"), &dir.join("server.key")).unwrap();
        // This endpoint speaks HTTP/1.1 only.
        let mut config = (*config).clone();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let mut endpoint = MockEndpoint::spawn(Arc::new(respond), Some(acceptor)).await;
        endpoint.dir = Some(dir);
        endpoint
    }

    /// The CA bundle that trusts a [`start_tls`](Self::start_tls) endpoint.
    pub(crate) fn ca_file(&self) -> PathBuf {
        self.dir.as_ref().unwrap().join("ca.crt")
    }

    async fn spawn(respond: Arc<Respond>, tls: Option<tokio_rustls::TlsAcceptor>) -> MockEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let uri = match tls {
            Some(_) => format!("https://localhost:{}/token", addr.port()),
            None => format!("http://{addr}/token"),
        };
        let (c, r) = (count.clone(), requests.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (count, requests, respond) = (c.clone(), r.clone(), respond.clone());
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        answer(req, count.clone(), requests.clone(), respond.clone())
                    });
                    let http1 = hyper::server::conn::http1::Builder::new();
                    let _ = match tls {
                        Some(acceptor) => match acceptor.accept(stream).await {
                            Ok(stream) => {
                                http1.serve_connection(TokioIo::new(stream), service).await
                            }
                            Err(_) => return,
                        },
                        None => http1.serve_connection(TokioIo::new(stream), service).await,
                    };
                });
            }
        });
        MockEndpoint {
            uri: uri.parse().unwrap(),
            count,
            requests,
            accept,
            dir: None,
        }
    }

    /// How many requests arrived so far.
    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for MockEndpoint {
    fn drop(&mut self) {
        self.accept.abort();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn answer(
    req: Request<Incoming>,
    count: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    respond: Arc<Respond>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let header = |name: http::header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let authorization = header(http::header::AUTHORIZATION);
    let content_type = header(http::header::CONTENT_TYPE);
    let body = req.into_body().collect().await?.to_bytes();
    let form = form_urlencoded::parse(&body).into_owned().collect();
    let recorded = Recorded {
        authorization,
        content_type,
        form,
    };
    let n = count.fetch_add(1, Ordering::SeqCst);
    requests.lock().unwrap().push(recorded.clone());
    let reply = respond(n, &recorded);
    tokio::time::sleep(reply.delay).await;
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
