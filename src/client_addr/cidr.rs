//! Address ranges (`10.0.0.0/8`, `2001:db8::/32`, or a bare address) and
//! sets of them: the PROXY-protocol allow-list and `trusted_proxies`.
//!
//! An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack
//! socket reports for an IPv4 peer) is matched as the IPv4 address, so a
//! range is written once.
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// One range: a network address and its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask32(u32::from(ip), self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask128(u128::from(ip), self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask32(v: u32, prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => v & (u32::MAX << (32 - u32::from(p.min(32)))),
    }
}

fn mask128(v: u128, prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => v & (u128::MAX << (128 - u32::from(p.min(128)))),
    }
}

/// An IPv4-mapped IPv6 address as IPv4; anything else as is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Why a range did not parse (the config error's text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// `ADDRESS/PREFIX` or a bare `ADDRESS` (one host). Host bits set
    /// (`10.1.2.3/8`) are refused rather than masked: the operator meant
    /// one of two different things, and guessing would trust the wrong
    /// range.
    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let bad = |why: &str| CidrError(format!("\"{s}\" is not an address range: {why}"));
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| bad("expected e.g. \"10.0.0.0/8\", \"192.0.2.7\" or \"2001:db8::/32\""))?;
        let ip = canonical(ip);
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .map_err(|_| bad("the prefix is not a number"))?,
            Some(_) => return Err(bad("the prefix is not a number")),
        };
        if prefix > max {
            return Err(bad(&format!("the prefix is at most {max}")));
        }
        let cidr = Cidr { net: ip, prefix };
        let masked = match ip {
            IpAddr::V4(v4) => IpAddr::V4(mask32(u32::from(v4), prefix).into()),
            IpAddr::V6(v6) => IpAddr::V6(mask128(u128::from(v6), prefix).into()),
        };
        if masked != ip {
            return Err(bad(&format!(
                "the address has bits set beyond the /{prefix} prefix (did you mean \"{masked}/{prefix}\"?)"
            )));
        }
        Ok(cidr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// A set of ranges; empty matches nothing. Few ranges are expected (the
/// balancers and proxies of one deployment), so a linear scan: no
/// allocation and a handful of compares per lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrSet(Vec<Cidr>);

impl CidrSet {
    pub fn new(ranges: Vec<Cidr>) -> CidrSet {
        CidrSet(ranges)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a range covers every address of its family (`0.0.0.0/0`,
    /// `::/0`): trusting it means trusting anyone.
    pub fn covers_everything(&self) -> bool {
        self.0.iter().any(|c| c.prefix == 0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_contain_what_they_say() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.255.1.2")));
        assert!(c.contains(ip("::ffff:10.1.1.1")), "mapped IPv4 is IPv4");
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(!c.contains(ip("::1")));
        let host: Cidr = "192.0.2.7".parse().unwrap();
        assert!(host.contains(ip("192.0.2.7")));
        assert!(!host.contains(ip("192.0.2.8")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")));
        assert!(!v6.contains(ip("2001:db9::5")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")));
        assert!(!all.contains(ip("2001:db8::1")));
        let set = CidrSet::new(vec![c, v6]);
        assert!(set.contains(ip("10.0.0.1")) && set.contains(ip("2001:db8::1")));
        assert!(!set.contains(ip("127.0.0.1")));
        assert!(!CidrSet::default().contains(ip("127.0.0.1")));
        assert!(CidrSet::new(vec![all]).covers_everything());
    }

    #[test]
    fn bad_ranges_are_refused_with_a_reason() {
        for bad in [
            "",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "10.0.0/8",
            "localhost",
            "10.0.0.1/8",
            "10.0.0.0/0008",
            " 10.0.0.0/8",
            "10.0.0.0 /8",
            "2001:db8::1/32",
            "010.0.0.0/8",
        ] {
            let e = bad.parse::<Cidr>().unwrap_err();
            assert!(
                e.to_string().contains("is not an address range"),
                "{bad}: {e}"
            );
        }
        let e = "10.1.2.3/8".parse::<Cidr>().unwrap_err();
        assert!(e.to_string().contains("did you mean \"10.0.0.0/8\""), "{e}");
    }
}
