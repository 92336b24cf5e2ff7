//! How a response body is delimited (RFC 9112 §6.3): `Content-Length`
//! fields read together, the final transfer coding, and the chunk-size
//! line; plus the token test for list-valued headers (`Connection`).
//! Imports only the error type beside it.
use super::{malformed, Error};
use http::header::TRANSFER_ENCODING;
use http::{HeaderMap, HeaderName, Method, StatusCode};

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

/// What a response's `Content-Length` fields say, all of them together
/// (RFC 9112 §6.3: a list of equal values is that value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Length {
    Absent,
    Is(usize),
    /// Not a number, or values that differ.
    Invalid(&'static str),
}

impl Length {
    /// The lengths so far and one more field's value.
    pub(super) fn and(self, value: &[u8]) -> Length {
        let mut length = self;
        for part in value.split(|b| *b == b',') {
            let part = part.trim_ascii();
            let n = (!part.is_empty() && part.len() <= 19 && part.iter().all(u8::is_ascii_digit))
                .then(|| {
                    part.iter()
                        .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'))
                });
            length = match (length, n) {
                (Length::Invalid(e), _) => Length::Invalid(e),
                (_, None) => Length::Invalid("Content-Length is not a number"),
                (Length::Is(l), Some(n)) if l != n => {
                    Length::Invalid("Content-Length has different values")
                }
                (_, Some(n)) => Length::Is(n),
            };
        }
        length
    }
}

/// The body's framing (RFC 9112 §6.3).
pub(super) fn framing(
    method: &Method,
    status: StatusCode,
    headers: &HeaderMap,
    length: Length,
) -> Result<Framing, Error> {
    if *method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    if headers.contains_key(TRANSFER_ENCODING) {
        // The final coding decides; chunked anywhere else is invalid.
        let codings: Vec<&str> = headers
            .get_all(TRANSFER_ENCODING)
            .iter()
            .map(|v| v.to_str().map_err(|_| malformed("Transfer-Encoding")))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        let last = codings
            .last()
            .is_some_and(|c| c.eq_ignore_ascii_case("chunked"));
        let chunked_before = codings[..codings.len().saturating_sub(1)]
            .iter()
            .any(|c| c.eq_ignore_ascii_case("chunked"));
        if chunked_before {
            return Err(malformed("chunked is not the final transfer coding"));
        }
        return Ok(if last {
            Framing::Chunked
        } else {
            Framing::UntilClose
        });
    }
    Ok(match length {
        Length::Is(0) => Framing::Empty,
        Length::Is(n) => Framing::Length(n),
        Length::Absent => Framing::UntilClose,
        Length::Invalid(e) => return Err(malformed(e)),
    })
}

/// The size of a chunk from its line (`1a;ext=x`).
pub(super) fn chunk_size(line: &[u8]) -> Result<usize, Error> {
    let digits = line
        .iter()
        .position(|b| *b == b';' || *b == b' ' || *b == b'\t')
        .map_or(line, |end| &line[..end]);
    if digits.is_empty() || digits.len() > 15 {
        return Err(malformed("a chunk size"));
    }
    digits.iter().try_fold(0usize, |n, b| {
        let d = char::from(*b)
            .to_digit(16)
            .ok_or_else(|| malformed("a chunk size"))?;
        Ok(n << 4 | d as usize)
    })
}

/// Whether a comma-separated header holds `token` (ignoring case).
pub(super) fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}
