//! The connection pool of one `http` upstream: HTTP/1.1 connections kept
//! alive and reused last-in first-out ([`h1`], driven in the
//! request's own task), or one shared HTTP/2 connection (hyper's, in a
//! task of its own) when TLS negotiates `h2` by ALPN.
//!
//! Why not hyper-util's pooled client: on the request path it hashes the
//! pool key, spawns a task per HTTP/1 request to put the connection back,
//! and converts URIs; one pool per upstream with a fixed origin needs none
//! of that. (Measured: about 1 µs of CPU per proxied request.)
//!
//! An idle connection is handed out only when a poll finds it still open
//! (no end of stream, nothing unasked-for to read), goes back to the pool
//! only after its response was read to the end and the response allows
//! it, and is dropped when it has been idle longer than the idle timeout
//! (so the upstream's own keep-alive timeout, often 5 s in Node.js
//! servers, rarely races a request) or when the pool is full. An exchange
//! that is dropped midway (the caller's timeout, a client gone) drops its
//! connection. A request that was sent is never repeated here.
//!
//! Opening a connection (TCP, TLS, HTTP/2) is in `connect`. Imports only
//! the HTTP/1.1 client beside it ([`h1`]): no setting of the
//! crate's, the caller hands in [`PoolSettings`].
mod connect;

use super::h1;
use bytes::Bytes;
use connect::{Conn, Stream};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::client::conn::http2;
use rustls::pki_types::ServerName;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

type Body = Full<Bytes>;

/// Where and how to connect.
pub struct PoolSettings {
    /// `http` or `https`, host and port of the upstream.
    pub scheme: Scheme,
    pub authority: Authority,
    /// TLS client settings for `https` (roots, client certificate). ALPN
    /// is set here.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub connect_timeout: Duration,
    /// Idle connections kept at most.
    pub max_idle: usize,
    /// An idle connection older than this is closed, not reused.
    pub idle_timeout: Duration,
}

/// The pool. Cheap to share.
pub struct Pool {
    scheme: Scheme,
    authority: Authority,
    host: String,
    port: u16,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    connect_timeout: Duration,
    max_idle: usize,
    idle_timeout: Duration,
    idle: Mutex<Vec<Idle>>,
    h2: Mutex<Option<http2::SendRequest<Body>>>,
}

struct Idle {
    conn: h1::Conn<Stream>,
    since: Instant,
}

/// Why a request could not be exchanged. The Display text is for logs,
/// never for clients.
#[derive(Debug)]
pub struct PoolError {
    kind: Kind,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No connection could be made (DNS, TCP, TLS).
    Connect,
    /// The connection failed during the exchange.
    Protocol,
    /// The response body is larger than the caller's limit.
    TooLarge,
}

impl Pool {
    pub fn new(settings: PoolSettings) -> Result<Pool, String> {
        let https = settings.scheme == Scheme::HTTPS;
        let host = settings
            .authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = settings
            .authority
            .port_u16()
            .unwrap_or(if https { 443 } else { 80 });
        let tls = match (https, settings.tls) {
            (false, _) => None,
            (true, None) => return Err("https needs TLS client settings".into()),
            (true, Some(config)) => {
                let mut config = (*config).clone();
                config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
                let name = ServerName::try_from(host.clone())
                    .map_err(|_| format!("\"{host}\" is not a valid TLS server name"))?;
                Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
            }
        };
        Ok(Pool {
            scheme: settings.scheme,
            authority: settings.authority,
            host,
            port,
            tls,
            connect_timeout: settings.connect_timeout,
            max_idle: settings.max_idle,
            idle_timeout: settings.idle_timeout,
            idle: Mutex::new(Vec::new()),
            h2: Mutex::new(None),
        })
    }

    /// Sends `req` (its URI in origin form: path and query) and reads the
    /// whole response; a body over `max_body` bytes is an error
    /// ([`PoolError::is_too_large`]).
    pub async fn exchange(
        &self,
        req: Request<Bytes>,
        max_body: usize,
    ) -> Result<Response<Bytes>, PoolError> {
        let conn = match self.checkout().await {
            Some(conn) => conn,
            // Boxed: connecting (TLS handshake included) is rare, and its
            // large state would otherwise sit in every request's future.
            None => Box::pin(self.connect()).await?,
        };
        let mut conn = match conn {
            // Boxed: HTTP/2 upstreams are the rarer kind.
            Conn::H2(sender) => return Box::pin(self.exchange_h2(sender, req, max_body)).await,
            Conn::H1(conn) => conn,
        };
        // Let the other requests that are ready reach this point first, so
        // that the upstream gets its requests in one burst and is woken
        // once for them rather than once each. (Measured on loopback: about
        // 2 µs of kernel time per request less for the gateway; hyper's
        // connection tasks, polled after the requests' own, did the same
        // implicitly.)
        tokio::task::yield_now().await;
        let target = req.uri().path_and_query().map_or("/", PathAndQuery::as_str);
        let answer = conn
            .exchange(req.method(), target, req.headers(), req.body(), max_body)
            .await
            .map_err(|e| match e {
                h1::Error::TooLarge => PoolError::too_large(),
                e => PoolError {
                    kind: Kind::Protocol,
                    message: e.to_string(),
                },
            })?;
        if answer.reusable {
            self.checkin(conn);
        }
        let mut response = Response::new(answer.body);
        *response.status_mut() = answer.status;
        *response.version_mut() = answer.version;
        *response.headers_mut() = answer.headers;
        Ok(response)
    }

    async fn exchange_h2(
        &self,
        mut sender: http2::SendRequest<Body>,
        req: Request<Bytes>,
        max_body: usize,
    ) -> Result<Response<Bytes>, PoolError> {
        let (mut parts, body) = req.into_parts();
        parts.uri = self.absolute(&parts.uri);
        let response = sender
            .send_request(Request::from_parts(parts, Full::new(body)))
            .await
            .map_err(PoolError::protocol)?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, max_body)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<LengthLimitError>() {
                    PoolError::too_large()
                } else {
                    PoolError {
                        kind: Kind::Protocol,
                        message: e.to_string(),
                    }
                }
            })?
            .to_bytes();
        Ok(Response::from_parts(parts, body))
    }

    /// An idle connection still open, if any.
    async fn checkout(&self) -> Option<Conn> {
        let h2 = self.lock_h2().clone();
        if let Some(mut sender) = h2 {
            if sender.ready().await.is_ok() {
                return Some(Conn::H2(sender));
            }
            self.lock_h2().take();
        }
        loop {
            let idle = self.lock_idle().pop()?;
            if idle.since.elapsed() >= self.idle_timeout {
                // The newest is too old: so are all the others.
                self.lock_idle().clear();
                return None;
            }
            let mut conn = idle.conn;
            if conn.is_open().await {
                return Some(Conn::H1(conn));
            }
        }
    }

    /// A connection whose response was read to the end, back to the pool
    /// (unless it is full).
    fn checkin(&self, conn: h1::Conn<Stream>) {
        let mut idle = self.lock_idle();
        if idle.len() < self.max_idle {
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    /// The URI in absolute form (HTTP/2 sends scheme and authority as
    /// pseudo-headers).
    fn absolute(&self, uri: &Uri) -> Uri {
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(
            uri.path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_h2(&self) -> std::sync::MutexGuard<'_, Option<http2::SendRequest<Body>>> {
        self.h2.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many idle connections the pool holds (for tests).
    pub fn idle_count(&self) -> usize {
        self.lock_idle().len()
    }
}

impl PoolError {
    fn connect(message: String) -> PoolError {
        PoolError {
            kind: Kind::Connect,
            message,
        }
    }

    fn too_large() -> PoolError {
        PoolError {
            kind: Kind::TooLarge,
            message: "the response body exceeds the limit".into(),
        }
    }

    fn protocol(e: hyper::Error) -> PoolError {
        PoolError {
            kind: Kind::Protocol,
            message: e.to_string(),
        }
    }

    /// No connection could be made (the upstream is down or unreachable).
    pub fn is_connect(&self) -> bool {
        self.kind == Kind::Connect
    }

    /// The response body was larger than the caller's limit.
    pub fn is_too_large(&self) -> bool {
        self.kind == Kind::TooLarge
    }
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PoolError {}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field(
                "origin",
                &format_args!("{}://{}", self.scheme, self.authority),
            )
            .field("idle", &self.idle_count())
            .finish()
    }
}

#[cfg(test)]
mod tests;
