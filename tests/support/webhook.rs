//! A real webhook receiver on 127.0.0.1:0: verifies Standard Webhooks
//! signatures with its own implementation of the spec's algorithm (not
//! the gateway's), records accepted events, and can be told to fail with
//! a status, hang, or be down (listener closed, open connections cut).
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 204 for a correctly signed event (401 for a bad signature).
    Accept,
    /// This status, event not recorded.
    Fail(u16),
    /// No answer for this long, then 503.
    Hang(Duration),
    /// No answer for this long, then as `Accept`.
    Slow(Duration),
}

/// One accepted delivery.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub content_type: String,
    /// The `traceparent` header ("" when absent).
    pub traceparent: String,
    pub body: Value,
}

struct State {
    secrets: Vec<String>,
    mode: Mode,
    received: Vec<Received>,
    attempts: usize,
    /// The `webhook-id` of every request, whatever the answer.
    tried: Vec<String>,
    bad_signatures: usize,
    /// TCP connections accepted.
    connections: usize,
    /// The `subject` of each event being answered right now.
    in_flight: Vec<String>,
    /// The most requests answered at once.
    most_in_flight: usize,
    /// Requests for a subject that had a request in flight already.
    overlaps: usize,
    /// Events of this subject are answered 503 this many more times.
    fail_subject: Option<(String, usize)>,
}

pub struct WebhookReceiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    up: tokio::sync::watch::Sender<bool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A fresh `whsec_` secret (32 bytes derived from `seed`).
pub fn secret(seed: u8) -> String {
    let key: Vec<u8> = (0..32u8)
        .map(|i| i.wrapping_mul(31).wrapping_add(seed))
        .collect();
    format!("whsec_{}", STANDARD.encode(key))
}

/// Standard Webhooks verification, written from the spec: the key is the
/// base64 after `whsec_`; the signed content is `{id}.{timestamp}.{body}`;
/// the header holds space-separated `v1,<base64 HMAC-SHA256>` entries, any
/// of which may match (compared in constant time by `ring::hmac::verify`).
pub fn verify(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|b| STANDARD.decode(b).ok())
    else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let signed = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body].concat();
    header.split(' ').any(|entry| {
        entry
            .strip_prefix("v1,")
            .and_then(|b| STANDARD.decode(b).ok())
            .is_some_and(|tag| ring::hmac::verify(&key, &signed, &tag).is_ok())
    })
}

impl WebhookReceiver {
    /// Starts a receiver that accepts events signed with any of `secrets`.
    pub fn spawn(secrets: &[&str]) -> WebhookReceiver {
        let state = Arc::new(Mutex::new(State {
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
            mode: Mode::Accept,
            received: Vec::new(),
            attempts: 0,
            tried: Vec::new(),
            bad_signatures: 0,
            connections: 0,
            in_flight: Vec::new(),
            most_in_flight: 0,
            overlaps: 0,
            fail_subject: None,
        }));
        let shared = state.clone();
        let (up, mut up_rx) = tokio::sync::watch::channel(true);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut listener =
                    Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
                let addr = listener.as_ref().unwrap().local_addr().unwrap();
                addr_tx.send(addr).unwrap();
                let mut conns = tokio::task::JoinSet::new();
                loop {
                    match &listener {
                        Some(l) => tokio::select! {
                            a = l.accept() => {
                                let Ok((stream, _)) = a else { continue };
                                shared.lock().unwrap().connections += 1;
                                let state = shared.clone();
                                conns.spawn(serve(stream, state));
                            }
                            _ = up_rx.changed() => {
                                if !*up_rx.borrow() {
                                    // Down: no listener, no open connection.
                                    listener = None;
                                    conns.abort_all();
                                }
                            }
                            _ = &mut stop_rx => return,
                        },
                        None => tokio::select! {
                            _ = up_rx.changed() => {
                                if *up_rx.borrow() {
                                    listener = Some(bind_again(addr).await);
                                }
                            }
                            _ = &mut stop_rx => return,
                        },
                    }
                }
            });
        });
        WebhookReceiver {
            addr: addr_rx.recv().unwrap(),
            state,
            up,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks/scim", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// Closes the listener and cuts open connections.
    pub fn down(&self) {
        self.up.send_replace(false);
    }

    /// Listens again on the same port.
    pub fn up(&self) {
        self.up.send_replace(true);
    }

    /// Accepted deliveries in arrival order (duplicates included).
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Requests seen, whatever the answer.
    pub fn attempts(&self) -> usize {
        self.state.lock().unwrap().attempts
    }

    /// The `webhook-id` of every request so far, in arrival order.
    pub fn tried(&self) -> Vec<String> {
        self.state.lock().unwrap().tried.clone()
    }

    pub fn bad_signatures(&self) -> usize {
        self.state.lock().unwrap().bad_signatures
    }

    /// The most requests answered at once so far.
    pub fn most_in_flight(&self) -> usize {
        self.state.lock().unwrap().most_in_flight
    }

    /// Requests that arrived while one for the same `subject` was being
    /// answered.
    pub fn overlaps(&self) -> usize {
        self.state.lock().unwrap().overlaps
    }

    /// Answers the next `times` requests for events of `subject` with 503
    /// (whatever the mode).
    pub fn fail_subject(&self, subject: &str, times: usize) {
        self.state.lock().unwrap().fail_subject = Some((subject.to_string(), times));
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    /// Waits until `n` distinct event ids were accepted (panics after
    /// `within`); returns every accepted delivery.
    pub async fn wait_for_distinct(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            let mut ids: Vec<&str> = received.iter().map(|r| r.id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            if ids.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} events arrived within {within:?}",
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn bind_again(addr: SocketAddr) -> tokio::net::TcpListener {
    for _ in 0..100 {
        if let Ok(l) = tokio::net::TcpListener::bind(addr).await {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("cannot listen on {addr} again");
}

async fn serve(stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) {
    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let state = state.clone();
        async move {
            let header = |name: &str| {
                req.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            let (id, timestamp, signature, content_type) = (
                header("webhook-id"),
                header("webhook-timestamp"),
                header("webhook-signature"),
                header("content-type"),
            );
            let traceparent = header("traceparent");
            let mode = {
                let mut s = state.lock().unwrap();
                s.attempts += 1;
                s.tried.push(id.clone());
                s.mode
            };
            let body = req
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let subject = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|b| b["subject"].as_str().map(str::to_string))
                .unwrap_or_default();
            let failing = {
                let mut s = state.lock().unwrap();
                if s.in_flight.contains(&subject) {
                    s.overlaps += 1;
                }
                s.in_flight.push(subject.clone());
                s.most_in_flight = s.most_in_flight.max(s.in_flight.len());
                match &mut s.fail_subject {
                    Some((failing, left)) if *failing == subject && *left > 0 => {
                        *left -= 1;
                        true
                    }
                    _ => false,
                }
            };
            let mode = match mode {
                _ if failing => Mode::Fail(503),
                Mode::Slow(d) => {
                    tokio::time::sleep(d).await;
                    Mode::Accept
                }
                other => other,
            };
            let status = match mode {
                Mode::Fail(status) => status,
                Mode::Hang(d) => {
                    tokio::time::sleep(d).await;
                    503
                }
                Mode::Slow(_) | Mode::Accept => {
                    let mut s = state.lock().unwrap();
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_secs();
                    let fresh = timestamp
                        .parse::<u64>()
                        .is_ok_and(|t| t.abs_diff(now) <= 300);
                    let signed = s
                        .secrets
                        .iter()
                        .any(|k| verify(k, &id, &timestamp, &body, &signature));
                    if fresh && signed {
                        s.received.push(Received {
                            id,
                            timestamp,
                            content_type,
                            traceparent,
                            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                        });
                        204
                    } else {
                        s.bad_signatures += 1;
                        401
                    }
                }
            };
            {
                let mut s = state.lock().unwrap();
                if let Some(i) = s.in_flight.iter().position(|x| *x == subject) {
                    s.in_flight.remove(i);
                }
            }
            let mut resp = hyper::Response::new(Full::new(Bytes::new()));
            *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
            Ok::<_, Infallible>(resp)
        }
    });
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A gateway whose tenant `tenant` (host `{tenant}.localhost`, in front
/// of the built-in store) sends its change events to `receiver`, signed
/// with `key` (read from a secret file), polling and retrying fast; `extra`
/// adds keys to the webhook's table (`max_batch = 4\n`, ...).
pub fn gateway_for(
    receiver: &WebhookReceiver,
    key: &str,
    tenant: &str,
    extra: &str,
) -> super::gateway::TestGateway {
    let dir = std::env::temp_dir().join(format!(
        "scimgw-webhook-{tenant}-{}-{}",
        std::process::id(),
        receiver.addr.port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("hook.secret");
    std::fs::write(&secret_file, key).unwrap();
    super::gateway::TestGateway::builder()
        .builtin("store")
        .raw_upstream("[events]\npoll_interval = \"20ms\"\n")
        .tenant_with(
            tenant,
            &[&format!("{tenant}.localhost")],
            "store",
            &format!(
                "[[tenants.webhooks]]\nname = \"main\"\nurl = \"{}\"\nsecret_file = [\"{}\"]\ninitial_backoff = \"50ms\"\nmax_backoff = \"200ms\"\n{extra}",
                receiver.url(),
                secret_file.display(),
            ),
        )
        .spawn()
}
