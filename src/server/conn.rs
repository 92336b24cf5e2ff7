//! One client connection: the TLS handshake, the protocol (ALPN, or the
//! first bytes), and the HTTP session: HTTP/1 served by `super::h1`,
//! HTTP/2 by hyper. What it
//! learns is handed to each request as a [`ConnInfo`] (`crate::conn_info`).
use super::idle::{Streams, Tracked};
use super::proxy_protocol::Prefixed;
use super::{h1, Listening, RequestBody, Respond};
use crate::conn_info::{CertChecks, ConnAuth, ConnInfo, Proxied};
use bytes::BytesMut;
use http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::LazyConfigAcceptor;

/// Whether a handshake error is our refusal of the client's certificate
/// (missing, untrusted, expired, revoked), not some other failure.
fn refuses_client_certificate(error: &str) -> bool {
    error.contains("peer sent no certificates") || error.contains("invalid peer certificate")
}

/// `stream` is the socket with what was read past a PROXY header, if
/// any, in front (nothing otherwise); `proxied` what the header said.
#[allow(clippy::too_many_arguments)] // the connection's facts, each once
pub(super) async fn serve_connection<H: Respond>(
    stream: Prefixed<TcpStream>,
    peer: SocketAddr,
    proxied: Option<Proxied>,
    local: SocketAddr,
    listening: Listening,
    handler: Arc<H>,
    stop: watch::Receiver<bool>,
    auth: ConnAuth,
) {
    let Some(tls) = listening.tls.clone() else {
        let info = ConnInfo {
            socket_peer: peer,
            proxied,
            local,
            tls: false,
            sni: None,
            alpn: None,
            peer_certificates: None,
            cert_checks: CertChecks::default(),
            auth,
        };
        return http(stream, info, &listening, handler, stop).await;
    };
    // The ClientHello first, so that the server config can be chosen by
    // SNI (per-tenant certificates and client-CA verifiers).
    let acceptor = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
    let mut hello_sni = None;
    let handshake = async {
        let start = acceptor.await.map_err(|e| e.to_string())?;
        let sni = start
            .client_hello()
            .server_name()
            .map(str::to_ascii_lowercase);
        hello_sni.clone_from(&sni);
        let config = tls.config_for(sni.as_deref());
        let stream = start.into_stream(config).await.map_err(|e| e.to_string())?;
        Ok::<_, String>((sni, stream))
    };
    let outcome = tokio::time::timeout(listening.header_read_timeout, handshake).await;
    let (sni, stream) = match outcome {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            if refuses_client_certificate(&e) {
                // The connection's client: the balancer's word for it on
                // a PROXY listener (no request, so no forwarding header).
                let client = proxied.as_ref().map_or(peer, |p| p.source);
                handler.client_certificate_refused(client, hello_sni.as_deref(), &e);
            }
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let (_, session) = stream.get_ref();
    let info = ConnInfo {
        socket_peer: peer,
        proxied,
        local,
        tls: true,
        sni,
        alpn: session.alpn_protocol().map(<[u8]>::to_vec),
        peer_certificates: session
            .peer_certificates()
            .map(|c| Arc::new(c.iter().map(|c| c.clone().into_owned()).collect())),
        cert_checks: CertChecks::default(),
        auth,
    };
    http(stream, info, &listening, handler, stop).await;
}

async fn http<IO, H>(
    mut io: IO,
    info: ConnInfo,
    listening: &Listening,
    handler: Arc<H>,
    mut stop: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Respond,
{
    let settings = h1::Settings {
        header_read_timeout: listening.header_read_timeout,
        idle_timeout: listening.idle_timeout,
        max_header_bytes: listening.max_header_bytes,
    };
    // ALPN binds the client to the protocol it names (RFC 7301). Without
    // ALPN (plain TCP, or TLS without it) the first bytes tell: HTTP/2
    // with prior knowledge opens with its preface (RFC 9113 §3.3),
    // anything else is HTTP/1.
    let mut read = BytesMut::new();
    let opened = tokio::time::Instant::now();
    match info.alpn.as_deref() {
        Some(b"h2") => {}
        Some(b"http/1.1" | b"http/1.0") => {
            let info = Arc::new(info);
            return h1::serve(io, (read, opened), info, settings, handler, &mut stop).await;
        }
        _ => {
            let sniff = sniff(&mut io, &mut read);
            let version = tokio::select! {
                biased;
                // The first head's time starts here too (`opened`).
                v = tokio::time::timeout_at(opened + listening.header_read_timeout, sniff) => v,
                _ = stop.wait_for(|s| *s) => return,
            };
            match version {
                Ok(Some(Version::Http1)) => {
                    let info = Arc::new(info);
                    return h1::serve(io, (read, opened), info, settings, handler, &mut stop).await;
                }
                Ok(Some(Version::Http2)) => {}
                Ok(None) | Err(_) => return,
            }
        }
    }
    let io = Prefixed::new(read.freeze(), io);
    // Boxed: HTTP/2's state is large, and it is built only here.
    Box::pin(http2(io, info, listening, handler, stop)).await;
}

enum Version {
    Http1,
    Http2,
}

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads until the first bytes are, or cannot be, the HTTP/2 preface.
/// `None`: the connection closed first.
async fn sniff<IO: AsyncRead + Unpin>(io: &mut IO, read: &mut BytesMut) -> Option<Version> {
    loop {
        let n = read.len().min(PREFACE.len());
        if read[..n] != PREFACE[..n] {
            return Some(Version::Http1);
        }
        if n == PREFACE.len() {
            return Some(Version::Http2);
        }
        match h1::read_some(io, read).await {
            Ok(n) if n > 0 => {}
            _ => return None,
        }
    }
}

/// An HTTP/2 connection, served by hyper.
async fn http2<IO, H>(
    io: IO,
    info: ConnInfo,
    listening: &Listening,
    handler: Arc<H>,
    mut stop: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Respond,
{
    let info = Arc::new(info);
    let streams = Streams::default();
    let requests = streams.clone();
    let service = service_fn(move |req: Request<Incoming>| {
        let handler = handler.clone();
        let info = info.clone();
        // Open from here until the response body is written (or the
        // request is dropped).
        let stream = requests.begin();
        async move {
            let response = handler.call(req.map(RequestBody::from), info).await;
            Ok::<_, Infallible>(response.map(|body| Tracked::new(body, stream)))
        }
    });
    let idle = listening.idle_timeout;
    let mut builder = http2::Builder::new(TokioExecutor::new());
    // Keep-alive pings find dead peers of busy connections; they do not
    // keep an idle one open (`idle`), so pinging at least twice per idle
    // timeout costs nothing there.
    builder
        .timer(TokioTimer::new())
        .keep_alive_interval(Some((idle / 2).min(Duration::from_secs(30))))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_header_list_size(u32::try_from(listening.max_header_bytes).unwrap_or(u32::MAX));
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    supervise(
        conn.as_mut(),
        |c| c.graceful_shutdown(),
        &streams,
        idle,
        &mut stop,
    )
    .await;
}

/// Drives `conn` to its end; `finish` asks it to close gracefully on
/// shutdown (`stop`) or once no request has been open for `idle`.
async fn supervise<C: Future>(
    mut conn: Pin<&mut C>,
    finish: impl Fn(Pin<&mut C>),
    streams: &Streams,
    idle: Duration,
    stop: &mut watch::Receiver<bool>,
) {
    let tick = (idle / 4).max(Duration::from_millis(50));
    let mut closing = false;
    let mut last = streams.quiet_since();
    let mut quiet = Duration::ZERO;
    loop {
        tokio::select! {
            // The connection first, in order: it is what wakes the task
            // (no random draw per wake).
            biased;
            _ = conn.as_mut() => break,
            changed = stop.changed(), if !closing => {
                if changed.is_err() || *stop.borrow() {
                    closing = true;
                    finish(conn.as_mut());
                }
            }
            () = tokio::time::sleep(tick), if !closing => {
                // A connection without a request for `idle` is closed,
                // whatever else moves on it (graceful: a request that
                // arrives meanwhile finishes first).
                let now = streams.quiet_since();
                if now.is_some() && now == last {
                    quiet += tick;
                } else {
                    quiet = Duration::ZERO;
                    last = now;
                }
                if quiet >= idle {
                    closing = true;
                    finish(conn.as_mut());
                }
            }
        }
    }
}
