#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A tiny authorization server for tests: hyper HTTP/1.1 on 127.0.0.1:0,
//! answering form POSTs through a closure and recording what it received.
use base64::Engine;
use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
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
}

impl Reply {
    pub fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

impl Recorded {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The Basic credentials, decoded per RFC 6749 §2.3.1.
    pub fn basic(&self) -> Option<(String, String)> {
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
    /// Serves `respond(n, request)` for the n-th request (0-based).
    pub async fn start(
        respond: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static,
    ) -> MockEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let respond: Arc<Respond> = Arc::new(respond);
        let (c, r) = (count.clone(), requests.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (count, requests, respond) = (c.clone(), r.clone(), respond.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (count, requests, respond) =
                            (count.clone(), requests.clone(), respond.clone());
                        async move {
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
                            Ok::<_, hyper::Error>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        MockEndpoint {
            uri: format!("http://{addr}/token").parse().unwrap(),
            count,
            requests,
            accept,
        }
    }

    /// How many requests arrived so far.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for MockEndpoint {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
