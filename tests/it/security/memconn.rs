//! Bounded memory and connections: the response cache in bytes, with
//! keys that junk parameters and foreign `Host`s cannot multiply or
//! poison; HTTP/2 connections closed when no request is open, whatever
//! pings flow; connection caps per client IP and for connections not yet
//! authenticated. Raw TCP and TLS where the test needs byte-exact control
//! over what a client holds open.
mod cache;
mod caps;
mod idle;

use crate::support::gateway::TestGateway;
use crate::support::raw::{client_config, tls_connect_with};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;

/// A TCP connection to `to` from the loopback address `from`.
pub async fn tcp_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(to).await.unwrap()
}

/// A TLS connection to the gateway for `sni`, offering `alpn`.
pub async fn tls_connect(gw: &TestGateway, sni: &str, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    tls_connect_with(gw, sni, client_config(gw, alpn, None)).await
}

/// One HTTP/1.1 GET of `path` on a kept-alive connection; the status, or
/// `None` when the connection was closed instead.
pub async fn get<S>(s: &mut S, host: &str, path: &str, token: Option<&str>) -> Option<u16>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    let head = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n{auth}\r\n");
    s.write_all(head.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let status = head.get(9..12)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < end + length {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(status)
}

/// Whether the peer closes `s` (EOF or reset) within `within`.
pub async fn closed_within<S: AsyncRead + Unpin>(s: &mut S, within: Duration) -> bool {
    let mut chunk = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// A counter or gauge's value in the gateway's `/metrics` text (0 when
/// absent).
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}
