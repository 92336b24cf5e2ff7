//! PATCH (RFC 7644 §3.5.2): parse a PatchOp body, check it against the
//! schema, apply it to a full User or a Group. Properties: a parsed request
//! written back as JSON parses to the same request; a request that applies
//! passes the schema check the gateway runs before the upstream (so the
//! gateway never refuses what a store would apply); applying returns an
//! object and leaves the input untouched; the result of an applied PATCH is a
//! resource the full validator accepts as a replacement of the original.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scim_gateway::mapping::patch_to_json;
use scim_gateway::scim::patch::{apply_patch, check_patch, PatchRequest};
use scim_gateway::scim::validate::validate_resource;
use scim_gateway_fuzz::{group, registry, resource_type, split_first, user};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (selector, body) = split_first(data);
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let Ok(request) = PatchRequest::parse(&body) else {
        return;
    };
    let written = patch_to_json(&request);
    let again = PatchRequest::parse(&written)
        .unwrap_or_else(|e| panic!("{body} written back as {written}, which does not parse: {e}"));
    assert_eq!(again, request, "written back as {written}");

    let (kind, resource) = if selector & 1 == 0 {
        ("User", user())
    } else {
        ("Group", group())
    };
    let rt = resource_type(kind);
    let checked = check_patch(registry(), rt, &request);
    let before = resource.clone();
    let applied = apply_patch(registry(), rt, resource, &request);
    assert_eq!(&before, resource);
    if let Ok(patched) = applied {
        assert!(patched.is_object());
        if let Err(e) = checked {
            panic!("{body} applies to the {kind} but the schema check refuses it: {e}");
        }
        if let Err(e) = validate_resource(registry(), rt, &patched, Some(resource)) {
            panic!("{body} applied gives a {kind} the validator refuses: {e}\n{patched}");
        }
    }
});
