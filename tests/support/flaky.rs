//! A real upstream with faults: the built-in store over HTTP, where a
//! deterministic share of requests fails before the store sees them (503,
//! 502, 429 with `Retry-After: 0`, a connection reset). The store's state
//! is the truth a test checks what the client was told against.
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use scim_gateway::store::Store;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts of what the upstream did.
#[derive(Debug, Default)]
pub struct FlakyCounts {
    pub received: AtomicU64,
    pub faulted: AtomicU64,
}

pub struct FlakyStore {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    pub counts: Arc<FlakyCounts>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FlakyStore {
    /// `fault_percent` of requests (0–100) fail, spread over the fault
    /// kinds by a fixed pseudo-random sequence (the same run every time).
    pub fn spawn(fault_percent: u64) -> FlakyStore {
        let store = Arc::new(Store::new(Default::default()));
        let counts = Arc::new(FlakyCounts::default());
        let (served, seen) = (store.clone(), counts.clone());
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
                    let (store, seen) = (served.clone(), seen.clone());
                    tokio::spawn(async move {
                        let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                            let (store, seen) = (store.clone(), seen.clone());
                            async move {
                                let n = seen.received.fetch_add(1, Ordering::SeqCst);
                                let (parts, incoming) = req.into_parts();
                                let body = http_body_util::BodyExt::collect(incoming)
                                    .await
                                    .map(|c| c.to_bytes())
                                    .unwrap_or_default();
                                // splitmix64 of the request number: a fixed sequence.
                                let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
                                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                                z ^= z >> 31;
                                if z % 100 < fault_percent {
                                    seen.faulted.fetch_add(1, Ordering::SeqCst);
                                    let answer = |status: u16| {
                                        let mut r = hyper::Response::new(Full::new(
                                            Bytes::from_static(b"{}"),
                                        ));
                                        *r.status_mut() =
                                            hyper::StatusCode::from_u16(status).unwrap();
                                        r
                                    };
                                    return match (z / 100) % 4 {
                                        0 => Ok(answer(503)),
                                        1 => Ok(answer(502)),
                                        2 => {
                                            let mut r = answer(429);
                                            r.headers_mut()
                                                .insert("retry-after", "0".parse().unwrap());
                                            Ok(r)
                                        }
                                        _ => Err("reset"),
                                    };
                                }
                                let resp = store.handle(&hyper::Request::from_parts(parts, body));
                                let (parts, body) = resp.into_parts();
                                Ok::<_, &'static str>(hyper::Response::from_parts(
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
        FlakyStore {
            addr: addr_rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            store,
            counts,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/scim/v2", self.addr)
    }
}

impl Drop for FlakyStore {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
