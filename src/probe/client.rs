//! The probe's HTTP side: one call at a time through the gateway's own
//! upstream client ([`crate::upstream::send`]: the upstream's credential,
//! TLS settings and timeouts, no emulation), each bounded by the probe's
//! per-request timeout, every request recorded (and, with `--dry-run`,
//! only recorded).
use crate::request_id::RequestId;
use crate::upstream::Upstream;
use crate::upstream::{self, Deadline, UpstreamRequest};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The largest answer the probe reads (discovery documents and small lists).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// The SCIM media type (RFC 7644 §3.1).
pub(super) const SCIM_JSON: &str = "application/scim+json";

/// An upstream's answer, as far as the checks need it.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status; 0 when nothing came back (connection failure,
    /// timeout) or nothing was sent (`--dry-run`).
    pub status: u16,
    pub etag: Option<String>,
    /// The parsed JSON body; `Null` when empty or not JSON.
    pub body: Value,
    /// Why nothing came back, or the start of a non-JSON body.
    pub note: Option<String>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A string member of the body.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    /// `status N` plus the SCIM error detail or transport note, for a
    /// check's detail column.
    pub fn describe(&self) -> String {
        if self.status == 0 {
            return self.note.clone().unwrap_or_else(|| "no answer".into());
        }
        match self.str("detail").or(self.note.as_deref()) {
            Some(d) => format!("{} ({})", self.status, shorten(d, 80)),
            None => self.status.to_string(),
        }
    }
}

/// `s` cut to `n` characters.
pub(super) fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

/// Sends the probe's requests to one upstream.
pub struct Client {
    upstream: Arc<Upstream>,
    timeout: Duration,
    dry_run: bool,
    /// Every request, as `METHOD /path?query`, in order.
    log: Mutex<Vec<String>>,
    /// Counter for the ids a dry run makes up.
    dry_ids: Mutex<u32>,
    /// Requests that got an HTTP answer (any status).
    answered: std::sync::atomic::AtomicUsize,
}

impl Client {
    pub fn new(upstream: Arc<Upstream>, timeout: Duration, dry_run: bool) -> Client {
        Client {
            upstream,
            timeout,
            dry_run,
            log: Mutex::new(Vec::new()),
            dry_ids: Mutex::new(0),
            answered: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// How many requests got an HTTP answer.
    pub fn answered(&self) -> usize {
        self.answered.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The requests made so far.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub async fn get(&self, path: &str, query: Option<&str>) -> Reply {
        self.call(Method::GET, path, query, None, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, None, Some(body), None).await
    }

    pub async fn put(&self, path: &str, body: &Value, if_match: Option<&str>) -> Reply {
        self.call(Method::PUT, path, None, Some(body), if_match)
            .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::PATCH, path, None, Some(body), None).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None, None, None).await
    }

    /// One request. `path` is relative to the upstream's base URL
    /// (`/Users/1`); `query` is already percent-encoded.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: Option<&str>,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Reply {
        let line = match query {
            Some(q) => format!("{method} {path}?{q}"),
            None => format!("{method} {path}"),
        };
        if let Ok(mut log) = self.log.lock() {
            log.push(line);
        }
        if self.dry_run {
            return self.dry_reply(&method, body);
        }
        let mut headers = HeaderMap::new();
        headers.insert(http::header::ACCEPT, HeaderValue::from_static(SCIM_JSON));
        if body.is_some() {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(SCIM_JSON),
            );
        }
        if let Some(v) = if_match.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(http::header::IF_MATCH, v);
        }
        let req = UpstreamRequest {
            method,
            path: path.to_string(),
            query: query.map(str::to_string),
            headers,
            body: body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string())),
            request_id: RequestId::generate(),
            client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            forwarded_for: None,
            client_proto: "http",
            client_host: "scim-gateway-probe".into(),
            public_base: None,
            // The probe sees the upstream as it is: no dialect.
            filtered_upsert: false,
        };
        let deadline = Deadline {
            at: tokio::time::Instant::now() + self.timeout,
            within: self.timeout,
        };
        let sent = upstream::send(&self.upstream, req, MAX_BODY, deadline);
        match tokio::time::timeout(self.timeout, sent).await {
            Err(_) => transport(format!(
                "no answer within {}",
                humantime::format_duration(self.timeout)
            )),
            // The operator runs the probe: the internal cause (refused
            // connection, TLS failure) is theirs to see.
            Ok(Err(e)) => transport(match e.cause() {
                Some(cause) => format!("{} ({cause})", e.scim().detail()),
                None => e.scim().detail().to_string(),
            }),
            Ok(Ok(response)) => {
                self.answered
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let status = response.status().as_u16();
                let etag = response
                    .headers()
                    .get(http::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let bytes = response.into_body();
                let (body, note) = match serde_json::from_slice::<Value>(&bytes) {
                    Ok(v) => (v, None),
                    Err(_) if bytes.is_empty() => (Value::Null, None),
                    Err(_) => (
                        Value::Null,
                        Some(format!(
                            "not JSON: {}",
                            shorten(&String::from_utf8_lossy(&bytes), 60)
                        )),
                    ),
                };
                Reply {
                    status,
                    etag,
                    body,
                    note,
                }
            }
        }
    }

    /// What a dry run pretends came back: nothing, except that a create
    /// answers with its body and a made-up id, so that the requests that
    /// would follow it are listed too.
    fn dry_reply(&self, method: &Method, body: Option<&Value>) -> Reply {
        let mut reply = Reply {
            status: 0,
            etag: None,
            body: Value::Null,
            note: Some("not sent (--dry-run)".into()),
        };
        if method == Method::POST {
            if let Some(Value::Object(map)) = body {
                let n = self
                    .dry_ids
                    .lock()
                    .map(|mut n| {
                        *n += 1;
                        *n
                    })
                    .unwrap_or(0);
                let mut map = map.clone();
                map.insert("id".into(), Value::String(format!("{{id-{n}}}")));
                reply.body = Value::Object(map);
            }
        }
        reply
    }
}

fn transport(note: String) -> Reply {
    Reply {
        status: 0,
        etag: None,
        body: Value::Null,
        note: Some(note),
    }
}

/// Percent-encodes a query parameter value (RFC 3986 §2.1: everything
/// but the unreserved characters), `%20` for spaces rather than `+`,
/// which not every SCIM server decodes.
pub(super) fn encode(value: &str) -> String {
    let mut s = String::with_capacity(value.len() * 2);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}
