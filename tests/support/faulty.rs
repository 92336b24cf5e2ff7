//! A deliberately faulty upstream: answers each request by the next step
//! of a script the test sets (a status with an optional `Retry-After`, a
//! connection reset, a hang), then with 200 once the script is used up.
//! Counts every request it receives.
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    Status(u16),
    /// 429 with `Retry-After: n`.
    TooMany(u64),
    /// The connection is closed without an answer.
    Reset,
    /// No answer for this long.
    Hang(Duration),
}

#[derive(Default)]
struct State {
    script: VecDeque<Fault>,
    always: Option<Fault>,
    hits: usize,
}

pub struct FaultyUpstream {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultyUpstream {
    pub fn spawn() -> FaultyUpstream {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
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
                    let state = shared.clone();
                    tokio::spawn(async move {
                        // Decide before reading: a reset closes at once.
                        let svc = service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
                            let state = state.clone();
                            async move {
                                let fault = {
                                    let mut s = state.lock().unwrap();
                                    s.hits += 1;
                                    s.script.pop_front().or(s.always)
                                };
                                let mut resp = hyper::Response::new(Full::new(Bytes::from_static(
                                    br#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"f1","userName":"faulty"}"#,
                                )));
                                resp.headers_mut().insert(
                                    "content-type",
                                    "application/scim+json".parse().unwrap(),
                                );
                                match fault {
                                    None => {}
                                    Some(Fault::Status(s)) => {
                                        *resp.status_mut() = hyper::StatusCode::from_u16(s).unwrap();
                                    }
                                    Some(Fault::TooMany(after)) => {
                                        *resp.status_mut() = hyper::StatusCode::TOO_MANY_REQUESTS;
                                        resp.headers_mut()
                                            .insert("retry-after", after.to_string().parse().unwrap());
                                    }
                                    Some(Fault::Hang(d)) => tokio::time::sleep(d).await,
                                    Some(Fault::Reset) => return Err("reset"),
                                }
                                Ok::<_, &'static str>(resp)
                            }
                        });
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
        });
        FaultyUpstream {
            addr: addr_rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/scim/v2", self.addr)
    }

    /// The next requests get these faults, in order.
    pub fn script(&self, faults: &[Fault]) {
        self.state.lock().unwrap().script = faults.iter().copied().collect();
    }

    /// Every request (after the script) gets this fault; `None`: 200.
    pub fn always(&self, fault: Option<Fault>) {
        self.state.lock().unwrap().always = fault;
    }

    pub fn hits(&self) -> usize {
        self.state.lock().unwrap().hits
    }
}

impl Drop for FaultyUpstream {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[allow(dead_code)]
fn _assert_infallible(_: Infallible) {}
