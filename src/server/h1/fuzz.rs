//! The head and body parsers driven as one over a byte stream, as the
//! connection drives them, for the fuzz target (`fuzz/fuzz_targets/
//! h1_server.rs`): what a stream of bytes is read as must not depend on
//! how it arrived in pieces (two readings of one stream are request
//! smuggling).
use super::decode::Decoder;
use super::head::parse;
use bytes::BytesMut;

/// The largest head in these runs (the server's default bound).
const MAX_HEAD: usize = 16 * 1024;

/// What the parsers made of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Request {
        method: String,
        target: String,
        fields: usize,
        body: Vec<u8>,
    },
    /// Refused before the handler, with this status; the connection ends.
    Refused(u16),
    /// The body's framing broke; the connection ends.
    Broken(&'static str),
    /// The bytes ended inside a request.
    Incomplete,
}

/// The requests in `wire`, fed `step` bytes at a time (at least one).
pub fn requests(wire: &[u8], step: usize) -> Vec<Parsed> {
    let step = step.max(1);
    let mut pieces = wire.chunks(step);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut more = |buf: &mut BytesMut| match pieces.next() {
        Some(piece) => {
            buf.extend_from_slice(piece);
            true
        }
        None => false,
    };
    loop {
        if buf.is_empty() && !more(&mut buf) {
            return out;
        }
        let head = match parse(&mut buf, MAX_HEAD) {
            Ok(Some(head)) => head,
            Ok(None) => {
                if !more(&mut buf) {
                    out.push(Parsed::Incomplete);
                    return out;
                }
                continue;
            }
            Err(refusal) => {
                out.push(Parsed::Refused(refusal.status.as_u16()));
                return out;
            }
        };
        let mut body = Vec::new();
        let mut decoder = head.body.unwrap_or(Decoder::Done);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(piece)) => body.extend_from_slice(&piece),
                Ok(None) if decoder.is_done() => break,
                Ok(None) => {
                    if !more(&mut buf) {
                        out.push(Parsed::Incomplete);
                        return out;
                    }
                }
                Err(why) => {
                    out.push(Parsed::Broken(why));
                    return out;
                }
            }
        }
        out.push(Parsed::Request {
            method: head.method.to_string(),
            target: head.uri.to_string(),
            fields: head.headers.len(),
            body,
        });
    }
}
