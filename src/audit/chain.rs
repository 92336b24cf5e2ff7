//! The hash chain: how a record becomes a line. A line is the record's
//! JSON object with `seq` and `prev` put first:
//! `{"seq":7,"prev":"<hex SHA-256>",<the record's fields>}`.
//!
//! `prev` is the SHA-256, in lowercase hex, of the previous line's exact
//! bytes as stored, without its trailing newline; the first line of a
//! fresh log carries 64 zeros. The hashed bytes are exactly the bytes on
//! disk, so verifying needs no canonical re-serialization: any change to a
//! line, however it keeps the JSON meaning, breaks the chain.

/// `prev` of the first record of a fresh log.
pub(crate) const ZERO_HASH: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// The end of the chain: the last line written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainHead {
    /// Its `seq` (0 before the first record).
    pub seq: u64,
    /// The SHA-256 of its bytes (all zeros before the first record).
    pub hash: [u8; 32],
}

// === impl ChainHead ===

impl ChainHead {
    /// The head of an empty log.
    pub(crate) fn fresh() -> ChainHead {
        ChainHead {
            seq: 0,
            hash: [0; 32],
        }
    }

    /// The head after `line`, which carries `seq`.
    pub(crate) fn after(seq: u64, line: &[u8]) -> ChainHead {
        ChainHead {
            seq,
            hash: line_hash(line),
        }
    }

    /// The hash in hex, as the next line's `prev`.
    pub(crate) fn hash_hex(&self) -> String {
        hex(&self.hash)
    }
}

/// SHA-256 of a line's bytes (without the newline). `ring`'s: its
/// assembly (SHA extensions, else AVX) takes markedly fewer instructions
/// than `sha2`'s portable code on a CPU without the SHA extensions (26k
/// of 58k per record saved, benches/load/README.md); the digests are the
/// same.
pub(crate) fn line_hash(line: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, line);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
    // Hex digits are ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends to `out` the line for `object` (a serialized JSON object, as
/// serde_json writes it: no newline inside) with `fields` put first, and
/// returns the range of `out` that holds the line (without the newline,
/// which is appended too). `object` not starting with `{` is written as an
/// empty object's fields.
pub(crate) fn push_line(
    out: &mut Vec<u8>,
    fields: &[(&str, FieldValue<'_>)],
    object: &[u8],
) -> std::ops::Range<usize> {
    let start = out.len();
    out.push(b'{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        match value {
            FieldValue::U64(n) => {
                let mut digits = [0u8; 20];
                let mut at = digits.len();
                let mut n = *n;
                loop {
                    at -= 1;
                    digits[at] = b'0' + (n % 10) as u8;
                    n /= 10;
                    if n == 0 {
                        break;
                    }
                }
                out.extend_from_slice(&digits[at..]);
            }
            FieldValue::Str(s) => {
                out.push(b'"');
                out.extend_from_slice(s.as_bytes());
                out.push(b'"');
            }
            FieldValue::Raw(raw) => out.extend_from_slice(raw),
        }
    }
    let rest = match object.strip_prefix(b"{") {
        Some(rest) => rest,
        None => b"}",
    };
    if !rest.starts_with(b"}") && !fields.is_empty() {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    let end = out.len();
    out.push(b'\n');
    start..end
}

/// A value written by [`push_line`]: numbers, strings that need no JSON
/// escaping (hex, digits), or raw JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FieldValue<'a> {
    U64(u64),
    Str(&'a str),
    Raw(&'a [u8]),
}
