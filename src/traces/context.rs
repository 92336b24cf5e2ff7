//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): the
//! `traceparent` a caller sends, read strictly, and the one the gateway
//! writes for its own spans. Anything malformed (a wrong length, upper-case
//! hex, an all-zero id, version `ff`, an oversized value) is no parent at
//! all: the request starts a trace of its own, and is never refused for it.
use http::HeaderValue;

/// A trace id: 16 bytes, never all zero.
pub(crate) type TraceId = [u8; 16];
/// A span id: 8 bytes, never all zero.
pub(crate) type SpanId = [u8; 8];

/// The longest `traceparent` read (a future version may append fields;
/// nothing legitimate is near this).
const MAX_TRACEPARENT: usize = 512;
/// The longest `tracestate` passed on (the W3C advises at least 512 bytes
/// be propagated; a longer one is dropped whole rather than cut mid-member).
const MAX_TRACESTATE: usize = 512;
/// The most `tracestate` members (W3C: 32).
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// The caller's span, as its `traceparent` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parent {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// The caller's `sampled` flag.
    pub sampled: bool,
}

/// Parses a `traceparent` value, or `None` when it is malformed.
pub(crate) fn parse_traceparent(value: &[u8]) -> Option<Parent> {
    if value.len() < 55 || value.len() > MAX_TRACEPARENT {
        return None;
    }
    let version = hex_byte(value.get(0..2)?)?;
    // Version ff is invalid; version 00 is exactly 55 bytes; a later
    // version may append fields after a dash (read as version 00).
    if version == 0xff || (version == 0 && value.len() != 55) {
        return None;
    }
    if value.len() > 55 && value.get(55) != Some(&b'-') {
        return None;
    }
    if value.get(2) != Some(&b'-') || value.get(35) != Some(&b'-') || value.get(52) != Some(&b'-') {
        return None;
    }
    let mut trace_id = [0u8; 16];
    hex_into(value.get(3..35)?, &mut trace_id)?;
    let mut span_id = [0u8; 8];
    hex_into(value.get(36..52)?, &mut span_id)?;
    let flags = hex_byte(value.get(53..55)?)?;
    if trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    Some(Parent {
        trace_id,
        span_id,
        sampled: flags & 1 == 1,
    })
}

/// The `tracestate` to pass on beside a valid parent: kept as sent when it
/// is short, printable and has at most 32 members, else dropped.
pub(crate) fn bounded_tracestate(value: &HeaderValue) -> Option<HeaderValue> {
    let bytes = value.as_bytes();
    let members = bytes.iter().filter(|b| **b == b',').count() + 1;
    let printable = bytes.iter().all(|b| (0x20..0x7f).contains(b));
    (bytes.len() <= MAX_TRACESTATE
        && members <= MAX_TRACESTATE_MEMBERS
        && printable
        && !bytes.is_empty())
    .then(|| value.clone())
}

/// `00-<trace id>-<span id>-<flags>` for one of the gateway's spans.
pub(crate) fn traceparent(trace_id: &TraceId, span_id: &SpanId, sampled: bool) -> HeaderValue {
    let mut buf = [0u8; 55];
    buf[..3].copy_from_slice(b"00-");
    write_hex(trace_id, &mut buf[3..35]);
    buf[35] = b'-';
    write_hex(span_id, &mut buf[36..52]);
    buf[52] = b'-';
    buf[53] = b'0';
    buf[54] = if sampled { b'1' } else { b'0' };
    // Lower-case hex and dashes only: always a valid header value.
    HeaderValue::from_bytes(&buf).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Lower-case hex of `bytes`.
#[cfg(test)]
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    write_hex(bytes, &mut out);
    out.into_iter().map(char::from).collect()
}

fn write_hex(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
}

/// Lower-case hex only, as the W3C requires.
fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    match pair {
        [hi, lo] => Some(nibble(*hi)? << 4 | nibble(*lo)?),
        _ => None,
    }
}

fn hex_into(text: &[u8], out: &mut [u8]) -> Option<()> {
    if text.len() != out.len() * 2 {
        return None;
    }
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *o = hex_byte(pair)?;
    }
    Some(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_parent_is_read_and_written_back_alike() {
        let p = parse_traceparent(GOOD.as_bytes()).unwrap();
        assert!(p.sampled);
        assert_eq!(hex(&p.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex(&p.span_id), "00f067aa0ba902b7");
        assert_eq!(traceparent(&p.trace_id, &p.span_id, true), GOOD);
        let unsampled = GOOD.replace("-01", "-00");
        assert!(!parse_traceparent(unsampled.as_bytes()).unwrap().sampled);
    }

    #[test]
    fn malformed_values_are_no_parent() {
        let long = format!("{GOOD}{}", "-x".repeat(300));
        for bad in [
            "",
            "garbage",
            &GOOD.to_uppercase(),
            &GOOD.replace("4bf92f3577b34da6a3ce929d0e0e4736", &"0".repeat(32)),
            &GOOD.replace("00f067aa0ba902b7", &"0".repeat(16)),
            &GOOD.replacen("00-", "ff-", 1),
            &format!("{GOOD}-extra"), // version 00 is exactly 55 bytes
            &GOOD.replace('-', "_"),
            &GOOD[..54],
            &GOOD.replace("-01", "-0g"),
            &long,
        ] {
            assert_eq!(parse_traceparent(bad.as_bytes()), None, "{bad}");
        }
        // A later version may carry more fields after a dash.
        let future = format!("{}-more", GOOD.replacen("00-", "01-", 1));
        assert!(parse_traceparent(future.as_bytes()).is_some());
    }

    #[test]
    fn tracestate_is_bounded() {
        let ok = HeaderValue::from_static("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
        assert_eq!(bounded_tracestate(&ok), Some(ok.clone()));
        let many = (0..33)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",");
        let many = HeaderValue::from_str(&many).unwrap();
        assert_eq!(bounded_tracestate(&many), None);
        let long = HeaderValue::from_str(&format!("k={}", "v".repeat(600))).unwrap();
        assert_eq!(bounded_tracestate(&long), None);
    }
}
