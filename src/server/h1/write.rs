//! The response on the wire: the status line, the handler's header
//! fields, the framing the server owns (`Content-Length`, `Connection`,
//! `Date`) and the body, in one buffer written at once. Responses always
//! have a known length, so there is no chunked encoding to write.
use super::head::Refusal;
use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{HeaderMap, StatusCode};
use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// How one response goes out.
pub(super) struct Framing {
    /// The request was HEAD: the headers of a GET, no body.
    pub head: bool,
    /// The connection closes after this response.
    pub close: bool,
    /// An HTTP/1.0 client that asked to keep the connection.
    pub keep_alive_10: bool,
}

/// Bodies up to this size go in the head's buffer (one write); a larger
/// one is written from where it is, not copied.
pub(super) const COALESCE: usize = 64 * 1024;

/// The response as bytes to write: the head, and the body when it is
/// sent and at most `COALESCE` bytes (see [`body_apart`]).
pub(super) fn encode(
    status: StatusCode,
    headers: &HeaderMap,
    body: &Bytes,
    framing: &Framing,
) -> Vec<u8> {
    let bodyless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let inline = !bodyless && !framing.head && body.len() <= COALESCE;
    let mut out =
        Vec::with_capacity(128 + headers.len() * 40 + if inline { body.len() } else { 0 });
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut length_set = false;
    for (name, value) in headers {
        // The framing is the server's: what the handler set is dropped,
        // except a HEAD answer's announced length (what a GET would get).
        if name == CONNECTION || name == TRANSFER_ENCODING {
            continue;
        }
        if name == CONTENT_LENGTH {
            if !framing.head || bodyless || length_set {
                continue;
            }
            length_set = true;
        }
        header(&mut out, name.as_str().as_bytes(), value.as_bytes());
    }
    // (A HEAD answer without a body announces no length: hyper's rule.)
    if !(bodyless || length_set || framing.head && body.is_empty()) {
        let digits = itoa_buf(body.len() as u64);
        header(&mut out, b"content-length", digits.as_bytes());
    }
    if !headers.contains_key(DATE) {
        date(&mut out);
    }
    if framing.close {
        out.extend_from_slice(b"connection: close\r\n");
    } else if framing.keep_alive_10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if inline {
        out.extend_from_slice(body);
    }
    out
}

/// Whether the body must be written after what [`encode`] returned.
pub(super) fn body_apart(status: StatusCode, body: &Bytes, framing: &Framing) -> bool {
    let bodyless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    !bodyless && !framing.head && body.len() > COALESCE
}

/// A refusal as a SCIM error (RFC 7644 §3.12); the connection closes.
pub(super) fn refusal(refusal: &Refusal, head: bool) -> Vec<u8> {
    let mut error = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": refusal.status.as_str(),
        "detail": refusal.detail,
    });
    if let (Some(kind), Some(map)) = (refusal.scim_type, error.as_object_mut()) {
        map.insert("scimType".into(), kind.into());
    }
    let body = Bytes::from(error.to_string());
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/scim+json"),
    );
    let framing = Framing {
        head,
        close: true,
        keep_alive_10: false,
    };
    encode(refusal.status, &headers, &body, &framing)
}

fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// A number in decimal, without an allocation.
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn itoa_buf(mut n: u64) -> Digits {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    Digits { buf, start: at }
}

thread_local! {
    /// The `Date` field of the current second, per worker thread: formatted
    /// once a second, not per response.
    static DATE_LINE: Cell<(u64, [u8; 29])> = const { Cell::new((u64::MAX, [0; 29])) };
}

/// `date: <IMF-fixdate>` (RFC 9110 §5.6.7).
fn date(out: &mut Vec<u8>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (second, mut text) = DATE_LINE.get();
    if second != now {
        text = imf_fixdate(now);
        DATE_LINE.set((now, text));
    }
    header(out, b"date", &text);
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` for seconds since the epoch.
pub(super) fn imf_fixdate(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let (year, month, day) = crate::scim::datetime::civil_from_days(days as i64);
    let mut out = [0u8; 29];
    let two = |n: u64| [b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8];
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    out[3..5].copy_from_slice(b", ");
    out[5..7].copy_from_slice(&two(day as u64));
    out[7] = b' ';
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    out[11] = b' ';
    let year = year.clamp(0, 9999) as u64;
    out[12..14].copy_from_slice(&two(year / 100));
    out[14..16].copy_from_slice(&two(year % 100));
    out[16] = b' ';
    out[17..19].copy_from_slice(&two(hour));
    out[19] = b':';
    out[20..22].copy_from_slice(&two(minute));
    out[22] = b':';
    out[23..25].copy_from_slice(&two(second));
    out[25..29].copy_from_slice(b" GMT");
    out
}
