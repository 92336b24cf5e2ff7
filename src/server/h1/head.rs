//! The request head (RFC 9112 §2-§3, §6): the request line and header
//! fields parsed once with `httparse` from the connection's buffer, the
//! values kept in the head's buffer without a copy each, the request
//! target made into an `http::Uri` the way hyper does (so routing sees
//! what it saw), and the body's framing decided. Anything ambiguous is
//! refused and the connection closed: a head two parsers could read two
//! ways is how requests are smuggled.
use super::decode::Decoder;
use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};
use std::mem::MaybeUninit;

/// The most header fields in a request head (hyper's default too).
pub(crate) const MAX_HEADERS: usize = 100;

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct Head {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    /// `None`: no body.
    pub body: Option<Decoder>,
    /// The client wants the connection kept after this request.
    pub keep_alive: bool,
    /// `Expect: 100-continue` with a body.
    pub expect_continue: bool,
}

/// A request refused before the handler: answered, then the connection
/// is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: &'static str,
}

fn refuse(status: StatusCode, detail: &'static str) -> Refusal {
    Refusal {
        status,
        scim_type: None,
        detail,
    }
}

fn bad(detail: &'static str) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        scim_type: Some("invalidSyntax"),
        detail,
    }
}

/// One head from `buf` if it holds a whole one (consumed from it, the
/// bytes after it left in `buf`), within `max` bytes. `Ok(None)`: more
/// bytes are needed.
pub(crate) fn parse(buf: &mut BytesMut, max: usize) -> Result<Option<Head>, Refusal> {
    let parsed = parse_split(buf, max)?;
    Ok(parsed.map(|(head, rest)| {
        buf.extend_from_slice(&rest);
        head
    }))
}

/// [`parse`], with the bytes after the head returned rather than put
/// back (`buf` is then empty): a body that arrived with its head is
/// handed over without a copy.
pub(crate) fn parse_split(
    buf: &mut BytesMut,
    max: usize,
) -> Result<Option<(Head, Bytes)>, Refusal> {
    // The buffer is frozen first, so that the values can be cut from it
    // as they are parsed (no table of offsets to fill and zero); a
    // partial head gets its buffer back as it was (unshared: no copy).
    let frozen = std::mem::take(buf).freeze();
    // Left uninitialized: httparse fills what it uses.
    let mut slots = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let parsed = request.parse_with_uninit_headers(&frozen, &mut slots);
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) if len > max => return Err(too_large(&frozen, max)),
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if frozen.len() > max => return Err(too_large(&frozen, max)),
        Ok(httparse::Status::Partial) => {
            *buf = frozen
                .try_into_mut()
                .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(refuse(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "the request has more than 100 header fields",
            ))
        }
        Err(httparse::Error::Version) => {
            return Err(refuse(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "only HTTP/1.0, HTTP/1.1 and HTTP/2 are served",
            ))
        }
        Err(_) => return Err(bad("the request head is not valid HTTP/1.1")),
    };
    let method = request
        .method
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or_else(|| bad("the request method is not valid"))?;
    let version = match request.version {
        Some(1) => Version::HTTP_11,
        _ => Version::HTTP_10,
    };
    let uri = Uri::from_maybe_shared(frozen.slice_ref(request.path.unwrap_or_default().as_bytes()))
        .map_err(|_| bad("the request target is not a valid URI"))?;
    check_target(&method, &uri)?;

    let http11 = version == Version::HTTP_11;
    let mut headers = HeaderMap::with_capacity(request.headers.len());
    let mut length: Option<u64> = None;
    let mut chunked = None;
    let mut keep_alive = http11;
    let mut expect_continue = false;
    for field in request.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| bad("a header field name is not valid"))?;
        let value = HeaderValue::from_maybe_shared(frozen.slice_ref(field.value))
            .map_err(|_| bad("a header field value is not valid"))?;
        if name == CONTENT_LENGTH {
            let n = content_length(value.as_bytes())?;
            if length.is_some_and(|l| l != n) {
                return Err(bad("the request has Content-Length fields that differ"));
            }
            length = Some(n);
        } else if name == TRANSFER_ENCODING {
            if !http11 {
                return Err(bad("Transfer-Encoding in an HTTP/1.0 request"));
            }
            chunked = Some(transfer_coding(chunked, value.as_bytes())?);
        } else if name == CONNECTION {
            if has_token(value.as_bytes(), b"close") {
                keep_alive = false;
            } else if !http11 && has_token(value.as_bytes(), b"keep-alive") {
                keep_alive = true;
            }
        } else if name == EXPECT {
            if !value.as_bytes().eq_ignore_ascii_case(b"100-continue") {
                return Err(Refusal {
                    status: StatusCode::EXPECTATION_FAILED,
                    scim_type: None,
                    detail: "the only expectation served is 100-continue",
                });
            }
            expect_continue = true;
        }
        headers.append(name, value);
    }
    let body = match (chunked, length) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "the request has both Transfer-Encoding and Content-Length",
            ))
        }
        (Some(true), None) => Some(Decoder::chunked()),
        (Some(false), None) => {
            return Err(refuse(
                StatusCode::NOT_IMPLEMENTED,
                "the only transfer coding served is chunked",
            ))
        }
        (None, Some(0) | None) => None,
        (None, Some(n)) => Some(Decoder::Length(n)),
    };
    let head = Head {
        method,
        uri,
        version,
        headers,
        expect_continue: expect_continue && body.is_some(),
        body,
        keep_alive,
    };
    Ok(Some((head, frozen.slice(len..))))
}

/// 414 when the request line alone is over the bound, 431 otherwise.
fn too_large(buf: &[u8], max: usize) -> Refusal {
    let line_end = buf.iter().position(|b| *b == b'\n');
    if line_end.is_none_or(|end| end > max) {
        return refuse(
            StatusCode::URI_TOO_LONG,
            "the request target is longer than the server accepts",
        );
    }
    refuse(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "the request head is larger than the server accepts",
    )
}

/// The request-target forms served (RFC 9112 §3.2): origin-form and
/// absolute-form for every method, `*` for OPTIONS only; no
/// authority-form (no CONNECT: the gateway is no tunnel).
fn check_target(method: &Method, uri: &Uri) -> Result<(), Refusal> {
    if *method == Method::CONNECT {
        return Err(refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "CONNECT is not served",
        ));
    }
    if uri.scheme().is_none() && uri.authority().is_some() {
        return Err(bad("an authority-form request target is only for CONNECT"));
    }
    if uri == "*" && *method != Method::OPTIONS {
        return Err(bad("the asterisk request target is only for OPTIONS"));
    }
    Ok(())
}

/// A `Content-Length` value: digits only (no sign, no list, no spaces
/// inside), without overflow.
pub(crate) fn content_length(value: &[u8]) -> Result<u64, Refusal> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return Err(bad("Content-Length is not a number"));
    }
    Ok(value.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// The transfer codings so far (`Some(true)`: chunked last) and one more
/// field's value. Only `chunked` alone is served: chunked twice, or before
/// another coding, is invalid (RFC 9112 §6.1); any other coding is one
/// the gateway cannot decode.
fn transfer_coding(before: Option<bool>, value: &[u8]) -> Result<bool, Refusal> {
    let mut chunked = before;
    for coding in value.split(|b| *b == b',') {
        let coding = coding.trim_ascii();
        if coding.is_empty() {
            continue;
        }
        if chunked == Some(true) {
            return Err(bad("chunked is not the final transfer coding"));
        }
        chunked = Some(chunked != Some(false) && coding.eq_ignore_ascii_case(b"chunked"));
    }
    chunked.ok_or_else(|| bad("Transfer-Encoding is empty"))
}

/// Whether a comma-separated value holds `token` (ignoring case).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}
