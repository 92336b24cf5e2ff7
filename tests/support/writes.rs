//! An upstream that notices overlapping writes: every PUT, PATCH or
//! DELETE of `/Users/{id}` or `/Groups/{id}` (and, if asked, every POST) stays inside the handler for
//! a while and records how many writes of that resource were inside at
//! once (the most ever seen, per resource). Answers 200 with a small
//! resource body.
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct State {
    inside: HashMap<String, usize>,
    most: HashMap<String, usize>,
    writes: usize,
}

pub struct WriteRecorder {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WriteRecorder {
    /// Each write stays `hold` inside the upstream.
    pub fn spawn(hold: Duration) -> WriteRecorder {
        WriteRecorder::spawn_holding(hold, false)
    }

    /// As [`WriteRecorder::spawn`]; with `creates`, a POST is a write too.
    pub fn spawn_holding(hold: Duration, creates: bool) -> WriteRecorder {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
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
                    let state = shared.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                            let state = state.clone();
                            async move {
                                let write = matches!(
                                    *req.method(),
                                    hyper::Method::PUT | hyper::Method::PATCH | hyper::Method::DELETE
                                ) || (creates && *req.method() == hyper::Method::POST);
                                let resource = req.uri().path().to_string();
                                if write {
                                    {
                                        let mut s = state.lock().unwrap();
                                        s.writes += 1;
                                        let n = s.inside.entry(resource.clone()).or_default();
                                        *n += 1;
                                        let now = *n;
                                        let most = s.most.entry(resource.clone()).or_default();
                                        *most = (*most).max(now);
                                    }
                                    tokio::time::sleep(hold).await;
                                    let mut s = state.lock().unwrap();
                                    if let Some(n) = s.inside.get_mut(&resource) {
                                        *n -= 1;
                                    }
                                }
                                let mut resp = hyper::Response::new(Full::new(Bytes::from_static(
                                    br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"g"}"#,
                                )));
                                resp.headers_mut()
                                    .insert("content-type", "application/scim+json".parse().unwrap());
                                Ok::<_, Infallible>(resp)
                            }
                        });
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
        });
        WriteRecorder {
            addr: addr_rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/scim/v2", self.addr)
    }

    /// The most writes of any one resource seen inside at once.
    pub fn max_overlap(&self) -> usize {
        self.state
            .lock()
            .unwrap()
            .most
            .values()
            .copied()
            .max()
            .unwrap_or(0)
    }

    /// Writes received.
    pub fn writes(&self) -> usize {
        self.state.lock().unwrap().writes
    }

    /// Waits (at most `within`) until `n` writes were received; returns
    /// how many there are then.
    pub async fn wait_for_writes(&self, n: usize, within: Duration) -> usize {
        let deadline = std::time::Instant::now() + within;
        while self.writes() < n && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.writes()
    }

    /// Forgets what was seen.
    pub fn reset(&self) {
        *self.state.lock().unwrap() = State::default();
    }
}

impl Drop for WriteRecorder {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
