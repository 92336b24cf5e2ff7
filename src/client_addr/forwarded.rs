//! The forwarding headers a trusted proxy writes, read right to left:
//! `X-Forwarded-For` (comma-separated addresses, one header line per
//! proxy or one list) and `Forwarded` (RFC 7239: the `for=` parameter of
//! each comma-separated element).
//!
//! Only what a walk from the right reaches is parsed: the entries the
//! trusted proxies appended, up to the first address that is not a
//! trusted proxy. Whatever the client itself sent further left is never
//! read, so garbage there cannot make a request fail or fall back. An
//! entry the walk does reach that is not a plain address (`unknown`, an
//! obfuscated `_id`, a broken quote, a name) makes the whole header
//! malformed: the caller then uses the proxy itself, never a guess.
use http::header::{HeaderMap, HeaderName};
use std::net::IpAddr;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// Which header the trusted proxies write. One, never both: a proxy
/// that appends to one passes the other through as the client sent it,
/// so reading both would let a client write its own address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded`.
    Forwarded,
}

impl ForwardedHeader {
    pub fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }
}

/// An entry the walk could not read as an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// The header's entries from the rightmost leftwards, each an address or
/// [`Malformed`]. Lazy: the caller stops where it has its answer, so at
/// most the walked entries are parsed; nothing is allocated.
pub fn entries_from_right(
    headers: &HeaderMap,
    which: ForwardedHeader,
) -> impl Iterator<Item = Result<IpAddr, Malformed>> + '_ {
    let name = match which {
        ForwardedHeader::XForwardedFor => &X_FORWARDED_FOR,
        ForwardedHeader::Forwarded => &FORWARDED,
    };
    headers.get_all(name).iter().rev().flat_map(move |value| {
        // A value that is not visible ASCII is one malformed entry.
        let (text, broken) = match value.to_str() {
            Ok(t) => (t, false),
            Err(_) => ("", true),
        };
        broken.then_some(Err(Malformed)).into_iter().chain(
            text.rsplit(',')
                .map(|entry| entry.trim_matches([' ', '\t']))
                // `a, , b`: list syntax (RFC 9110 §5.6.1) allows empty
                // elements; they name nobody.
                .filter(|entry| !entry.is_empty())
                .map(move |entry| match which {
                    ForwardedHeader::XForwardedFor => address(entry),
                    ForwardedHeader::Forwarded => forwarded_for(entry),
                }),
        )
    })
}

/// `for=` of one `Forwarded` element (`for=192.0.2.1;proto=https`).
fn forwarded_for(element: &str) -> Result<IpAddr, Malformed> {
    let mut found = None;
    for pair in element.split(';') {
        let pair = pair.trim_matches([' ', '\t']);
        let Some((name, value)) = pair.split_once('=') else {
            return Err(Malformed);
        };
        if name.eq_ignore_ascii_case("for") {
            if found.is_some() {
                // Two `for` in one element: which one is the proxy's?
                return Err(Malformed);
            }
            found = Some(value);
        }
    }
    let value = found.ok_or(Malformed)?;
    let value = match value.strip_prefix('"') {
        // No escapes in an address; a quote inside is a broken value (or
        // a quoted comma the right-to-left split cut).
        Some(rest) => rest.strip_suffix('"').filter(|v| !v.contains(['"', '\\'])),
        None => Some(value).filter(|v| !v.contains('"')),
    };
    address(value.ok_or(Malformed)?)
}

/// `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:8080`; nothing else.
fn address(s: &str) -> Result<IpAddr, Malformed> {
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or(Malformed)?;
        let ip: std::net::Ipv6Addr = ip.parse().map_err(|_| Malformed)?;
        return match after {
            "" => Ok(IpAddr::V6(ip)),
            after => port(after.strip_prefix(':').ok_or(Malformed)?).map(|()| IpAddr::V6(ip)),
        };
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(ip);
    }
    // IPv4 with a port (an IPv6 address with a port is bracketed).
    let (ip, digits) = s.rsplit_once(':').ok_or(Malformed)?;
    let ip: std::net::Ipv4Addr = ip.parse().map_err(|_| Malformed)?;
    port(digits).map(|()| IpAddr::V4(ip))
}

/// A port: 1 to 5 digits, at most 65535.
fn port(digits: &str) -> Result<(), Malformed> {
    let ok = !digits.is_empty()
        && digits.len() <= 5
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<u32>().is_ok_and(|p| p <= 65535);
    ok.then_some(()).ok_or(Malformed)
}
