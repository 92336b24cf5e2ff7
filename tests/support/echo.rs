//! A tiny real upstream: answers every request with a SCIM-looking JSON
//! body describing what it received (method, path, headers, body); `/slow`
//! paths wait 3 s first.
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct EchoUpstream {
    pub addr: SocketAddr,
    /// Requests received so far.
    pub hits: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EchoUpstream {
    pub fn spawn() -> EchoUpstream {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
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
                    let counter = counter.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                            counter.fetch_add(1, Ordering::SeqCst);
                            async move {
                            if req.uri().path().contains("/slow") {
                                tokio::time::sleep(Duration::from_secs(3)).await;
                            }
                            let (parts, incoming) = req.into_parts();
                            let received = http_body_util::BodyExt::collect(incoming)
                                .await
                                .map(|c| c.to_bytes())
                                .unwrap_or_default();
                            let received: Value = serde_json::from_slice(&received)
                                .unwrap_or_else(|_| json!(String::from_utf8_lossy(&received)));
                            let req = hyper::Request::from_parts(parts, ());
                            let headers: serde_json::Map<String, Value> = req
                                .headers()
                                .iter()
                                .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
                                .collect();
                            let host = req.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("").to_string();
                            let body = json!({
                                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                "id": "echo",
                                "method": req.method().as_str(),
                                "uri": req.uri().to_string(),
                                "headers": headers,
                                "body": received,
                                "meta": {"location": format!("http://{host}/scim/v2/Users/echo")}
                            });
                            let mut resp = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
                            resp.headers_mut().insert("content-type", "application/scim+json".parse().unwrap());
                            resp.headers_mut()
                                .insert("location", format!("http://{host}/scim/v2/Users/echo").parse().unwrap());
                            Ok::<_, Infallible>(resp)
                        }});
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            });
        });
        EchoUpstream {
            addr: addr_rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            hits,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        format!("http://{}/scim/v2", self.addr)
    }
}

impl Drop for EchoUpstream {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
