//! The connection pool of one `http` upstream: HTTP/1.1 connections kept
//! alive and reused last-in first-out, or one shared HTTP/2 connection
//! when TLS negotiates `h2` by ALPN.
//!
//! Why not hyper-util's pooled client: on the request path it hashes the
//! pool key, spawns a task per HTTP/1 request to put the connection back,
//! and converts URIs; one pool per upstream with a fixed origin needs none
//! of that. (Measured: about 1 µs of CPU per proxied request.)
//!
//! Connections are handed out only when hyper says they are ready for a
//! request, go back to the pool only after their response was read to the
//! end, and are dropped when they have been idle longer than the idle
//! timeout (so the upstream's own keep-alive timeout, often 5 s in Node.js
//! servers, rarely races a request) or when the pool is full. A request
//! that a pooled connection could not even start (the upstream had just
//! closed it) is sent once more on a fresh connection; a request that was
//! sent is never repeated here.
use bytes::Bytes;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

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

/// The pool. Cheap to share; connections live in their own tasks.
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
    sender: http1::SendRequest<Body>,
    since: Instant,
}

/// A connection on loan for one request; [`Lease::release`] returns it
/// once the response body has been read.
pub struct Lease<'p> {
    pool: &'p Pool,
    sender: Option<http1::SendRequest<Body>>,
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

    /// Sends `req` (its URI in origin form: path and query) and returns the
    /// response head with a streaming body, and the lease of the
    /// connection to release after the body was read.
    pub async fn send(
        &self,
        req: Request<Body>,
    ) -> Result<(Response<Incoming>, Lease<'_>), PoolError> {
        let mut req = req;
        // A pooled connection that the upstream closed under us: the
        // request comes back unsent and goes once more on a fresh one.
        for fresh in [false, true] {
            let conn = match self.checkout(fresh).await {
                Some(conn) => conn,
                // Boxed: connecting (TLS handshake included) is rare, and
                // its large state would otherwise sit in every request's
                // future.
                None => Box::pin(self.connect()).await?,
            };
            match conn {
                Conn::H2(mut sender) => {
                    *req.uri_mut() = self.absolute(req.uri());
                    let response = sender
                        .send_request(req)
                        .await
                        .map_err(PoolError::protocol)?;
                    return Ok((
                        response,
                        Lease {
                            pool: self,
                            sender: None,
                        },
                    ));
                }
                Conn::H1(mut sender) => match sender.try_send_request(req).await {
                    Ok(response) => {
                        return Ok((
                            response,
                            Lease {
                                pool: self,
                                sender: Some(sender),
                            },
                        ))
                    }
                    Err(mut e) => match e.take_message() {
                        Some(unsent) if !fresh => req = unsent,
                        _ => return Err(PoolError::protocol(e.into_error())),
                    },
                },
            }
        }
        Err(PoolError {
            kind: Kind::Protocol,
            message: "no connection could take the request".into(),
        })
    }

    /// An idle connection ready for a request, if any.
    async fn checkout(&self, skip_pool: bool) -> Option<Conn> {
        if skip_pool {
            return None;
        }
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
            let mut sender = idle.sender;
            if sender.ready().await.is_ok() {
                return Some(Conn::H1(sender));
            }
        }
    }

    /// A new connection: TCP (then TLS), then the HTTP handshake; the
    /// connection runs in its own task.
    async fn connect(&self) -> Result<Conn, PoolError> {
        let connect = async {
            let tcp = self.tcp().await?;
            match &self.tls {
                None => Ok((Stream::Plain(tcp), false)),
                Some((connector, name)) => {
                    let tls = connector
                        .connect(name.clone(), tcp)
                        .await
                        .map_err(|e| PoolError::connect(format!("TLS handshake: {e}")))?;
                    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                    Ok((Stream::Tls(Box::new(tls)), h2))
                }
            }
        };
        let (stream, h2) = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| {
                PoolError::connect(format!(
                    "connecting took longer than {}",
                    humantime::format_duration(self.connect_timeout)
                ))
            })??;
        let io = TokioIo::new(stream);
        if h2 {
            let (sender, conn) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .keep_alive_interval(Some(Duration::from_secs(30)))
                .keep_alive_timeout(Duration::from_secs(20))
                .handshake(io)
                .await
                .map_err(PoolError::protocol)?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "upstream HTTP/2 connection ended");
                }
            });
            *self.lock_h2() = Some(sender.clone());
            Ok(Conn::H2(sender))
        } else {
            let (sender, conn) = http1::Builder::new()
                .handshake(io)
                .await
                .map_err(PoolError::protocol)?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "upstream connection ended");
                }
            });
            Ok(Conn::H1(sender))
        }
    }

    /// The first address of the upstream's host that accepts.
    async fn tcp(&self) -> Result<TcpStream, PoolError> {
        let addrs = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| PoolError::connect(format!("resolving {}: {e}", self.host)))?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    return Ok(tcp);
                }
                Err(e) => last = Some(format!("{addr}: {e}")),
            }
        }
        Err(PoolError::connect(last.unwrap_or_else(|| {
            format!("{} has no addresses", self.host)
        })))
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

impl Lease<'_> {
    /// The response was read to the end: the connection may serve the next
    /// request. (A lease dropped without release closes its connection.)
    pub fn release(mut self) {
        let Some(sender) = self.sender.take() else {
            return;
        };
        if sender.is_closed() {
            return;
        }
        let mut idle = self.pool.lock_idle();
        if idle.len() < self.pool.max_idle {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }
}

enum Conn {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

/// Plain TCP or TLS over TCP.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl tokio::io::AsyncRead for Stream {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => std::pin::Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Stream {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => std::pin::Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => std::pin::Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => std::pin::Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => std::pin::Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => std::pin::Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

impl PoolError {
    fn connect(message: String) -> PoolError {
        PoolError {
            kind: Kind::Connect,
            message,
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
#[path = "pool_tests.rs"]
mod tests;
