//! The PROXY protocol header (versions 1 and 2, as HAProxy specifies
//! them) that an allow-listed balancer sends before anything else on a
//! connection: who the client is. Parsed here rather than with a crate:
//! the format is small, the read loop around it (bounded in bytes and
//! time, replaying what follows the header) is ours either way, and every
//! branch of the parser is tested against hostile input below.
//!
//! The server reads the header off the socket (`server::proxy_protocol`);
//! this is the pure parser, in the ground layer so that the fuzz target
//! reaches it.
//!
//! What a header gives:
//! - v1 `TCP4`/`TCP6`, v2 `PROXY` over `INET`/`INET6`: the source address
//!   and port, the client of every request on the connection;
//! - v1 `UNKNOWN`, v2 `LOCAL` (a balancer's health check), v2 `PROXY`
//!   over `UNSPEC` or `UNIX`: no client address; the connection is the
//!   balancer's own and the socket address is used.
//!
//! v2 TLVs are walked only to check that their lengths add up, then
//! skipped. Anything malformed refuses the connection: on a PROXY
//! listener there is no fallback to the socket address, or anyone could
//! bypass the balancer by sending no header.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The v2 signature (12 bytes).
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 line, CRLF included (the specification's bound).
const V1_MAX: usize = 107;
/// The longest v2 header accepted (16 bytes + addresses + TLVs). The
/// format allows 64 KiB; what balancers send (addresses, an ALPN, an
/// authority, a unique id, TLS facts) fits well under this.
pub const V2_MAX: usize = 4096;

/// Why a header was refused (for the debug log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid(pub &'static str);

/// A header parsed: the client it names (`None`: use the socket
/// address) and how many bytes it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub source: Option<SocketAddr>,
    pub len: usize,
}

/// Parses the header at the start of `buf`: `Ok(None)` when more bytes
/// are needed (and could still make a valid header).
pub fn parse(buf: &[u8]) -> Result<Option<Header>, Invalid> {
    match buf.first() {
        None => Ok(None),
        Some(b'P') => v1(buf),
        Some(b'\r') => v2(buf),
        Some(_) => Err(Invalid("not a PROXY protocol header")),
    }
}

fn v1(buf: &[u8]) -> Result<Option<Header>, Invalid> {
    let window = &buf[..buf.len().min(V1_MAX)];
    // Only printable ASCII, spaces and the final CRLF: refuses garbage
    // (and a TLS ClientHello) at its first odd byte.
    let end = window.iter().position(|&b| b == b'\r' || b == b'\n');
    if window[..end.unwrap_or(window.len())]
        .iter()
        .any(|&b| !(b' '..=b'~').contains(&b))
    {
        return Err(Invalid("v1: a byte that is not printable ASCII"));
    }
    let Some(end) = end else {
        if !b"PROXY ".starts_with(&window[..window.len().min(6)]) {
            return Err(Invalid("not a PROXY protocol header"));
        }
        return if buf.len() >= V1_MAX {
            Err(Invalid("v1: no CRLF within 107 bytes"))
        } else {
            Ok(None)
        };
    };
    if window[end] != b'\r' {
        return Err(Invalid("v1: a line that does not end in CRLF"));
    }
    match window.get(end..end + 2) {
        Some(b"\r\n") => {}
        Some(_) => return Err(Invalid("v1: a line that does not end in CRLF")),
        // Only the CR so far.
        None if buf.len() < V1_MAX => return Ok(None),
        None => return Err(Invalid("v1: no CRLF within 107 bytes")),
    }
    // Printable ASCII, so UTF-8.
    let line = std::str::from_utf8(&window[..end]).map_err(|_| Invalid("v1: not ASCII"))?;
    let len = end + 2;
    let mut parts = line.split(' ');
    if parts.next() != Some("PROXY") {
        return Err(Invalid("not a PROXY protocol header"));
    }
    let family = parts.next();
    if family == Some("UNKNOWN") {
        // The rest of the line is to be ignored (the specification).
        return Ok(Some(Header { source: None, len }));
    }
    let (src, dst, sport, dport) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), Some(c), Some(d)) => (a, b, c, d),
        _ => return Err(Invalid("v1: too few fields")),
    };
    if parts.next().is_some() {
        return Err(Invalid("v1: too many fields"));
    }
    // The destination is checked for form, not used.
    let (src, _dst): (IpAddr, IpAddr) = match family {
        Some("TCP4") => (
            src.parse::<Ipv4Addr>()
                .map_err(|_| Invalid("v1: a bad IPv4 address"))?
                .into(),
            dst.parse::<Ipv4Addr>()
                .map_err(|_| Invalid("v1: a bad IPv4 address"))?
                .into(),
        ),
        Some("TCP6") => (
            src.parse::<Ipv6Addr>()
                .map_err(|_| Invalid("v1: a bad IPv6 address"))?
                .into(),
            dst.parse::<Ipv6Addr>()
                .map_err(|_| Invalid("v1: a bad IPv6 address"))?
                .into(),
        ),
        _ => return Err(Invalid("v1: an unknown protocol family")),
    };
    let (sport, _dport) = (v1_port(sport)?, v1_port(dport)?);
    Ok(Some(Header {
        source: Some(SocketAddr::new(src, sport)),
        len,
    }))
}

/// A v1 port: decimal, no sign, no leading zero, at most 65535.
fn v1_port(s: &str) -> Result<u16, Invalid> {
    let ok = !s.is_empty()
        && s.len() <= 5
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.parse::<u16>().ok())
        .flatten()
        .ok_or(Invalid("v1: a bad port"))
}

fn v2(buf: &[u8]) -> Result<Option<Header>, Invalid> {
    let sig = buf.len().min(V2_SIGNATURE.len());
    if buf[..sig] != V2_SIGNATURE[..sig] {
        return Err(Invalid("not a PROXY protocol header"));
    }
    let Some(fixed) = buf.get(..16) else {
        return Ok(None);
    };
    let (version, command) = (fixed[12] >> 4, fixed[12] & 0x0f);
    if version != 2 {
        return Err(Invalid("v2: an unknown version"));
    }
    let (family, transport) = (fixed[13] >> 4, fixed[13] & 0x0f);
    if family > 3 || transport > 2 {
        return Err(Invalid("v2: an unknown address family or transport"));
    }
    let body_len = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    let len = 16 + body_len;
    if len > V2_MAX {
        return Err(Invalid("v2: longer than the gateway accepts"));
    }
    let Some(body) = buf.get(16..len) else {
        return Ok(None);
    };
    let (source, addresses) = match (command, family) {
        // LOCAL: the balancer's own connection; its address block (if
        // any) is to be ignored.
        (0, _) => return Ok(Some(Header { source: None, len })),
        (1, 0) => (None, 0),
        (1, 1) => {
            let a = body
                .get(..12)
                .ok_or(Invalid("v2: an IPv4 block shorter than 12 bytes"))?;
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            let port = u16::from_be_bytes([a[8], a[9]]);
            (Some(SocketAddr::new(ip.into(), port)), 12)
        }
        (1, 2) => {
            let a = body
                .get(..36)
                .ok_or(Invalid("v2: an IPv6 block shorter than 36 bytes"))?;
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&a[..16]);
            let port = u16::from_be_bytes([a[32], a[33]]);
            (Some(SocketAddr::new(Ipv6Addr::from(ip).into(), port)), 36)
        }
        (1, _) => {
            if body.len() < 216 {
                return Err(Invalid("v2: a UNIX block shorter than 216 bytes"));
            }
            (None, 216)
        }
        _ => return Err(Invalid("v2: an unknown command")),
    };
    // The TLVs: skipped, but their lengths must add up to the header's.
    let mut tlvs = body.get(addresses..).unwrap_or_default();
    while !tlvs.is_empty() {
        let Some(&[_, hi, lo]) = tlvs.get(..3) else {
            return Err(Invalid("v2: a truncated TLV"));
        };
        let end = 3 + usize::from(u16::from_be_bytes([hi, lo]));
        tlvs = tlvs
            .get(end..)
            .ok_or(Invalid("v2: a TLV longer than the header"))?;
    }
    Ok(Some(Header { source, len }))
}

#[cfg(test)]
#[path = "proxy_header_tests.rs"]
mod tests;
