//! A request body on an HTTP/1 connection. The connection's task owns the
//! socket; the handler (which may run in a task of its own) reads the
//! body. Between them one slot: the body asks (`want`), the connection
//! reads and decodes one piece into the slot and wakes the body. So
//! nothing is read before the handler asks for it (an unauthenticated
//! request is refused without its body being read, and `100 Continue` is
//! sent only then), and at most one piece is held at a time.
//!
//! A body that is already whole in the connection's buffer (a small POST
//! arrives with its head) is handed over as it is: no slot, no wake-up.
use super::decode::Decoder;
use bytes::{Bytes, BytesMut};
use hyper::body::{Frame, SizeHint};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// A request body of an HTTP/1 connection.
pub(crate) struct Body(Kind);

enum Kind {
    Empty,
    Whole(Option<Bytes>),
    Fed { shared: Arc<Shared>, hint: SizeHint },
}

/// Why a body could not be read: its framing was invalid, or the
/// connection ended or timed out before it did.
#[derive(Debug)]
pub(crate) struct BodyError(pub(crate) &'static str);

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for BodyError {}

#[derive(Default)]
pub(super) struct Shared(Mutex<State>);

#[derive(Default)]
struct State {
    piece: Option<Bytes>,
    done: bool,
    failed: Option<&'static str>,
    /// The body waits for a piece.
    want: bool,
    reader: Option<Waker>,
    conn: Option<Waker>,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Body {
    pub(crate) fn empty() -> Body {
        Body(Kind::Empty)
    }

    pub(crate) fn whole(bytes: Bytes) -> Body {
        Body(Kind::Whole(Some(bytes)))
    }

    /// A body the connection feeds, and the connection's end of it.
    pub(super) fn fed(decoder: Decoder) -> (Body, Arc<Shared>) {
        let shared = Arc::new(Shared::default());
        let hint = match decoder {
            Decoder::Length(n) => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        };
        let body = Body(Kind::Fed {
            shared: shared.clone(),
            hint,
        });
        (body, shared)
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.0 {
            Kind::Empty => Poll::Ready(None),
            Kind::Whole(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Fed { shared, .. } => {
                let mut state = shared.state();
                if let Some(piece) = state.piece.take() {
                    return Poll::Ready(Some(Ok(Frame::data(piece))));
                }
                if let Some(why) = state.failed {
                    return Poll::Ready(Some(Err(BodyError(why))));
                }
                if state.done {
                    return Poll::Ready(None);
                }
                state.want = true;
                if !state
                    .reader
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    state.reader = Some(cx.waker().clone());
                }
                if let Some(conn) = state.conn.take() {
                    conn.wake();
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Empty => true,
            Kind::Whole(bytes) => bytes.is_none(),
            Kind::Fed { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Whole(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Kind::Fed { hint, .. } => *hint,
        }
    }
}

/// What the connection does for a fed body on each poll.
pub(super) enum Step {
    /// Nothing asked (or the body is gone): wait for the handler.
    Idle,
    /// The body asks for a piece.
    Wanted,
}

impl Shared {
    /// Whether the body asks for a piece now; the connection's waker is
    /// kept so the body can wake it when it asks.
    pub(super) fn step(self: &Arc<Self>, cx: &Context<'_>) -> Step {
        let mut state = self.state();
        if Arc::strong_count(self) == 1 || !state.want || state.piece.is_some() || state.done {
            if !state.conn.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                state.conn = Some(cx.waker().clone());
            }
            return Step::Idle;
        }
        Step::Wanted
    }

    /// A piece for the body (`None`: the body is complete).
    pub(super) fn deliver(&self, piece: Option<Bytes>) {
        let mut state = self.state();
        match piece {
            Some(piece) => state.piece = Some(piece),
            None => state.done = true,
        }
        state.want = false;
        if let Some(reader) = state.reader.take() {
            reader.wake();
        }
    }

    /// The body cannot be read to its end.
    pub(super) fn fail(&self, why: &'static str) {
        let mut state = self.state();
        state.failed = Some(why);
        state.want = false;
        if let Some(reader) = state.reader.take() {
            reader.wake();
        }
    }
}

/// Decodes what `buf` holds into `shared`'s slot: `true` when a piece (or
/// the end) was delivered, `false` when more bytes are needed.
pub(super) fn feed(
    decoder: &mut Decoder,
    buf: &mut BytesMut,
    shared: &Shared,
) -> Result<bool, &'static str> {
    match decoder.decode(buf)? {
        Some(piece) => {
            shared.deliver(Some(piece));
            Ok(true)
        }
        None if decoder.is_done() => {
            shared.deliver(None);
            Ok(true)
        }
        None => Ok(false),
    }
}
