//! Opening a connection of the pool: the upstream's host resolved, the
//! first address that accepts, TLS where the base is `https` (ALPN `h2`
//! makes it one shared HTTP/2 connection, driven by hyper in a task of its
//! own), and the stream types the connections run over.
//! Imports only the pool and the HTTP/1.1 client beside it.
use super::{Body, Pool, PoolError};
use crate::upstream::h1;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::time::Duration;
use tokio::net::TcpStream;

/// A pooled connection.
pub(super) enum Conn {
    H1(h1::Conn<Stream>),
    H2(http2::SendRequest<Body>),
}

/// Plain TCP or TLS over TCP.
pub(super) enum Stream {
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

impl Pool {
    /// A new connection: TCP (then TLS); an HTTP/2 connection runs in a
    /// task of its own.
    pub(super) async fn connect(&self) -> Result<Conn, PoolError> {
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
        if h2 {
            let io = TokioIo::new(stream);
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
            Ok(Conn::H1(h1::Conn::new(stream)))
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
}
