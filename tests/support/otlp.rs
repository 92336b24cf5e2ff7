//! An OTLP/HTTP trace receiver on 127.0.0.1: takes `POST /v1/traces`
//! (protobuf), decodes each body with the OpenTelemetry project's own
//! generated types (`opentelemetry-proto`), and keeps every span and every
//! raw body for the tests to read.
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the receiver got.
#[derive(Default)]
struct Received {
    /// Every export request, decoded.
    requests: Vec<ExportTraceServiceRequest>,
    /// Every body as sent.
    bodies: Vec<Vec<u8>>,
}

pub struct OtlpReceiver {
    pub addr: SocketAddr,
    received: Arc<Mutex<Received>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OtlpReceiver {
    pub fn spawn() -> OtlpReceiver {
        let received = Arc::new(Mutex::new(Received::default()));
        let store = received.clone();
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
                    let store = store.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                            let store = store.clone();
                            async move {
                                let ok = req.method() == hyper::Method::POST
                                    && req.uri().path() == "/v1/traces"
                                    && req.headers().get("content-type").map(|v| v.as_bytes())
                                        == Some(b"application/x-protobuf");
                                let body = req.into_body().collect().await.unwrap().to_bytes();
                                let decoded = ExportTraceServiceRequest::decode(body.as_ref());
                                let status = match (ok, decoded) {
                                    (true, Ok(decoded)) => {
                                        let mut r = store.lock().unwrap();
                                        r.requests.push(decoded);
                                        r.bodies.push(body.to_vec());
                                        200
                                    }
                                    _ => 400,
                                };
                                let mut resp = hyper::Response::new(Full::new(Bytes::new()));
                                *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                                resp.headers_mut().insert(
                                    "content-type",
                                    "application/x-protobuf".parse().unwrap(),
                                );
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
        OtlpReceiver {
            addr: addr_rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            received,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// The endpoint for `[telemetry.traces] endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    /// Every span received so far, with its resource's `service.name`.
    pub fn spans(&self) -> Vec<Span> {
        let r = self.received.lock().unwrap();
        r.requests
            .iter()
            .flat_map(|req| req.resource_spans.iter())
            .flat_map(|rs| rs.scope_spans.iter())
            .flat_map(|ss| ss.spans.iter().cloned())
            .collect()
    }

    /// The `service.name` of every resource received.
    pub fn service_names(&self) -> Vec<String> {
        let r = self.received.lock().unwrap();
        r.requests
            .iter()
            .flat_map(|req| req.resource_spans.iter())
            .filter_map(|rs| rs.resource.as_ref())
            .flat_map(|res| res.attributes.iter())
            .filter(|kv| kv.key == "service.name")
            .filter_map(|kv| string(kv.value.as_ref()))
            .collect()
    }

    /// Every body received, as sent (for searching for what must never
    /// be exported).
    pub fn raw_bodies(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().bodies.clone()
    }

    /// Waits (at most 10 s) until the spans of trace `trace_id` include a
    /// root span (kind SERVER) and `count` spans in all at least.
    pub async fn wait_for_trace(&self, trace_id: &[u8], count: usize) -> Vec<Span> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let spans: Vec<Span> = self
                .spans()
                .into_iter()
                .filter(|s| s.trace_id == trace_id)
                .collect();
            if spans.len() >= count && spans.iter().any(|s| s.kind == 2) {
                return spans;
            }
            assert!(
                Instant::now() < until,
                "trace {} not received; spans so far: {:?}",
                hex(trace_id),
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A string attribute's value.
pub fn string(value: Option<&AnyValue>) -> Option<String> {
    match value?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

/// An attribute of a span, as text (`None`: absent).
pub fn attribute(span: &Span, key: &str) -> Option<String> {
    let kv = span.attributes.iter().find(|kv| kv.key == key)?;
    match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(n) => Some(n.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        other => Some(format!("{other:?}")),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The trace as a tree, one span a line, children indented under their
/// parent, with kind, duration, status and attributes.
pub fn render(spans: &[Span]) -> String {
    fn walk(spans: &[Span], parent: &[u8], depth: usize, out: &mut String) {
        let mut children: Vec<&Span> = spans
            .iter()
            .filter(|s| s.parent_span_id == parent)
            .collect();
        children.sort_by_key(|s| s.start_time_unix_nano);
        for s in children {
            let kind = match s.kind {
                1 => "internal",
                2 => "server",
                3 => "client",
                _ => "?",
            };
            let micros = s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano) / 1000;
            let status = match s.status.as_ref().map(|st| st.code) {
                Some(2) => " ERROR",
                _ => "",
            };
            let attrs: Vec<String> = s
                .attributes
                .iter()
                .map(|kv| format!("{}={}", kv.key, attribute(s, &kv.key).unwrap_or_default()))
                .collect();
            out.push_str(&format!(
                "{}{} [{kind}] span={} {micros}µs{status} {}\n",
                "  ".repeat(depth),
                s.name,
                hex(&s.span_id),
                attrs.join(" ")
            ));
            walk(spans, &s.span_id, depth + 1, out);
        }
    }
    let mut out = String::new();
    // Roots: spans whose parent is not in the set (the caller's, or none).
    let ids: Vec<&[u8]> = spans.iter().map(|s| s.span_id.as_slice()).collect();
    if let Some(root) = spans
        .iter()
        .find(|s| !ids.contains(&s.parent_span_id.as_slice()))
    {
        out.push_str(&format!(
            "trace {} (parent {})\n",
            hex(&root.trace_id),
            if root.parent_span_id.is_empty() {
                "none".into()
            } else {
                hex(&root.parent_span_id)
            }
        ));
        walk(spans, &root.parent_span_id, 0, &mut out);
    }
    out
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
