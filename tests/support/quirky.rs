//! A built-in store over HTTP with the quirks of real backends, each
//! switched on by the test: a `/ServiceProviderConfig` that claims PATCH
//! while PATCH answers 501, filters ignored (every list is the whole
//! collection), PATCH paths with a value filter refused, PATCH answered
//! 204 without a body. The store's state
//! is the truth the test checks against.
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use scim_gateway::store::{Store, StoreConfig};
use serde_json::Value;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default)]
pub struct Quirks {
    /// PATCH answers 501, but `/ServiceProviderConfig` says it is supported.
    pub lying_patch: bool,
    /// The `filter` query parameter is dropped before the store sees it.
    pub ignore_filter: bool,
    /// A PATCH whose body has a value-filter path (`[`) gets 400
    /// `invalidPath`.
    pub no_value_filter_patch: bool,
    /// No uniqueness check on create: a POST's `userName` (or Group
    /// `displayName`) gets a `~n` suffix before the store sees it, so every
    /// create makes a new resource (a backend that would make duplicates).
    pub no_uniqueness: bool,
    /// A User's `externalId` is unique too: a create whose `externalId` a
    /// stored User has gets 409 `uniqueness` (as many backends do).
    pub unique_external_id: bool,
    /// A POST waits this long before the store sees it (two creates
    /// overlap), and is made even if the client hangs up meanwhile.
    pub slow_create: Option<Duration>,
    /// A PATCH the store applied is answered 204 without a body (RFC 7644
    /// §3.5.2 allows it; some backends always do).
    pub patch_no_content: bool,
}

pub struct QuirkyStore {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl QuirkyStore {
    pub fn spawn(quirks: Quirks) -> QuirkyStore {
        let store = Arc::new(Store::new(StoreConfig {
            patch: !quirks.lying_patch,
            ..StoreConfig::default()
        }));
        let served = store.clone();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let (stream, _) = tokio::select! {
                        a = listener.accept() => a.unwrap(),
                        _ = &mut stop_rx => return,
                    };
                    let store = served.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                            let store = store.clone();
                            async move {
                                let (mut parts, incoming) = req.into_parts();
                                let body = http_body_util::BodyExt::collect(incoming)
                                    .await
                                    .map(|c| c.to_bytes())
                                    .unwrap_or_default();
                                let slow = quirks
                                    .slow_create
                                    .filter(|_| parts.method == http::Method::POST);
                                let Some(wait) = slow else {
                                    return Ok::<_, Infallible>(answer(
                                        &store, quirks, &mut parts, body,
                                    ));
                                };
                                // Made even when the client hangs up meanwhile
                                // (a backend commits what it received).
                                let made = tokio::spawn(async move {
                                    tokio::time::sleep(wait).await;
                                    answer(&store, quirks, &mut parts, body)
                                });
                                Ok(made.await.unwrap())
                            }
                        });
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
        });
        QuirkyStore {
            addr: addr_rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            store,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/scim/v2", self.addr)
    }
}

fn answer(
    store: &Store,
    quirks: Quirks,
    parts: &mut http::request::Parts,
    body: Bytes,
) -> hyper::Response<Full<Bytes>> {
    if quirks.ignore_filter {
        if let Some(q) = parts.uri.query() {
            let kept: Vec<&str> = q.split('&').filter(|p| !p.starts_with("filter=")).collect();
            let target = match kept.is_empty() {
                true => parts.uri.path().to_string(),
                false => format!("{}?{}", parts.uri.path(), kept.join("&")),
            };
            parts.uri = target.parse().unwrap();
        }
    }
    if quirks.no_value_filter_patch
        && parts.method == http::Method::PATCH
        && String::from_utf8_lossy(&body).contains("\"path\":\"emails[")
    {
        return json(
            400,
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidPath","detail":"value filters are not supported"}"#.into(),
        );
    }
    if quirks.unique_external_id
        && parts.method == http::Method::POST
        && parts.uri.path().ends_with("/Users")
        && external_id_taken(store, &body)
    {
        return json(
            409,
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"externalId is taken"}"#.into(),
        );
    }
    let body = match quirks.no_uniqueness && parts.method == http::Method::POST {
        true => suffixed(body),
        false => body,
    };
    let spc = parts.uri.path().ends_with("/ServiceProviderConfig");
    let resp = store.handle(&hyper::Request::from_parts(parts.clone(), body));
    let (head, bytes) = resp.into_parts();
    if spc && quirks.lying_patch {
        let mut doc: Value = serde_json::from_slice(&bytes).unwrap();
        doc["patch"]["supported"] = Value::Bool(true);
        return json(200, doc.to_string());
    }
    if quirks.patch_no_content && parts.method == http::Method::PATCH && head.status.is_success() {
        let mut r = hyper::Response::new(Full::new(Bytes::new()));
        *r.status_mut() = hyper::StatusCode::NO_CONTENT;
        return r;
    }
    hyper::Response::from_parts(head, Full::new(bytes))
}

/// Whether a stored User has the create's `externalId`.
fn external_id_taken(store: &Store, body: &Bytes) -> bool {
    let Some(wanted) = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|b| b["externalId"].as_str().map(str::to_string))
    else {
        return false;
    };
    let req = hyper::Request::builder()
        .uri("/scim/v2/Users")
        .body(Bytes::new())
        .unwrap();
    let list: Value = serde_json::from_slice(store.handle(&req).body()).unwrap_or_default();
    list["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|u| u["externalId"].as_str() == Some(wanted.as_str()))
}

/// The create's `userName` / `displayName` made unique (`~n`).
fn suffixed(body: Bytes) -> Bytes {
    static N: AtomicUsize = AtomicUsize::new(0);
    let Ok(mut doc) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let n = N.fetch_add(1, Ordering::Relaxed);
    for key in ["userName", "displayName"] {
        if let Some(Value::String(v)) = doc.get_mut(key) {
            v.push_str(&format!("~{n}"));
            break;
        }
    }
    Bytes::from(doc.to_string())
}

fn json(status: u16, body: String) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("content-type", "application/scim+json".parse().unwrap());
    r
}

impl Drop for QuirkyStore {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
