//! The PROXY protocol header parser (`client_addr::proxy_header`): never
//! a panic; a parsed header is self-delimiting (it parses the same from
//! its own bytes, within the v2 bound) and every strict prefix of it
//! needs more bytes rather than parsing or failing; "need more" is only
//! answered below the bound.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scim_gateway::client_addr::proxy_header::{parse, V2_MAX};

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(Some(h)) => {
            assert!(h.len <= data.len() && h.len <= V2_MAX, "{h:?}");
            let own = &data[..h.len];
            assert_eq!(parse(own), Ok(Some(h)), "{own:?}");
            for cut in 0..h.len {
                assert_eq!(parse(&own[..cut]), Ok(None), "prefix {cut} of {own:?}");
            }
        }
        Ok(None) => assert!(
            data.len() < V2_MAX,
            "{} bytes and still incomplete",
            data.len()
        ),
        Err(_) => {}
    }
});
