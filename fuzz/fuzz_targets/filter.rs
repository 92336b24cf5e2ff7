//! SCIM filters (RFC 7644 §3.4.2.2): whatever parses prints to a text that
//! parses to the same AST, printing is canonical (a fixed point), and
//! evaluation against a full User and a Group never panics and is
//! consistent with `not`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::filter::{EvalContext, Filter};
use scim_gateway_fuzz::{group, registry, resource_type, user};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(filter) = Filter::parse(text) else {
        return;
    };
    let printed = filter.to_string();
    let again = Filter::parse(&printed)
        .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which does not parse: {e}"));
    assert_eq!(again, filter, "{text:?} printed as {printed:?}");
    assert_eq!(again.to_string(), printed, "printing is not canonical");

    for (resource, kind) in [(user(), "User"), (group(), "Group")] {
        let ctx = EvalContext {
            registry: registry(),
            resource_type: resource_type(kind),
        };
        let hit = filter.matches(resource, &ctx);
        let negated = Filter::Not(Box::new(filter.clone()));
        assert_eq!(negated.matches(resource, &ctx), !hit, "not({printed})");
        // The paths the filter names are its own.
        let _ = filter.paths();
    }
});
