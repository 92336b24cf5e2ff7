//! The PROXY header parser under hostile input: every prefix of a valid
//! header is "need more", never an error or a wrong answer; garbage,
//! oversize, bad fields and lying lengths are refused; nothing panics.
#![allow(clippy::unwrap_used)]
use super::*;

fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
    let mut h = V2_SIGNATURE.to_vec();
    h.push(0x20 | command);
    h.push(family);
    h.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    h.extend_from_slice(body);
    h
}

fn inet4(src: [u8; 4], sport: u16) -> Vec<u8> {
    let mut b = src.to_vec();
    b.extend_from_slice(&[127, 0, 0, 1]);
    b.extend_from_slice(&sport.to_be_bytes());
    b.extend_from_slice(&443u16.to_be_bytes());
    b
}

/// Every strict prefix needs more; the whole parses to `want`.
fn parses_whole(header: &[u8], want: Option<&str>) {
    for cut in 0..header.len() {
        assert_eq!(parse(&header[..cut]), Ok(None), "prefix of {cut} bytes");
    }
    let mut with_payload = header.to_vec();
    with_payload.extend_from_slice(b"\x16\x03\x01 the TLS hello");
    let h = parse(&with_payload).unwrap().unwrap();
    assert_eq!(h.len, header.len());
    assert_eq!(h.source, want.map(|s| s.parse().unwrap()));
}

#[test]
fn v1_headers_name_the_client() {
    parses_whole(
        b"PROXY TCP4 127.0.0.7 127.0.0.1 40001 443\r\n",
        Some("127.0.0.7:40001"),
    );
    parses_whole(
        b"PROXY TCP6 2001:db8::7 ::1 0 443\r\n",
        Some("[2001:db8::7]:0"),
    );
    parses_whole(
        b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
        Some("255.255.255.255:65535"),
    );
    // UNKNOWN: the socket address; the rest of the line is ignored.
    parses_whole(b"PROXY UNKNOWN\r\n", None);
    parses_whole(
        b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
        None,
    );
    // The longest TCP6 line the specification allows still fits.
    let longest = format!(
        "PROXY TCP6 {0} {0} 65535 65535\r\n",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    );
    assert_eq!(longest.len(), 104);
    parses_whole(
        longest.as_bytes(),
        Some("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
    );
}

#[test]
fn v1_with_bad_fields_is_refused() {
    for bad in [
        "PROXY TCP4 127.0.0.7 127.0.0.1 40001 65536\r\n",
        "PROXY TCP4 127.0.0.7 127.0.0.1 040001 443\r\n",
        "PROXY TCP4 127.0.0.7 127.0.0.1 +4000 443\r\n",
        "PROXY TCP4 127.0.0.7 127.0.0.1 -1 443\r\n",
        "PROXY TCP4 127.0.0.7 127.0.0.1 4000a 443\r\n",
        "PROXY TCP4 127.0.0.7 127.0.0.1  443\r\n",
        "PROXY TCP4 127.0.0.7 127.0.0.1 40001\r\n",
        "PROXY TCP4 127.0.0.7 127.0.0.1 40001 443 extra\r\n",
        "PROXY TCP4 127.0.0.7 127.0.0.1 40001 443 \r\n",
        "PROXY TCP4  127.0.0.7 127.0.0.1 40001 443\r\n",
        "PROXY TCP4 ::1 127.0.0.1 40001 443\r\n",
        "PROXY TCP6 127.0.0.7 ::1 40001 443\r\n",
        "PROXY TCP4 127.0.0.256 127.0.0.1 40001 443\r\n",
        "PROXY TCP4 127.0.0 127.0.0.1 40001 443\r\n",
        "PROXY TCP4 127.000.0.7 127.0.0.1 40001 443\r\n",
        "PROXY TCP4 localhost 127.0.0.1 40001 443\r\n",
        "PROXY TCP5 127.0.0.7 127.0.0.1 40001 443\r\n",
        "PROXY tcp4 127.0.0.7 127.0.0.1 40001 443\r\n",
        "PROXY\r\n",
        "PROXY \r\n",
        "PROXY TCP4 127.0.0.7 127.0.0.1 40001 443\n",
        "PROXY TCP4 127.0.0.7 127.0.0.1 40001 443\rX",
        "PROXY TCP4 127.0.0.7\t127.0.0.1 40001 443\r\n",
        "PROXYTCP4 127.0.0.7 127.0.0.1 40001 443\r\n",
        "POST / HTTP/1.1\r\n",
        "PRI * HTTP/2.0\r\n",
    ] {
        assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
    }
    // Refused at the first byte that cannot start a header.
    assert!(parse(b"PROX\x00").is_err());
    assert!(parse(b"PUT ").is_err());
    assert!(parse(b"G").is_err());
    assert!(
        parse(b"\x16\x03\x01").is_err(),
        "a TLS ClientHello sent directly"
    );
}

#[test]
fn an_oversized_v1_line_is_refused_at_its_bound() {
    let long = format!("PROXY UNKNOWN {}", "x".repeat(200));
    assert_eq!(parse(&long.as_bytes()[..106]), Ok(None));
    assert!(parse(&long.as_bytes()[..107]).is_err());
    assert!(parse(long.as_bytes()).is_err());
    // A CR as the 107th byte: its LF would be the 108th.
    let mut cr_last = format!("PROXY UNKNOWN {}", "x".repeat(92)).into_bytes();
    cr_last.push(b'\r');
    assert_eq!(cr_last.len(), 107);
    assert!(parse(&cr_last).is_err());
}

#[test]
fn v2_headers_name_the_client_and_local_is_the_balancers_own() {
    parses_whole(
        &v2(1, 0x11, &inet4([127, 0, 0, 7], 40001)),
        Some("127.0.0.7:40001"),
    );
    let mut six = vec![0x20, 0x01, 0x0d, 0xb8];
    six.extend_from_slice(&[0; 11]);
    six.push(7);
    six.extend_from_slice(&[0; 16]);
    six.extend_from_slice(&40001u16.to_be_bytes());
    six.extend_from_slice(&443u16.to_be_bytes());
    parses_whole(&v2(1, 0x21, &six), Some("[2001:db8::7]:40001"));
    // LOCAL, with or without an address block: the socket address.
    parses_whole(&v2(0, 0x00, &[]), None);
    parses_whole(&v2(0, 0x11, &inet4([1, 2, 3, 4], 5)), None);
    // UNSPEC and UNIX: the socket address.
    parses_whole(&v2(1, 0x00, &[]), None);
    parses_whole(&v2(1, 0x31, &[b'/'; 216]), None);
    // TLVs (ALPN "h2", a NOOP, an empty one) are skipped.
    let mut body = inet4([127, 0, 0, 8], 1);
    body.extend_from_slice(&[0x01, 0, 2, b'h', b'2', 0x04, 0, 3, 0, 0, 0, 0xEE, 0, 0]);
    parses_whole(&v2(1, 0x11, &body), Some("127.0.0.8:1"));
}

#[test]
fn v2_with_lengths_that_lie_or_bad_fields_is_refused() {
    // An address block shorter than its family needs.
    assert!(parse(&v2(1, 0x11, &[127, 0, 0, 1])).is_err());
    assert!(parse(&v2(1, 0x21, &[0; 35])).is_err());
    assert!(parse(&v2(1, 0x31, &[0; 100])).is_err());
    // A TLV whose length runs past the header; a truncated TLV header.
    let mut body = inet4([127, 0, 0, 8], 1);
    body.extend_from_slice(&[0x01, 0, 9, b'h', b'2']);
    assert!(parse(&v2(1, 0x11, &body)).is_err());
    let mut body = inet4([127, 0, 0, 8], 1);
    body.extend_from_slice(&[0x01, 0]);
    assert!(parse(&v2(1, 0x11, &body)).is_err());
    // Version, command, family, transport out of range.
    let mut h = v2(1, 0x11, &inet4([1, 1, 1, 1], 1));
    h[12] = 0x11;
    assert!(parse(&h).is_err(), "version 1 in a v2 header");
    h[12] = 0x22;
    assert!(parse(&h).is_err(), "command 2");
    let mut h = v2(1, 0x41, &inet4([1, 1, 1, 1], 1));
    assert!(parse(&h).is_err(), "family 4");
    h[13] = 0x13;
    assert!(parse(&h).is_err(), "transport 3");
    // A damaged signature, at any byte.
    let good = v2(1, 0x11, &inet4([1, 1, 1, 1], 1));
    for i in 0..12 {
        let mut h = good.clone();
        h[i] ^= 0x40;
        assert!(parse(&h).is_err(), "signature byte {i}");
    }
}

#[test]
fn an_oversized_v2_header_is_refused_before_it_is_read() {
    // The length field alone decides: no need to wait for 64 KiB.
    let mut h = V2_SIGNATURE.to_vec();
    h.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
    assert!(parse(&h).is_err());
    let mut body = inet4([1, 1, 1, 1], 1);
    let pad = V2_MAX - 16 - body.len() - 3;
    body.extend_from_slice(&[0x04]);
    body.extend_from_slice(&u16::try_from(pad).unwrap().to_be_bytes());
    body.extend_from_slice(&vec![0; pad]);
    assert_eq!(parse(&v2(1, 0x11, &body)).unwrap().unwrap().len, V2_MAX);
    body.push(0);
    assert!(parse(&v2(1, 0x11, &body)).is_err());
}

#[test]
fn random_bytes_never_panic_and_prefixes_of_garbage_never_parse() {
    // A small xorshift: deterministic, no dependency.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds = [
        b"PROXY TCP4 127.0.0.7 127.0.0.1 40001 443\r\n".to_vec(),
        v2(1, 0x11, &inet4([127, 0, 0, 7], 40001)),
        v2(1, 0x21, &[0; 40]),
    ];
    for round in 0..20_000 {
        let mut bytes = seeds[round % seeds.len()].clone();
        // Flip, cut or extend at random.
        for _ in 0..(next() % 4) {
            let i = usize::try_from(next()).unwrap() % bytes.len().max(1);
            match next() % 3 {
                0 => bytes[i] = u8::try_from(next() & 0xff).unwrap(),
                1 => bytes.truncate(i),
                _ => bytes.insert(i, u8::try_from(next() & 0xff).unwrap()),
            }
            if bytes.is_empty() {
                break;
            }
        }
        if let Ok(Some(h)) = parse(&bytes) {
            assert!(h.len <= bytes.len() && h.len <= V2_MAX);
        }
    }
}
