//! The server side of HTTP/1.0 and HTTP/1.1 (RFC 9112): a client
//! connection's requests, one at a time, each head parsed once with
//! `httparse` (`head`), its body decoded as the handler reads it
//! (`decode`, `body`), the response written with its head in one write
//! (`write`). HTTP/2 stays with hyper (`super::conn`).
//!
//! Why not hyper's HTTP/1 server: it keeps an 8 KB read buffer and an
//! 8 KB write buffer for the life of a connection, idle or not, and an
//! idle keep-alive connection is what the gateway holds most of. Here a
//! connection that waits for its next request holds no buffer at all:
//! reads go through one scratch buffer per worker thread and only the
//! bytes that arrived are kept, and a response's buffer is dropped once
//! written. Responses always have a known length (the handler returns
//! whole bodies), which keeps the writing side small.
//!
//! What it enforces, and why (request smuggling is the attack on a proxy
//! in front of other HTTP servers): one framing per request (both
//! `Transfer-Encoding` and `Content-Length`, differing or malformed
//! lengths, a transfer coding other than `chunked`, `Transfer-Encoding`
//! in HTTP/1.0: refused and the connection closed); strict CRLF in the
//! chunked framing; bounded heads (`max_header_bytes`, 100 fields),
//! chunk lines and trailers. Refusals are SCIM errors with
//! `Connection: close`.
//!
//! Keep-alive: HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with
//! `Connection: keep-alive`. Pipelined requests are answered in order
//! (bytes read past one request are the next one's). `Expect:
//! 100-continue` is answered when the handler first reads the body. A
//! body the handler left unread is drained up to 64 KB, or the connection
//! closes. A connection closed while request bytes may still be coming (a
//! refused head, a body left unread, pipelined bytes after a `close`) is
//! closed lingering (RFC 9112 §9.6): the write side is shut, then what
//! arrives is read and dropped until the client closes, at most
//! [`LINGER_TIME`] and [`LINGER_BYTES`], so the client reads the answer
//! (say a 413 to a body it is still sending) instead of a reset that
//! would destroy it. Timeouts: `header_read_timeout` for a head (from its
//! first byte; for the first request, from the connection's start),
//! `idle_timeout` for the wait between requests and for each write.
mod body;
pub(crate) mod decode;
pub mod fuzz;
pub(crate) mod head;
mod write;

pub(crate) use body::{Body, BodyError};

use super::body::RequestBody;
use super::Respond;
use crate::conn_info::ConnInfo;
use body::{feed, Shared, Step};
use bytes::{Bytes, BytesMut};
use decode::Decoder;
use http::{Method, Request};
use http_body_util::Full;
use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;
use tokio::time::{timeout, timeout_at, Instant};

/// The most of an unread body drained to keep the connection.
const DRAIN: u64 = 64 * 1024;
/// The longest a lingering close reads what the client still sends.
const LINGER_TIME: Duration = Duration::from_secs(5);
/// The longest a lingering close waits for the client's next bytes.
const LINGER_QUIET: Duration = Duration::from_secs(1);
/// The most a lingering close reads (and drops).
const LINGER_BYTES: usize = 16 * 1024 * 1024;
/// What a read takes from the socket at most.
const SCRATCH: usize = 16 * 1024;
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The connection's settings (from the listener's, at accept).
#[derive(Clone, Copy)]
pub(crate) struct Settings {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
}

/// Serves HTTP/1 requests on `io` until the client closes, a timeout, a
/// refused request, or `stop`. `buf` holds bytes already read (sniffed)
/// since `opened`, when the wait for the first request began.
pub(crate) async fn serve<IO, H>(
    mut io: IO,
    (mut buf, opened): (BytesMut, Instant),
    info: Arc<ConnInfo>,
    settings: Settings,
    handler: Arc<H>,
    stop: &mut watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send,
    H: Respond,
{
    let mut first = true;
    // Whether the connection ends while request bytes may still come.
    let mut linger = false;
    // The wait between requests: one timer for the connection, moved
    // forward for each wait (a compare-and-swap, the new deadline being
    // later) rather than a timer made, registered and cancelled per
    // request (the timer driver's lock and wheel, twice).
    let waiting = tokio::time::sleep_until(opened + settings.header_read_timeout);
    tokio::pin!(waiting);
    loop {
        // The wait for a request: no buffer is held until bytes arrive.
        if buf.is_empty() {
            buf = BytesMut::new();
            if *stop.borrow() {
                break;
            }
            if !first {
                waiting
                    .as_mut()
                    .reset(Instant::now() + settings.idle_timeout);
            }
            let arrived = tokio::select! {
                biased;
                read = read_some(&mut io, &mut buf) => matches!(read, Ok(n) if n > 0),
                () = &mut waiting => false,
                () = stopped(stop) => false,
            };
            if !arrived {
                break;
            }
        }
        // The head's deadline: the first request's counts from the
        // connection's start; a later one's from its first bytes, read
        // from the clock only if the head needs another read (it rarely
        // does: a head comes whole).
        let mut deadline = first.then_some(opened + settings.header_read_timeout);
        first = false;
        let head = loop {
            match head::parse_split(&mut buf, settings.max_header_bytes) {
                Ok(Some(parsed)) => break Some(parsed),
                Ok(None) => {}
                Err(refusal) => {
                    let out = write::refusal(&refusal, false);
                    linger = write_all(&mut io, &out, settings.idle_timeout).await;
                    break None;
                }
            }
            // A slow head (one byte a second) ends at the deadline.
            let until =
                *deadline.get_or_insert_with(|| Instant::now() + settings.header_read_timeout);
            match timeout_at(until, read_some(&mut io, &mut buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => break None,
            }
        };
        let Some(parsed) = head else { break };
        // Boxed: a request's state (its head, the handler's future, the
        // response) is allocated while it is in hand, not carried by an
        // idle connection's task.
        let after = crate::boxed::pinned(|| {
            exchange(&mut io, &mut buf, parsed, &info, &settings, &*handler, stop)
        })
        .await;
        match after {
            After::Next => {}
            After::Close => break,
            After::Linger => {
                linger = true;
                break;
            }
        }
    }
    let shut = matches!(
        timeout(settings.idle_timeout, io.shutdown()).await,
        Ok(Ok(()))
    );
    if linger && shut {
        tokio::select! {
            biased;
            () = stopped(stop) => {}
            () = linger_close(&mut io) => {}
        }
    }
}

/// How a connection goes on after a request.
#[derive(Debug, PartialEq, Eq)]
enum After {
    /// Ready for the next request.
    Next,
    /// Closed: nothing more is coming, or the connection failed.
    Close,
    /// Closed while request bytes may still be coming: lingering.
    Linger,
}

/// Reads and drops what the client still sends after the answer and the
/// shut write side, until it closes, goes quiet for [`LINGER_QUIET`], or
/// [`LINGER_TIME`] or [`LINGER_BYTES`] run out.
async fn linger_close<IO: AsyncRead + Unpin>(io: &mut IO) {
    let until = Instant::now() + LINGER_TIME;
    let mut read = 0usize;
    let mut dropped = BytesMut::new();
    while read < LINGER_BYTES {
        let quiet = (Instant::now() + LINGER_QUIET).min(until);
        match timeout_at(quiet, read_some(io, &mut dropped)).await {
            Ok(Ok(n)) if n > 0 => read += n,
            _ => return,
        }
        dropped.clear();
    }
}

/// One request answered; whether the connection may serve another.
async fn exchange<IO, H>(
    io: &mut IO,
    buf: &mut BytesMut,
    (head, mut rest): (head::Head, Bytes),
    info: &Arc<ConnInfo>,
    settings: &Settings,
    handler: &H,
    stop: &watch::Receiver<bool>,
) -> After
where
    IO: AsyncRead + AsyncWrite + Unpin + Send,
    H: Respond,
{
    let head::Head {
        method,
        uri,
        version,
        headers,
        body,
        keep_alive,
        expect_continue,
    } = head;
    let is_head = method == Method::HEAD;
    let body = match body {
        None => None,
        Some(Decoder::Length(n)) if rest.len() as u64 >= n => {
            // Whole already, in the head's buffer: no copy. (`n` fits,
            // it is at most `rest.len()`.)
            let n = usize::try_from(n).unwrap_or(rest.len());
            Some(Err(Body::whole(rest.split_to(n))))
        }
        Some(decoder) => Some(Ok(decoder)),
    };
    // What follows (a body still arriving, or pipelined requests) is the
    // connection's to read.
    if !rest.is_empty() {
        buf.extend_from_slice(&rest);
    }
    drop(rest);
    let (body, mut feeding) = match body {
        None => (Body::empty(), None),
        Some(Err(whole)) => (whole, None),
        Some(Ok(decoder)) => {
            let (body, shared) = Body::fed(decoder);
            let feeding = Feeding {
                decoder,
                shared,
                continue_sent: expect_continue.then_some(0),
                ended: false,
                broken: false,
            };
            (body, Some(feeding))
        }
    };
    let mut request = Request::new(RequestBody::H1(body));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    let mut respond = handler.call(request, info.clone());
    let response = poll_fn(|cx| {
        if let Poll::Ready(response) = respond.as_mut().poll(cx) {
            return Poll::Ready(response);
        }
        if let Some(feeding) = feeding.as_mut() {
            feeding.poll(cx, io, buf);
        }
        Poll::Pending
    })
    .await;
    drop(respond);

    let mut close = !keep_alive || *stop.borrow();
    if let Some(feeding) = &feeding {
        // A body the client was not told to send may never come; a broken
        // one leaves the framing unknown; a long one is not waited for.
        close |= feeding.broken
            || (!feeding.ended && feeding.continue_sent.is_some())
            || matches!(feeding.decoder, Decoder::Length(n) if n > DRAIN);
    }
    let (parts, mut full) = response.into_parts();
    let bytes = whole(&mut full);
    let framing = write::Framing {
        head: is_head,
        close,
        keep_alive_10: keep_alive && version == http::Version::HTTP_10,
    };
    let out = write::encode(parts.status, &parts.headers, &bytes, &framing);
    let mut written = write_all(io, &out, settings.idle_timeout).await;
    drop(out);
    if written && write::body_apart(parts.status, &bytes, &framing) {
        written = write_all(io, &bytes, settings.idle_timeout).await;
    }
    drop(bytes);
    if !written {
        return After::Close;
    }
    let unread = feeding.as_ref().is_some_and(|f| !f.ended);
    if close {
        // A body left unread, or bytes past this request (pipelined
        // after a `close`), may still be arriving.
        return if unread || !buf.is_empty() {
            After::Linger
        } else {
            After::Close
        };
    }
    match feeding {
        Some(feeding) if !feeding.ended => {
            if drain(io, buf, feeding.decoder, settings.header_read_timeout).await {
                After::Next
            } else {
                After::Linger
            }
        }
        _ => After::Next,
    }
}

/// A body being fed to the handler.
struct Feeding {
    decoder: Decoder,
    shared: Arc<Shared>,
    /// Bytes of `100 Continue` written while it is still to be sent
    /// (`None`: sent, or not asked for).
    continue_sent: Option<usize>,
    ended: bool,
    broken: bool,
}

impl Feeding {
    /// Reads and delivers pieces while the body asks for them.
    fn poll<IO: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut IO,
        buf: &mut BytesMut,
    ) {
        while !self.ended {
            if let Step::Idle = self.shared.step(cx) {
                return;
            }
            if let Some(sent) = self.continue_sent {
                match Pin::new(&mut *io).poll_write(cx, &CONTINUE[sent..]) {
                    Poll::Ready(Ok(n)) if n > 0 => {
                        let sent = sent + n;
                        self.continue_sent = (sent < CONTINUE.len()).then_some(sent);
                        continue;
                    }
                    Poll::Pending => return,
                    Poll::Ready(_) => return self.fail("the connection failed"),
                }
            }
            if let Poll::Ready(Err(_)) = Pin::new(&mut *io).poll_flush(cx) {
                return self.fail("the connection failed");
            }
            match feed(&mut self.decoder, buf, &self.shared) {
                Ok(true) => self.ended = self.decoder.is_done(),
                Ok(false) => match poll_read_some(io, cx, buf) {
                    Poll::Ready(Ok(n)) if n > 0 => {}
                    Poll::Ready(_) => return self.fail("the connection closed inside the body"),
                    Poll::Pending => return,
                },
                Err(why) => return self.fail(why),
            }
        }
    }

    fn fail(&mut self, why: &'static str) {
        self.shared.fail(why);
        self.ended = true;
        self.broken = true;
    }
}

/// The rest of an unread body, up to `DRAIN` bytes within `within`:
/// whether the connection is ready for the next request.
async fn drain<IO: AsyncRead + Unpin>(
    io: &mut IO,
    buf: &mut BytesMut,
    mut decoder: Decoder,
    within: Duration,
) -> bool {
    let until = Instant::now() + within;
    let mut drained = 0u64;
    loop {
        match decoder.decode(buf) {
            Ok(Some(piece)) => {
                drained += piece.len() as u64;
                if drained > DRAIN {
                    return false;
                }
            }
            Ok(None) if decoder.is_done() => return true,
            Ok(None) => match timeout_at(until, read_some(io, buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return false,
            },
            Err(_) => return false,
        }
    }
}

/// A `Full` body's bytes (it is ready at once).
fn whole(full: &mut Full<Bytes>) -> Bytes {
    let mut cx = Context::from_waker(Waker::noop());
    match hyper::body::Body::poll_frame(Pin::new(full), &mut cx) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

/// Writes `out` and flushes it; each write must progress within `within`
/// (a client that does not read cannot hold the connection forever).
async fn write_all<IO: AsyncWrite + Unpin>(io: &mut IO, out: &[u8], within: Duration) -> bool {
    let mut at = 0;
    while at < out.len() {
        match unless_ready(within, io.write(&out[at..])).await {
            Some(Ok(n)) if n > 0 => at += n,
            _ => return false,
        }
    }
    matches!(unless_ready(within, io.flush()).await, Some(Ok(())))
}

/// `future`'s output, or `None` when it is not ready within `within` of
/// its first poll. The clock is read and a timer made only when that poll
/// finds it pending: a response's write (into TLS's buffer) and its flush
/// (into the socket's buffer) are ready at once, and a timeout made for
/// each cost two clock reads and two timers per response.
async fn unless_ready<F: std::future::Future>(within: Duration, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    if let Poll::Ready(out) = poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await {
        return Some(out);
    }
    timeout(within, future).await.ok()
}

/// Resolves once `stop` is set (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

thread_local! {
    /// Where reads land first, one per worker thread: an idle connection
    /// keeps no buffer of its own, and only the bytes that arrived are
    /// copied into the connection's.
    static SCRATCH_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH].into_boxed_slice());
}

/// Reads what is there (at most `SCRATCH` bytes) and appends it to `buf`.
pub(crate) async fn read_some<IO: AsyncRead + Unpin>(
    io: &mut IO,
    buf: &mut BytesMut,
) -> io::Result<usize> {
    poll_fn(|cx| poll_read_some(io, cx, buf)).await
}

fn poll_read_some<IO: AsyncRead + Unpin>(
    io: &mut IO,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    SCRATCH_BUF.with_borrow_mut(|scratch| {
        let mut read = ReadBuf::new(scratch);
        match Pin::new(io).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) => {
                buf.extend_from_slice(read.filled());
                Poll::Ready(Ok(read.filled().len()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
}

#[cfg(test)]
mod tests;
