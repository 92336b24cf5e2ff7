//! Attribute paths (RFC 7644 §3.10) and PATCH paths (§3.5.2): whatever
//! parses prints to a text that parses to the same path; a path is equal
//! to itself ignoring case; its parent parses too.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::patch::PatchPath;
use scim_gateway::scim::path::AttrPath;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = AttrPath::parse(text) {
        let printed = path.to_string();
        let again = AttrPath::parse(&printed)
            .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}: {e}"));
        assert_eq!(again, path, "{text:?} printed as {printed:?}");
        assert!(path.eq_ignore_case(&again));
        let parent = path.parent();
        assert!(parent.sub_attr.is_none());
        let parent_text = parent.to_string();
        assert_eq!(
            AttrPath::parse(&parent_text).ok().as_ref(),
            Some(&parent),
            "parent {parent_text:?} of {text:?}"
        );
    }
    if let Ok(path) = PatchPath::parse(text) {
        let printed = path.to_string();
        let again = PatchPath::parse(&printed)
            .unwrap_or_else(|e| panic!("PATCH path {text:?} printed as {printed:?}: {e}"));
        assert_eq!(again, path, "PATCH path {text:?} printed as {printed:?}");
    }
});
