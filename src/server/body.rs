//! The request body the handler reads, whichever protocol carried it:
//! hyper's for HTTP/2, the server's own for HTTP/1 (`super::h1`). The
//! pipeline reads either the same way, with its own bound.
use super::h1;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A request's body.
pub(crate) enum RequestBody {
    H2(Incoming),
    H1(h1::Body),
}

/// Why a request body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    H2(hyper::Error),
    H1(h1::BodyError),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::H2(e) => e.fmt(f),
            BodyError::H1(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::H2(e) => Some(e),
            BodyError::H1(e) => Some(e),
        }
    }
}

impl From<Incoming> for RequestBody {
    fn from(body: Incoming) -> RequestBody {
        RequestBody::H2(body)
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            RequestBody::H2(b) => Pin::new(b)
                .poll_frame(cx)
                .map(|f| f.map(|f| f.map_err(BodyError::H2))),
            RequestBody::H1(b) => Pin::new(b)
                .poll_frame(cx)
                .map(|f| f.map(|f| f.map_err(BodyError::H1))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::H2(b) => b.is_end_stream(),
            RequestBody::H1(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::H2(b) => b.size_hint(),
            RequestBody::H1(b) => b.size_hint(),
        }
    }
}
