//! A real upstream that records what it receives: the built-in store (with
//! any schema registry) served over HTTP on 127.0.0.1, every request kept
//! as (method, path and query, JSON body) for the test to inspect.
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use scim_gateway::scim::schema::SchemaRegistry;
use scim_gateway::store::{Store, StoreConfig};
use serde_json::Value;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, e.g. `/scim/v2/Users?filter=...`.
    pub target: String,
    /// The JSON body (`Null` when there was none).
    pub body: Value,
}

pub struct RecordingStore {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RecordingStore {
    pub fn spawn(registry: SchemaRegistry) -> RecordingStore {
        RecordingStore::spawn_with(StoreConfig::default(), registry)
    }

    /// A recording store with `config` (PATCH switched off, say).
    pub fn spawn_with(config: StoreConfig, registry: SchemaRegistry) -> RecordingStore {
        let store = Arc::new(Store::with_registry(config, registry));
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
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
                    let (store, seen) = (store.clone(), seen.clone());
                    tokio::spawn(async move {
                        let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                            let (store, seen) = (store.clone(), seen.clone());
                            async move {
                                let (parts, incoming) = req.into_parts();
                                let body = http_body_util::BodyExt::collect(incoming)
                                    .await
                                    .map(|c| c.to_bytes())
                                    .unwrap_or_default();
                                seen.lock().unwrap().push(Recorded {
                                    method: parts.method.to_string(),
                                    target: parts
                                        .uri
                                        .path_and_query()
                                        .map(|p| p.to_string())
                                        .unwrap_or_default(),
                                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                                });
                                let resp = store.handle(&hyper::Request::from_parts(parts, body));
                                let (parts, body) = resp.into_parts();
                                Ok::<_, Infallible>(hyper::Response::from_parts(
                                    parts,
                                    Full::new(body),
                                ))
                            }
                        });
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
        });
        RecordingStore {
            addr: addr_rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            log,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/scim/v2", self.addr)
    }

    /// Everything received since the last call.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Drop for RecordingStore {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The legacy backend of the mapped tests (`tests/fixtures/mapping`): the
/// built-in store without PATCH and with its own User extension,
/// recording what it receives.
pub fn legacy_backend() -> RecordingStore {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mapping");
    let mut registry = SchemaRegistry::builtin();
    registry.load_schema_dir(&fixtures).unwrap();
    registry
        .extend_resource_type("User", "urn:example:legacy:2.0:User", false)
        .unwrap();
    let config = StoreConfig {
        patch: false,
        ..Default::default()
    };
    RecordingStore::spawn_with(config, registry)
}
