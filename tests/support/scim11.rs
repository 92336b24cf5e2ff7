//! A strict SCIM 1.1 service (simplecloud.info "SCIM 1.1 API"), in memory,
//! over real HTTP on 127.0.0.1: core schema `urn:scim:schemas:core:1.0`,
//! bare lists, `{"Errors": [...]}` errors, PATCH as a partial resource
//! (multi-valued attributes merged by `value`, `"operation": "delete"`,
//! `meta.attributes` removals), versions checked by `If-Match`. A SCIM 2.0
//! body is refused, so a test sees any translation the gateway missed.
//! Every request is recorded.
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CORE: &str = "urn:scim:schemas:core:1.0";
const MULTI: &[&str] = &[
    "emails",
    "phoneNumbers",
    "addresses",
    "groups",
    "members",
    "roles",
];

/// One request as received: method, path and query, `If-Match`, body.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub if_match: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    /// (endpoint, id) → resource
    resources: BTreeMap<(String, String), Value>,
    next: u64,
    seen: Vec<Seen>,
}

pub struct Scim11Service {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Scim11Service {
    pub fn spawn() -> Scim11Service {
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
                let addr = listener.local_addr().unwrap();
                addr_tx.send(addr).unwrap();
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
                                let (parts, incoming) = req.into_parts();
                                let body = http_body_util::BodyExt::collect(incoming)
                                    .await
                                    .map(|c| c.to_bytes())
                                    .unwrap_or_default();
                                let (status, out) = handle(&state, addr, &parts, &body);
                                let mut resp = hyper::Response::new(Full::new(Bytes::from(
                                    out.map(|v| v.to_string()).unwrap_or_default(),
                                )));
                                *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                                resp.headers_mut()
                                    .insert("content-type", "application/json".parse().unwrap());
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
        Scim11Service {
            addr: addr_rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Every request since the last call.
    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut self.state.lock().unwrap().seen)
    }
}

impl Drop for Scim11Service {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn error(status: u16, description: &str) -> (u16, Option<Value>) {
    (
        status,
        Some(json!({"Errors": [{"description": description, "code": status.to_string()}]})),
    )
}

fn handle(
    state: &Mutex<State>,
    addr: SocketAddr,
    parts: &http::request::Parts,
    body: &[u8],
) -> (u16, Option<Value>) {
    let mut st = state.lock().unwrap();
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let if_match = parts
        .headers
        .get("if-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    st.seen.push(Seen {
        method: parts.method.to_string(),
        target: parts.uri.to_string(),
        if_match: if_match.clone(),
        body: body.clone(),
    });
    if body.to_string().contains("urn:ietf:params:scim") {
        return error(400, "unknown schema: this service speaks SCIM 1.1");
    }
    let path = parts.uri.path().trim_start_matches("/v1");
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(endpoint) = segs.first().map(|s| s.to_string()) else {
        return error(404, "no resource");
    };
    if endpoint != "Users" && endpoint != "Groups" {
        return error(404, "no such endpoint");
    }
    match (parts.method.as_str(), segs.get(1)) {
        ("POST", None) => {
            st.next += 1;
            let id = format!("{}{}", &endpoint[..1].to_lowercase(), st.next);
            let mut r = body;
            stamp(&mut r, &id, &endpoint, addr, 1);
            st.resources.insert((endpoint, id), r.clone());
            (201, Some(r))
        }
        ("GET", None) => {
            let query = parts.uri.query().unwrap_or("");
            let filter = query
                .split('&')
                .find_map(|p| p.strip_prefix("filter="))
                .map(|f| f.replace("%20", " ").replace("%22", "\"").replace('+', " "));
            let items: Vec<Value> = st
                .resources
                .iter()
                .filter(|((e, _), _)| *e == endpoint)
                .map(|(_, r)| r.clone())
                .filter(
                    |r| match filter.as_deref().and_then(|f| f.split_once(" eq ")) {
                        Some((attr, v)) => {
                            r.get(attr).and_then(Value::as_str) == Some(v.trim_matches('"'))
                        }
                        None => true,
                    },
                )
                .collect();
            (
                200,
                Some(
                    json!({"totalResults": items.len(), "itemsPerPage": items.len(), "startIndex": 1, "schemas": [CORE], "Resources": items}),
                ),
            )
        }
        (method, Some(id)) => {
            let key = (endpoint.clone(), id.to_string());
            let Some(current) = st.resources.get(&key).cloned() else {
                return error(404, &format!("Resource {id} not found"));
            };
            let version = current["meta"]["version"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if matches!(method, "PUT" | "PATCH" | "DELETE")
                && if_match.as_deref().is_some_and(|m| m != version)
            {
                return error(412, "the resource was changed by someone else");
            }
            let n = current["meta"]["version"]
                .as_str()
                .and_then(|v| {
                    v.trim_start_matches("W/\"")
                        .trim_end_matches('"')
                        .parse::<u64>()
                        .ok()
                })
                .unwrap_or(1);
            match method {
                "GET" => (200, Some(current)),
                "DELETE" => {
                    st.resources.remove(&key);
                    (200, None)
                }
                "PUT" => {
                    let mut r = body;
                    stamp(&mut r, id, &endpoint, addr, n + 1);
                    st.resources.insert(key, r.clone());
                    (200, Some(r))
                }
                "PATCH" => {
                    let mut r = patch11(current, &body);
                    stamp(&mut r, id, &endpoint, addr, n + 1);
                    st.resources.insert(key, r.clone());
                    (200, Some(r))
                }
                _ => error(405, "method not allowed"),
            }
        }
        _ => error(405, "method not allowed"),
    }
}

fn stamp(r: &mut Value, id: &str, endpoint: &str, addr: SocketAddr, version: u64) {
    let Some(o) = r.as_object_mut() else {
        return;
    };
    o.insert("id".into(), json!(id));
    o.insert(
        "meta".into(),
        json!({"created": "2026-11-23T10:00:00Z", "lastModified": "2026-11-23T10:00:00Z",
               "version": format!("W/\"{version}\""),
               "location": format!("http://{addr}/v1/{endpoint}/{id}")}),
    );
}

/// SCIM 1.1 PATCH: a partial resource merged in.
fn patch11(mut current: Value, body: &Value) -> Value {
    let Some(cur) = current.as_object_mut() else {
        return current;
    };
    if let Some(attrs) = body.pointer("/meta/attributes").and_then(Value::as_array) {
        for a in attrs.iter().filter_map(Value::as_str) {
            cur.remove(a);
        }
    }
    let Some(changes) = body.as_object() else {
        return current;
    };
    for (k, v) in changes {
        if k == "schemas" || k == "meta" {
            continue;
        }
        match (MULTI.contains(&k.as_str()), v) {
            (true, Value::Array(items)) => {
                let list = cur.entry(k.clone()).or_insert_with(|| json!([]));
                let Some(list) = list.as_array_mut() else {
                    continue;
                };
                for item in items {
                    let value = item.get("value").cloned();
                    list.retain(|e| e.get("value") != value.as_ref() || value.is_none());
                    if item.get("operation").and_then(Value::as_str) != Some("delete") {
                        list.push(item.clone());
                    }
                }
                if list.is_empty() {
                    cur.remove(k);
                }
            }
            (_, Value::Object(sub)) if cur.get(k).is_some_and(Value::is_object) => {
                let mut merged: Map<String, Value> =
                    cur[k].as_object().cloned().unwrap_or_default();
                merged.extend(sub.clone());
                cur.insert(k.clone(), Value::Object(merged));
            }
            _ => {
                cur.insert(k.clone(), v.clone());
            }
        }
    }
    current
}
