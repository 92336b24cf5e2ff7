//! Host names as a request names its tenant: the `:port` stripped and
//! the name checked (DNS labels, an IPv4 address or a bracketed IPv6
//! one). Used on every request's `Host` and by the config's checks of the
//! names it lists; imports nothing.

/// A DNS name (letters, digits, `-`, `_`, dots between labels), an IPv4
/// address, or an IPv6 address in brackets; at most 253 characters.
pub(crate) fn valid_host_name(name: &str) -> bool {
    if let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    // Dot-separated labels of 1 to 63 letters, digits, `-` or `_`: one
    // pass over the bytes (it runs on every request's Host).
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let mut label = 0usize;
    for b in name.bytes() {
        if b == b'.' {
            if label == 0 {
                return false;
            }
            label = 0;
        } else if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            label += 1;
            if label > 63 {
                return false;
            }
        } else {
            return false;
        }
    }
    label > 0
}

/// `host:port` → `host`; `[v6]:port` → `[v6]`.
pub(crate) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports_are_stripped() {
        assert_eq!(strip_port("acme.example:8443"), "acme.example");
        assert_eq!(strip_port("[::1]:8443"), "[::1]");
        assert_eq!(strip_port("acme.example"), "acme.example");
    }

    #[test]
    fn host_names_are_dot_separated_labels() {
        // The byte loop agrees with the definition: labels of 1 to 63
        // letters, digits, `-` or `_`, at most 253 bytes in all.
        let by_definition = |name: &str| {
            !name.is_empty()
                && name.len() <= 253
                && name.split('.').all(|label| {
                    (1..=63).contains(&label.len())
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
        };
        let long = "a".repeat(63);
        let cases = [
            "acme.example".to_string(),
            "localhost".into(),
            "127.0.0.1".into(),
            "a_b-c.d".into(),
            ".acme".into(),
            "acme.".into(),
            "a..b".into(),
            ".".into(),
            "".into(),
            "acme example".into(),
            "acme@evil".into(),
            "é.example".into(),
            format!("{long}.{long}"),
            format!("{long}a.example"),
            [long.as_str(); 4].join("."),
            [long.as_str(); 3].join(".")
                + ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ];
        for name in &cases {
            assert_eq!(valid_host_name(name), by_definition(name), "{name:?}");
        }
        assert!(valid_host_name("[::1]"));
        assert!(!valid_host_name("[::1"));
    }
}
