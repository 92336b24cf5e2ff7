//! What the idle timeout counts: requests (HTTP/2 streams), not bytes. A
//! connection is busy from a request's arrival until its response body is
//! written (or the request is dropped); idle otherwise. Pings, the
//! server's keep-alive pings (RFC 9113 §6.7) as well as a client's, and
//! other frames that open no stream (SETTINGS, WINDOW_UPDATE) move bytes
//! but do not keep a connection open: counting bytes let a client that
//! sends only pings, or nothing at all between the server's own
//! keep-alive pings, hold its connection forever.
//!
//! Counting (not reading the clock) keeps the request path free of system
//! calls; the connection's watchdog compares counts between its ticks.
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// The requests of one connection.
#[derive(Clone, Default)]
pub(super) struct Streams(Arc<Counts>);

#[derive(Default)]
struct Counts {
    open: AtomicUsize,
    /// Requests begun and ended: a change between two ticks means the
    /// connection was busy in between, however briefly.
    changes: AtomicU64,
}

impl Streams {
    /// A request arrived; it ends when the guard is dropped.
    pub(super) fn begin(&self) -> Stream {
        self.0.open.fetch_add(1, Ordering::AcqRel);
        self.0.changes.fetch_add(1, Ordering::AcqRel);
        Stream(self.0.clone())
    }

    /// `None` while a request is open; otherwise the count of changes,
    /// unchanged between two ticks when the connection was idle.
    pub(super) fn quiet_since(&self) -> Option<u64> {
        let changes = self.0.changes.load(Ordering::Acquire);
        (self.0.open.load(Ordering::Acquire) == 0).then_some(changes)
    }
}

/// An open request.
pub(super) struct Stream(Arc<Counts>);

impl Drop for Stream {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.changes.fetch_add(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request open until it is written.
pub(super) struct Tracked<B> {
    inner: B,
    _stream: Stream,
}

impl<B> Tracked<B> {
    pub(super) fn new(inner: B, stream: Stream) -> Tracked<B> {
        Tracked {
            inner,
            _stream: stream,
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
