//! The PROXY protocol on a listener: the header read off the socket
//! (bounded in bytes by the parser, `crate::client_addr::proxy_header`,
//! and in time by the caller), and the stream that replays what was read
//! past it before the rest of the connection (the TLS handshake or the
//! first request).
use crate::client_addr::proxy_header::{parse, Header, Invalid};
use bytes::{Buf, Bytes};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// Reads the header from `stream` (the caller bounds the time): the
/// header, and the bytes read past it (the start of the TLS handshake
/// or the request), to be read again first.
pub(crate) async fn read_header<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<(Header, Bytes), Invalid> {
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| Invalid("the connection failed before the header"))?;
        if n == 0 {
            return Err(Invalid("the connection closed before the header"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(header) = parse(&buf)? {
            let mut rest = Bytes::from(buf);
            rest.advance(header.len);
            return Ok((header, rest));
        }
        // `parse` refuses a header longer than either version allows, so
        // the buffer stays under V2_MAX plus one chunk.
    }
}

/// A stream whose first bytes were read already (past the PROXY
/// header): they are read again first, then the stream itself.
pub(crate) struct Prefixed<S> {
    prefix: Bytes,
    inner: S,
}

impl<S> Prefixed<S> {
    pub(crate) fn new(prefix: Bytes, inner: S) -> Prefixed<S> {
        Prefixed { prefix, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix.is_empty() {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        let n = self.prefix.len().min(buf.remaining());
        buf.put_slice(&self.prefix[..n]);
        self.prefix.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn the_bytes_after_the_header_are_read_again_first() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        let mut sent = b"PROXY TCP4 127.0.0.7 127.0.0.1 40001 443\r\n".to_vec();
        sent.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        tokio::io::AsyncWriteExt::write_all(&mut client, &sent)
            .await
            .unwrap();
        drop(client);
        let (header, rest) = read_header(&mut server).await.unwrap();
        assert_eq!(header.source, Some("127.0.0.7:40001".parse().unwrap()));
        let mut after = Vec::new();
        let mut stream = Prefixed::new(rest, server);
        stream.read_to_end(&mut after).await.unwrap();
        assert_eq!(after, b"GET / HTTP/1.1\r\n\r\n");
        // A connection that ends inside the header is refused.
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"PROXY TCP4 1.2")
            .await
            .unwrap();
        drop(client);
        assert!(read_header(&mut server).await.is_err());
    }
}
