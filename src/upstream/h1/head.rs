//! The response head (RFC 9112 §2-§5): the status line and header fields
//! parsed with `httparse` from the connection's buffer, interim 1xx
//! answers told apart, the values kept in the head's buffer without a
//! copy each, and the `Content-Length` fields read (never passed on).
//! Imports only the connection and framing beside it.
use super::framing::Length;
use super::{malformed, Conn, Error, MAX_HEAD, MAX_HEADERS};
use bytes::Buf;
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Version};

/// A whole head taken from the buffer.
pub(super) enum Head {
    /// A 1xx answer before the final one (skipped).
    Interim,
    Final(StatusCode, Version, HeaderMap, Length),
}

impl<S> Conn<S> {
    /// One head from the buffer, if it holds a whole one (consumed).
    pub(super) fn parse_head(&mut self) -> Result<Option<Head>, Error> {
        // Left uninitialized (httparse fills what it uses): zeroing 100
        // slots per answer showed in the profile.
        let mut slots = [std::mem::MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            &self.buf,
            &mut slots,
        );
        let len = match parsed {
            Ok(httparse::Status::Complete(len)) if len > MAX_HEAD => {
                return Err(malformed(format!(
                    "the response head is larger than {MAX_HEAD} bytes"
                )))
            }
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(malformed(e.to_string())),
        };
        let code = response.code.unwrap_or(0);
        let status =
            StatusCode::from_u16(code).map_err(|_| malformed(format!("status code {code}")))?;
        if status.is_informational() {
            if status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(malformed("an upgrade that was not asked for"));
            }
            self.buf.advance(len);
            return Ok(Some(Head::Interim));
        }
        let version = match response.version {
            Some(1) => Version::HTTP_11,
            _ => Version::HTTP_10,
        };
        // Where each name and value sits in the head, so the values can
        // share the head's buffer rather than be copied one by one.
        // (As 16-bit offsets: a head is at most MAX_HEAD bytes.)
        let base = self.buf.as_ptr() as usize;
        let mut spans = [(0u16, 0u16, 0u16, 0u16); MAX_HEADERS];
        let count = response.headers.len();
        let offset = |p: *const u8, len: usize| {
            let at = p as usize - base;
            Some((u16::try_from(at).ok()?, u16::try_from(at + len).ok()?))
        };
        for (span, h) in spans.iter_mut().zip(response.headers.iter()) {
            let (name, name_end) = offset(h.name.as_ptr(), h.name.len())
                .ok_or_else(|| malformed("a header beyond the head"))?;
            let (value, value_end) = offset(h.value.as_ptr(), h.value.len())
                .ok_or_else(|| malformed("a header beyond the head"))?;
            *span = (name, name_end, value, value_end);
        }
        let head = self.buf.split_to(len).freeze();
        let mut headers = HeaderMap::with_capacity(count);
        let mut length = Length::Absent;
        for &(name_start, name_end, value_start, value_end) in &spans[..count] {
            let (name_start, name_end) = (usize::from(name_start), usize::from(name_end));
            let (value_start, value_end) = (usize::from(value_start), usize::from(value_end));
            let name = head
                .get(name_start..name_end)
                .and_then(|n| HeaderName::from_bytes(n).ok())
                .ok_or_else(|| malformed("a header field name"))?;
            if value_end > head.len() {
                return Err(malformed("a header field value"));
            }
            // Framing, read here and never passed on: the gateway frames
            // what it sends from the body it holds (`headers::
            // clean_response_headers`).
            if name == CONTENT_LENGTH {
                length = length.and(&head[value_start..value_end]);
                continue;
            }
            let value = HeaderValue::from_maybe_shared(head.slice(value_start..value_end))
                .map_err(|_| malformed(format!("the value of {name}")))?;
            headers.append(name, value);
        }
        Ok(Some(Head::Final(status, version, headers, length)))
    }
}
