//! The listeners: accept loop, connection caps (in all, per client IP,
//! not yet authenticated: `admit`), TLS handshake (the config chosen from
//! the ClientHello), HTTP/1.x (the server's own, `h1`) and HTTP/2 (hyper),
//! chosen in `conn`; the request body either way a [`RequestBody`];
//! header-read and idle timeouts,
//! PROXY protocol from allow-listed balancers (`proxy_protocol`), and
//! graceful drain on shutdown.
//!
//! Settings are read from the current snapshot for every new connection,
//! so a reload applies to new connections (a new certificate, new
//! timeouts); the listen address and the connection caps are fixed at
//! start.
mod admit;
mod body;
mod conn;
mod drain;
pub(crate) mod h1;
mod idle;
mod proxy_protocol;

pub(crate) use admit::{AnonymousCaps, ConnectionCaps};
pub(crate) use body::RequestBody;
pub(crate) use drain::Drain;

use crate::conn_info::{ConnInfo, Proxied};
use crate::telemetry::names::{CONNECTIONS_OPEN, CONNECTIONS_REFUSED_TOTAL};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use proxy_protocol::Prefixed;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

/// What answers requests.
pub(crate) trait Respond: Send + Sync + 'static {
    fn call<'a>(
        &'a self,
        req: Request<RequestBody>,
        conn: Arc<ConnInfo>,
    ) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send + 'a>>;

    /// A TLS handshake refused the client's certificate (mTLS on a tenant
    /// host): no request follows, so this is the only word of it.
    /// `reason` is rustls's description, never certificate contents.
    fn client_certificate_refused(
        &self,
        _peer: std::net::SocketAddr,
        _sni: Option<&str>,
        _reason: &str,
    ) {
    }
}

/// Per-connection settings, taken from the current config.
#[derive(Clone)]
pub(crate) struct Listening {
    /// `None`: plain HTTP. Otherwise the server config is chosen per
    /// connection by the ClientHello's SNI.
    pub tls: Option<Arc<crate::tls::TlsSelector>>,
    pub header_read_timeout: Duration,
    pub max_header_bytes: usize,
    pub idle_timeout: Duration,
    /// PROXY protocol and trusted proxies (`crate::client_addr`).
    pub identity: crate::client_addr::ListenerIdentity,
}

/// Where per-connection settings come from.
pub(crate) type SettingsSource = Arc<dyn Fn() -> Listening + Send + Sync>;

/// Serves `handler` on `listener` until `shutdown` completes; then stops
/// accepting, asks every connection to finish its in-flight requests, and
/// waits up to `drain` before returning.
pub(crate) async fn serve<H: Respond>(
    listener: TcpListener,
    settings: SettingsSource,
    caps: ConnectionCaps,
    drain: Duration,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // Over the cap, the loop stops accepting until a connection closes
    // (new clients wait in the kernel's backlog): nothing spins.
    let slots = Arc::new(Semaphore::new(caps.max_connections.max(1)));
    let admission = admit::Admission::new(caps);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // Out of descriptors and the like: back off, keep serving.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let listening = settings();
        let ip = peer.ip();
        // Admitted at accept, by the socket peer; on a PROXY listener
        // only the allow-list is checked here, and the connection is
        // admitted by its real client once the header is read.
        let admitted = match &listening.identity.proxy_protocol {
            Some(allow) if !allow.contains(ip) => {
                tracing::debug!(%peer, "refused: not an allow-listed PROXY protocol sender");
                metrics::counter!(CONNECTIONS_REFUSED_TOTAL, "reason" => admit::PROXY_NOT_ALLOWED)
                    .increment(1);
                drop(stream);
                continue;
            }
            Some(_) => None,
            None => {
                let key = (!listening.identity.forwarding.trusts(ip)).then_some(ip);
                let Some(admitted) = admission.admit(key) else {
                    // This client holds its share already: closed at once.
                    metrics::counter!(CONNECTIONS_REFUSED_TOTAL, "reason" => admit::PER_IP)
                        .increment(1);
                    drop(stream);
                    continue;
                };
                Some(admitted)
            }
        };
        // Headers and body go out in separate writes; without TCP_NODELAY
        // delayed ACKs stall each response by ~40 ms.
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(peer);
        let handler = handler.clone();
        let stop = stop_rx.clone();
        let admission = admission.clone();
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            metrics::gauge!(CONNECTIONS_OPEN).increment(1.0);
            let opened = match admitted {
                Some(admitted) => Some((admitted, Prefixed::new(Bytes::new(), stream), None)),
                None => proxied(stream, peer, &listening, &admission).await,
            };
            if let Some((admitted, stream, proxied)) = opened {
                let auth = admitted.auth();
                let serve = conn::serve_connection(
                    stream, peer, proxied, local, listening, handler, stop, auth,
                );
                tokio::select! {
                    // In order: no random draw on each of the many wakes.
                    biased;
                    () = serve => {}
                    // Dropping the connection closes it at once (see `admit`).
                    reason = admitted.closed() => {
                        tracing::debug!(%peer, reason, "anonymous connection closed");
                        metrics::counter!(CONNECTIONS_REFUSED_TOTAL, "reason" => reason).increment(1);
                    }
                }
                drop(admitted);
            }
            metrics::gauge!(CONNECTIONS_OPEN).decrement(1.0);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained =
        tokio::time::timeout(drain, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            open = tasks.len(),
            "connections still open after the drain deadline; closing them"
        );
        tasks.abort_all();
    }
    Ok(())
}

/// A PROXY listener's connection from an allow-listed balancer: the
/// header read (bounded by `header_read_timeout` and in bytes), then the
/// connection admitted by the client it names. `None`: refused (counted).
async fn proxied(
    mut stream: TcpStream,
    peer: SocketAddr,
    listening: &Listening,
    admission: &Arc<admit::Admission>,
) -> Option<(admit::Admitted, Prefixed<TcpStream>, Option<Proxied>)> {
    let read = proxy_protocol::read_header(&mut stream);
    let (header, rest) = match tokio::time::timeout(listening.header_read_timeout, read).await {
        Ok(Ok(read)) => read,
        Ok(Err(e)) => {
            tracing::debug!(%peer, reason = e.0, "refused: no valid PROXY protocol header");
            metrics::counter!(CONNECTIONS_REFUSED_TOTAL, "reason" => admit::PROXY_HEADER)
                .increment(1);
            return None;
        }
        Err(_) => {
            tracing::debug!(%peer, "refused: no PROXY protocol header in time");
            metrics::counter!(CONNECTIONS_REFUSED_TOTAL, "reason" => admit::PROXY_HEADER)
                .increment(1);
            return None;
        }
    };
    // LOCAL, UNKNOWN and the like: the balancer's own connection.
    let proxied = header.source.map(|source| Proxied {
        source,
        forwarded_for: crate::client_addr::chain_of(source.ip(), peer.ip()),
    });
    let client = proxied.as_ref().map_or(peer.ip(), |p| p.source.ip());
    let key = (!listening.identity.forwarding.trusts(client)).then_some(client);
    let Some(admitted) = admission.admit(key) else {
        metrics::counter!(CONNECTIONS_REFUSED_TOTAL, "reason" => admit::PER_IP).increment(1);
        return None;
    };
    Some((admitted, Prefixed::new(rest, stream), proxied))
}

#[cfg(test)]
mod tests;
