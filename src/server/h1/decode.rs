//! A request body's framing on the wire (RFC 9112 §6-§7): a known
//! length, or chunks. Pure: bytes in, body bytes out, so it is fuzzed and
//! tested without a socket. Chunk sizes are hex with an overflow bound,
//! chunk extensions and trailers are read within bounds and dropped,
//! every line ends in CRLF (a bare LF is an error, never a guess: two
//! parsers that disagree on where a body ends are request smuggling).
use bytes::{Buf, Bytes, BytesMut};

/// The longest chunk-size line, extensions included.
const MAX_CHUNK_LINE: usize = 4096;
/// The most trailer bytes after the last chunk.
const MAX_TRAILERS: usize = 16 * 1024;

/// Where a body's decoding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoder {
    /// This many bytes still to come.
    Length(u64),
    Chunked(Chunk),
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk: this many data bytes still to come.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: trailer lines (this many bytes so far).
    Trailers(usize),
}

/// Why a body cannot be read: the connection must close.
pub(crate) type Malformed = &'static str;

impl Decoder {
    pub(crate) fn chunked() -> Decoder {
        Decoder::Chunked(Chunk::Size)
    }

    pub(crate) fn is_done(&self) -> bool {
        *self == Decoder::Done
    }

    /// The next piece of body from `buf` (consumed from it). `Ok(None)`:
    /// more bytes are needed, or the body is done (`is_done`).
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, Malformed> {
        loop {
            match *self {
                Decoder::Done => return Ok(None),
                Decoder::Length(0) => {
                    *self = Decoder::Done;
                    return Ok(None);
                }
                Decoder::Length(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = take(left, buf.len());
                    *self = Decoder::Length(left - n as u64);
                    return Ok(Some(buf.split_to(n).freeze()));
                }
                Decoder::Chunked(Chunk::Size) => {
                    let Some(line) = line(buf, MAX_CHUNK_LINE, "a chunk-size line is too long")?
                    else {
                        return Ok(None);
                    };
                    let size = chunk_size(&line)?;
                    *self = Decoder::Chunked(if size == 0 {
                        Chunk::Trailers(0)
                    } else {
                        Chunk::Data(size)
                    });
                }
                Decoder::Chunked(Chunk::Data(left)) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = take(left, buf.len());
                    let left = left - n as u64;
                    *self = Decoder::Chunked(if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    });
                    return Ok(Some(buf.split_to(n).freeze()));
                }
                Decoder::Chunked(Chunk::DataEnd) => {
                    if buf.len() < 2 {
                        if buf.first().is_some_and(|b| *b != b'\r') {
                            return Err("a chunk's data is not followed by CRLF");
                        }
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err("a chunk's data is not followed by CRLF");
                    }
                    buf.advance(2);
                    *self = Decoder::Chunked(Chunk::Size);
                }
                Decoder::Chunked(Chunk::Trailers(seen)) => {
                    let room = MAX_TRAILERS.saturating_sub(seen);
                    let Some(line) = line(buf, room, "the trailer fields are too large")? else {
                        return Ok(None);
                    };
                    if line.is_empty() {
                        *self = Decoder::Done;
                        return Ok(None);
                    }
                    // Trailer fields are read and dropped (RFC 9110 §6.5:
                    // a recipient may discard them); only their framing
                    // counts.
                    if line.iter().any(|b| *b == b'\r' || *b == 0) {
                        return Err("a trailer field holds CR or NUL");
                    }
                    *self = Decoder::Chunked(Chunk::Trailers(seen + line.len() + 2));
                }
            }
        }
    }
}

fn take(left: u64, available: usize) -> usize {
    usize::try_from(left).map_or(available, |left| left.min(available))
}

/// One CRLF-terminated line from `buf` (consumed, without the CRLF), if
/// `buf` holds a whole one within `max` bytes.
fn line(buf: &mut BytesMut, max: usize, too_long: Malformed) -> Result<Option<Bytes>, Malformed> {
    let window = &buf[..buf.len().min(max)];
    let Some(lf) = window.iter().position(|b| *b == b'\n') else {
        if buf.len() >= max {
            return Err(too_long);
        }
        return Ok(None);
    };
    if lf == 0 || buf[lf - 1] != b'\r' {
        return Err("a line of the chunked framing ends in a bare LF");
    }
    let line = buf.split_to(lf + 1).freeze();
    Ok(Some(line.slice(..lf - 1)))
}

/// The size of a chunk from its line: hex digits, then optional
/// whitespace and extensions (`1a ;name=value`), which are dropped.
pub(crate) fn chunk_size(line: &[u8]) -> Result<u64, Malformed> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err("a chunk size is not hexadecimal");
    }
    // 15 hex digits fit in 60 bits: no overflow below.
    if digits > 15 {
        return Err("a chunk size is too large");
    }
    let rest = &line[digits..];
    // Only spaces and tabs before an extension (RFC 9112 §7.1.1's BWS):
    // a CR is never whitespace here.
    let blank = rest
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    let ext = &rest[blank..];
    if !ext.is_empty() && ext[0] != b';' {
        return Err("a chunk size is followed by something other than an extension");
    }
    if ext
        .iter()
        .any(|b| (b.is_ascii_control() && *b != b'\t') || *b == 0x7f)
    {
        return Err("a chunk extension holds a control character");
    }
    Ok(line[..digits].iter().fold(0u64, |n, b| {
        let d = char::from(*b).to_digit(16).unwrap_or(0);
        n << 4 | u64::from(d)
    }))
}
