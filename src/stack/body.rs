//! The bounded body read: a request body up to the server's cap (413
//! beyond it, refused early when the client announces more), within the
//! request deadline (408 when the client is too slow).
//!
//! Imports: the error types and the upstream `Deadline`; nothing of the
//! pipeline.
use crate::error::{GatewayError, Reason};
use crate::scim::error::ScimError;
use crate::upstream::Deadline;
use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http_body_util::{BodyExt, Limited};

/// Reads the body within the request deadline (the pipeline's read).
pub(super) async fn read_within<B>(
    headers: &http::HeaderMap,
    body: B,
    limit: usize,
    deadline: Deadline,
) -> Result<Bytes, GatewayError>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout_at(deadline.at, read(headers, body, limit)).await {
        Ok(body) => body,
        Err(_) => Err(GatewayError::client_reason(
            ScimError::new(
                408,
                None,
                format!(
                    "the request did not arrive within {}",
                    humantime::format_duration(deadline.within)
                ),
            ),
            Reason::RequestTimeout,
        )),
    }
}

/// Reads a request body up to `limit` bytes.
pub(super) async fn read<B>(
    headers: &http::HeaderMap,
    body: B,
    limit: usize,
) -> Result<Bytes, GatewayError>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let too_large = || {
        GatewayError::client_reason(
            ScimError::payload_too_large(format!("the request body is larger than {limit} bytes")),
            Reason::PayloadTooLarge,
        )
    };
    // Refuse early when the client announces too much.
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(GatewayError::client_reason(
            ScimError::invalid_syntax("the request body could not be read"),
            Reason::BodyRead,
        )
        .with_cause(e)),
    }
}
