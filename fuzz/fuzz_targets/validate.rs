//! Validation of a POST/PUT body (RFC 7643 §2, §7). Properties: the raw
//! fast path (`validate_raw::verbatim`) never forwards what the full
//! validator refuses, and what it forwards is what the full validator
//! would forward (member order and the order of `schemas` aside); the full
//! validator's normal form is a fixed point (validating it again changes
//! nothing); a replacement validated against an existing resource never
//! panics.
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::validate::validate_resource;
use scim_gateway::scim::validate_raw::verbatim;
use scim_gateway_fuzz::{group, registry, resource_type, sorted_schemas, split_first, user};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (selector, body) = split_first(data);
    let (kind, existing) = if selector & 1 == 0 {
        ("User", user())
    } else {
        ("Group", group())
    };
    let rt = resource_type(kind);
    let raw = Bytes::copy_from_slice(body);
    let fast = verbatim(registry(), rt, &raw);
    let value = serde_json::from_slice::<Value>(body).ok();
    let full = value
        .as_ref()
        .map(|v| validate_resource(registry(), rt, v, None));

    if let Some(forwarded) = fast {
        let text = String::from_utf8_lossy(body);
        let expected = match &full {
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                panic!("the fast path forwards {text:?}; the full validator refuses it: {e}")
            }
            None => panic!("the fast path forwards {text:?}, which is not JSON"),
        };
        let forwarded: Value = serde_json::from_slice(&forwarded)
            .unwrap_or_else(|e| panic!("the fast path forwards invalid JSON for {text:?}: {e}"));
        assert_eq!(
            sorted_schemas(forwarded),
            sorted_schemas(expected.clone()),
            "the fast path forwards another body than the full validator for {text:?}"
        );
    }

    if let Some(Ok(normal)) = &full {
        let again = validate_resource(registry(), rt, normal, None)
            .unwrap_or_else(|e| panic!("the normal form {normal} does not validate: {e}"));
        assert_eq!(&again, normal, "the normal form is not a fixed point");
    }
    if let Some(v) = &value {
        let _ = validate_resource(registry(), rt, v, Some(existing));
    }
});
