//! The HTTP/1 server's request head and body parsers (RFC 9112), driven
//! over the fuzzed bytes as a connection drives them. The first byte picks
//! how the rest arrives (in pieces of 1 to 32 bytes). Properties: parsing
//! never panics and ends; what the bytes are read as (each request's
//! method, target, field count and body, or where reading stopped) is the
//! same whole or in pieces, since a stream read two ways is request
//! smuggling; a request that parsed re-parses the same when written again
//! as the server understood it (its body then framed by length).
#![no_main]
use libfuzzer_sys::fuzz_target;
use scim_gateway::server_h1::{requests, Parsed};
use scim_gateway_fuzz::split_first;

fuzz_target!(|data: &[u8]| {
    let (selector, wire) = split_first(data);
    let whole = requests(wire, wire.len());
    let step = usize::from(selector % 32) + 1;
    let pieces = requests(wire, step);
    assert_eq!(whole, pieces, "read differently in pieces of {step}");
    for parsed in &whole {
        if let Parsed::Request {
            method,
            target,
            body,
            ..
        } = parsed
        {
            let again = format!(
                "{method} {target} HTTP/1.1\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            let mut again = again.into_bytes();
            again.extend_from_slice(body);
            match requests(&again, again.len()).as_slice() {
                [Parsed::Request {
                    method: m,
                    target: t,
                    body: b,
                    ..
                }] => {
                    assert_eq!((m, t, b), (method, target, body), "re-parsed differently");
                }
                // A target hyper's URI type renders differently (an
                // absolute form it normalized) may be refused as written:
                // never accepted as something else.
                [Parsed::Refused(_)] => {}
                other => panic!("re-parsed as {other:?}"),
            }
        }
    }
});
