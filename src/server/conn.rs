//! One client connection: the TLS handshake and the HTTP session.
use super::admit::ConnAuth;
use super::idle::{Streams, Tracked};
use super::{Listening, Respond};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::pki_types::CertificateDer;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::LazyConfigAcceptor;

/// What the connection tells about each of its requests; passed to the
/// handler with each.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub tls: bool,
    /// The SNI server name of the TLS handshake.
    pub sni: Option<String>,
    pub alpn: Option<Vec<u8>>,
    /// The client's certificate chain (mTLS).
    pub peer_certificates: Option<Arc<Vec<CertificateDer<'static>>>>,
    /// Verdicts on that chain per tenant policy (by its generation), so
    /// that a keep-alive connection verifies its certificate once per
    /// tenant and policy, not per request, and again after a reload.
    pub cert_checks: CertChecks,
    /// Whether a request on the connection authenticated; until then the
    /// connection counts against the anonymous budget (`server::admit`).
    pub auth: ConnAuth,
}

impl ConnInfo {
    /// A request's credentials were accepted: the connection is no
    /// longer anonymous.
    pub fn authenticated(&self) {
        self.auth.mark();
    }
}

/// See [`ConnInfo::cert_checks`]. Cloning gives an empty cache.
#[derive(Default)]
pub struct CertChecks(std::sync::Mutex<Vec<(u64, CertVerdict)>>);

/// A cached verdict: the identity, or the refusal's reason and detail.
pub type CertVerdict = Result<crate::tls::ClientIdentity, (&'static str, String)>;

impl CertChecks {
    /// The verdict for the policy of generation `generation`
    /// ([`crate::tls::ClientCertPolicy::generation`]), computed once. Not
    /// the policy's address: a reloaded policy may be allocated where the
    /// old one was and would inherit its verdict.
    pub fn get_or(&self, generation: u64, verify: impl FnOnce() -> CertVerdict) -> CertVerdict {
        let mut checks = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, v)) = checks.iter().find(|(g, _)| *g == generation) {
            return v.clone();
        }
        let verdict = verify();
        // Bounded: a connection rarely serves more than a few tenants.
        if checks.len() >= 16 {
            drop(checks.remove(0));
        }
        checks.push((generation, verdict.clone()));
        verdict
    }
}

impl Clone for CertChecks {
    fn clone(&self) -> Self {
        CertChecks::default()
    }
}

impl std::fmt::Debug for CertChecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertChecks")
    }
}

/// Whether a handshake error is our refusal of the client's certificate
/// (missing, untrusted, expired, revoked), not some other failure.
fn refuses_client_certificate(error: &str) -> bool {
    error.contains("peer sent no certificates") || error.contains("invalid peer certificate")
}

pub(super) async fn serve_connection<H: Respond>(
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    listening: Listening,
    handler: Arc<H>,
    stop: watch::Receiver<bool>,
    auth: ConnAuth,
) {
    let Some(tls) = listening.tls.clone() else {
        let info = ConnInfo {
            peer,
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
                handler.client_certificate_refused(peer, hello_sni.as_deref(), &e);
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
        peer,
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
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(listening.header_read_timeout)
        .max_buf_size(listening.max_header_bytes.max(8192));
    let idle = listening.idle_timeout;
    // Keep-alive pings find dead peers of busy connections; they do not
    // keep an idle one open (`idle`), so pinging at least twice per idle
    // timeout costs nothing there.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some((idle / 2).min(Duration::from_secs(30))))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_header_list_size(u32::try_from(listening.max_header_bytes).unwrap_or(u32::MAX));
    let requests = streams.clone();
    let service = service_fn(move |req| {
        let handler = handler.clone();
        let info = info.clone();
        // Open from here until the response body is written (or the
        // request is dropped).
        let stream = requests.begin();
        async move {
            let response = handler.call(req, info).await;
            Ok::<_, Infallible>(response.map(|body| Tracked::new(body, stream)))
        }
    });
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
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
                    conn.as_mut().graceful_shutdown();
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
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
