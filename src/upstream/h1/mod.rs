//! A lean HTTP/1.1 client connection for the upstream pool (RFC 9112):
//! one request at a time, driven in the request's own task, the whole
//! response read (bounded) before the connection may serve another.
//!
//! Why not hyper's client connection: it runs every connection in a task
//! of its own and hands each request and response across channels, so a
//! proxied request woke two tasks and paid for the hand-over both ways.
//! Driving hyper's connection from the request's task instead was measured
//! worse (it re-polls the whole connection on every wake-up). The gateway
//! always reads the whole answer anyway (it rewrites locations and derives
//! ETags), which makes the client side small: write the head and body in
//! one write, parse the head with `httparse`, read the body by its framing.
//!
//! What it reads (RFC 9112 §6.3): interim 1xx answers are skipped; HEAD,
//! 204 and 304 answers have no body; `Transfer-Encoding` ending in
//! `chunked` is decoded (trailers read and dropped); another transfer
//! coding, or no framing at all, reads to the end of the connection;
//! otherwise `Content-Length` (repeated only with one value). Anything else
//! is an error, never a guess, and the connection is then dropped.
//!
//! Here the connection, the request written and the body read; the head's
//! parsing in `head`, the body's framing in `framing`. Imports nothing of
//! the crate: it is the wire, below every policy.
mod framing;
mod head;

use bytes::{Bytes, BytesMut};
use framing::{chunk_size, framing, has_token, Framing, Length};
use head::Head;
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Method, StatusCode, Version};
use std::fmt;
use std::io::Write;
use std::pin::Pin;
use std::task::Poll;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// The largest response head read (status line and header fields).
const MAX_HEAD: usize = 64 * 1024 - 1;
/// The most header fields in a response head (hyper's default too).
const MAX_HEADERS: usize = 100;
/// The longest chunk-size line, extensions included.
const MAX_CHUNK_LINE: usize = 4096;
/// The most trailer bytes after the last chunk.
const MAX_TRAILERS: usize = 16 * 1024;
/// Read buffer growth.
const READ_SIZE: usize = 8 * 1024;
/// Bodies up to this size go in the same write as the head.
const COALESCE: usize = 64 * 1024;

/// One connection: its stream, the bytes read but not yet used, and the
/// buffer requests are written from (kept between requests).
pub struct Conn<S> {
    io: S,
    buf: BytesMut,
    out: Vec<u8>,
}

/// A whole response.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The connection may carry another request.
    pub reusable: bool,
}

/// Why an exchange failed. The connection must be dropped.
#[derive(Debug)]
pub enum Error {
    Io(std::io::Error),
    /// The upstream closed the connection before a complete response.
    Closed {
        partial: bool,
    },
    /// Not an HTTP/1.1 response the client may accept.
    Malformed(String),
    /// The body is larger than the caller's limit.
    TooLarge,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Closed { partial: false } => {
                f.write_str("the connection closed before a response")
            }
            Error::Closed { partial: true } => {
                f.write_str("the connection closed in the middle of the response")
            }
            Error::Malformed(what) => write!(f, "invalid response: {what}"),
            Error::TooLarge => f.write_str("the response body exceeds the limit"),
        }
    }
}

impl std::error::Error for Error {}

fn malformed(what: impl Into<String>) -> Error {
    Error::Malformed(what.into())
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn new(io: S) -> Conn<S> {
        Conn {
            io,
            buf: BytesMut::new(),
            out: Vec::new(),
        }
    }

    /// Whether an idle connection can still take a request: nothing to
    /// read, no end of stream. One poll; on a connection whose last read
    /// drained the socket this costs no system call.
    pub async fn is_open(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let io = &mut self.io;
        std::future::poll_fn(|cx| {
            let mut probe = [0u8; 1];
            let mut probe = ReadBuf::new(&mut probe);
            Poll::Ready(matches!(
                Pin::new(&mut *io).poll_read(cx, &mut probe),
                Poll::Pending
            ))
        })
        .await
    }

    /// Sends one request and reads its whole response; a body over
    /// `max_body` bytes is [`Error::TooLarge`]. `target` is in origin form
    /// (path and query); `headers` must hold `Host`. The body's length is
    /// written here: any `Content-Length` or `Transfer-Encoding` among
    /// `headers` is left out, so no header can frame the request otherwise
    /// (RFC 9112 §6.3, request smuggling).
    pub async fn exchange(
        &mut self,
        method: &Method,
        target: &str,
        headers: &HeaderMap,
        body: &Bytes,
        max_body: usize,
    ) -> Result<Answer, Error> {
        self.write_request(method, target, headers, body).await?;
        let (status, version, headers, length) = self.read_head().await?;
        let framing = framing(method, status, &headers, length)?;
        let body = match framing {
            Framing::Empty => Bytes::new(),
            Framing::Length(n) if n > max_body => return Err(Error::TooLarge),
            Framing::Length(n) => self.read_exact(n).await?,
            Framing::Chunked => self.read_chunked(max_body).await?,
            Framing::UntilClose => self.read_to_end(max_body).await?,
        };
        let reusable = framing != Framing::UntilClose
            && version == Version::HTTP_11
            && !has_token(&headers, &CONNECTION, "close")
            && !(headers.contains_key(TRANSFER_ENCODING) && length != Length::Absent)
            && self.buf.is_empty();
        Ok(Answer {
            status,
            version,
            headers,
            body,
            reusable,
        })
    }

    async fn write_request(
        &mut self,
        method: &Method,
        target: &str,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<(), Error> {
        let out = &mut self.out;
        out.clear();
        out.extend_from_slice(method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(if target.is_empty() { "/" } else { target }.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in headers {
            if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
                continue;
            }
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        // RFC 9110 §8.6: a length for every body, and for methods that
        // define one even when it is empty.
        let has_body_semantics = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
        if !body.is_empty() || has_body_semantics {
            let _ = write!(out, "content-length: {}\r\n", body.len());
        }
        out.extend_from_slice(b"\r\n");
        if body.len() <= COALESCE {
            out.extend_from_slice(body);
            self.io.write_all(&self.out).await.map_err(Error::Io)?;
        } else {
            self.io.write_all(&self.out).await.map_err(Error::Io)?;
            self.io.write_all(body).await.map_err(Error::Io)?;
        }
        self.io.flush().await.map_err(Error::Io)?;
        if self.out.capacity() > 4 * COALESCE {
            // One large request does not keep its buffer for the life of
            // the connection.
            self.out = Vec::new();
        }
        Ok(())
    }

    /// Reads more into the buffer; `false` at the end of the stream.
    async fn fill(&mut self) -> Result<bool, Error> {
        if self.buf.capacity() - self.buf.len() < READ_SIZE / 4 {
            self.buf.reserve(READ_SIZE);
        }
        let n = self.io.read_buf(&mut self.buf).await.map_err(Error::Io)?;
        Ok(n > 0)
    }

    /// The final response's status line and header fields (interim 1xx
    /// responses skipped, RFC 9110 §15.2).
    async fn read_head(&mut self) -> Result<(StatusCode, Version, HeaderMap, Length), Error> {
        let mut received = false;
        loop {
            if !self.buf.is_empty() {
                received = true;
                if let Some(head) = self.parse_head()? {
                    match head {
                        Head::Interim => continue,
                        Head::Final(status, version, headers, length) => {
                            return Ok((status, version, headers, length))
                        }
                    }
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(malformed(format!(
                        "the response head is larger than {MAX_HEAD} bytes"
                    )));
                }
            }
            if !self.fill().await? {
                return Err(Error::Closed { partial: received });
            }
        }
    }

    /// `n` body bytes.
    async fn read_exact(&mut self, n: usize) -> Result<Bytes, Error> {
        while self.buf.len() < n {
            if self.buf.capacity() - self.buf.len() < n - self.buf.len() {
                self.buf.reserve(n - self.buf.len());
            }
            if !self.fill().await? {
                return Err(Error::Closed { partial: true });
            }
        }
        Ok(self.buf.split_to(n).freeze())
    }

    /// Everything up to the end of the stream, at most `max` bytes.
    async fn read_to_end(&mut self, max: usize) -> Result<Bytes, Error> {
        loop {
            if self.buf.len() > max {
                return Err(Error::TooLarge);
            }
            if !self.fill().await? {
                return Ok(self.buf.split().freeze());
            }
        }
    }

    /// A chunked body (RFC 9112 §7.1), decoded; at most `max` bytes.
    async fn read_chunked(&mut self, max: usize) -> Result<Bytes, Error> {
        let mut body = BytesMut::new();
        loop {
            let line = self.line(MAX_CHUNK_LINE, "chunk size").await?;
            let size = chunk_size(&line)?;
            if size == 0 {
                break;
            }
            if body.len() + size > max {
                return Err(Error::TooLarge);
            }
            let data = self.read_exact(size + 2).await?;
            if &data[size..] != b"\r\n" {
                return Err(malformed("a chunk does not end with CRLF"));
            }
            body.extend_from_slice(&data[..size]);
        }
        // Trailer fields, up to the empty line; the gateway drops them.
        let mut trailers = 0;
        loop {
            let line = self.line(MAX_TRAILERS, "trailer section").await?;
            if line.is_empty() {
                return Ok(body.freeze());
            }
            trailers += line.len() + 2;
            if trailers > MAX_TRAILERS {
                return Err(malformed("the trailer section is too large"));
            }
        }
    }

    /// One CRLF-terminated line (without its CRLF), at most `max` bytes.
    async fn line(&mut self, max: usize, what: &str) -> Result<Bytes, Error> {
        let mut searched = 0;
        loop {
            if let Some(at) = memchr::memchr(b'\n', &self.buf[searched..]) {
                let end = searched + at;
                if end == 0 || self.buf[end - 1] != b'\r' {
                    return Err(malformed(format!("the {what} line does not end with CRLF")));
                }
                let line = self.buf.split_to(end + 1).freeze();
                return Ok(line.slice(..end - 1));
            }
            searched = self.buf.len();
            if searched > max {
                return Err(malformed(format!("the {what} line is too long")));
            }
            if !self.fill().await? {
                return Err(Error::Closed { partial: true });
            }
        }
    }
}

#[cfg(test)]
mod tests;
