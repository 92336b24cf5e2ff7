//! The request route (`scim::route`): whatever a raw path parses to, its
//! canonical path parses to the same route, passes the raw-path check, and
//! has no dot segment, no empty segment, no encoded `/` or `\` and no
//! control character: nothing a second parser (an upstream, a proxy in
//! front of it) could read as another path. A raw path the route accepts,
//! the whole-path check accepts too; Bulk operation paths
//! (`canonical_path`) agree with both.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::route::{canonical_path, check_raw_path, Route};
use scim_gateway_fuzz::registry;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = Route::parse(raw, registry());
    if let Ok(route) = &parsed {
        let path = route.path();
        let again = Route::parse(path, registry())
            .unwrap_or_else(|e| panic!("{raw:?} -> {path:?} does not parse: {}", e.detail()));
        assert_eq!(&again, route, "{raw:?} -> {path:?}");
        assert!(check_raw_path(path).is_ok(), "{path:?}");
        assert!(raw.is_empty() || raw == "/" || check_raw_path(raw).is_ok(), "{raw:?}");
        if !path.is_empty() {
            assert_eq!(canonical_path(path).as_deref(), Ok(path), "{path:?}");
        }
        for segment in path.split('/').skip(1) {
            let lower = segment.to_ascii_lowercase();
            assert!(!segment.is_empty(), "{path:?}");
            assert!(segment != "." && segment != "..", "{path:?}");
            assert!(!lower.contains("%2f") && !lower.contains("%5c"), "{path:?}");
            assert!(!segment.contains(';') && !segment.contains('\\'), "{path:?}");
            assert!(segment.bytes().all(|b| b.is_ascii_graphic()), "{path:?}");
        }
        if let Some(id) = route.id_decoded() {
            assert!(!id.is_empty() && id != "." && id != "..", "{raw:?}");
            assert!(!id.contains('/') && !id.chars().any(char::is_control), "{raw:?}");
        }
    }
    // The whole-path check and Bulk's canonical form agree with the route
    // on every path that starts with a slash.
    if raw.starts_with('/') && raw.len() > 1 {
        let canonical = canonical_path(raw);
        assert_eq!(canonical.is_ok(), check_raw_path(raw).is_ok(), "{raw:?}");
        if let (Ok(route), Ok(canonical)) = (&parsed, &canonical) {
            // The route differs only in the spelling of endpoint names.
            assert!(
                route.path().eq_ignore_ascii_case(canonical),
                "{raw:?}: {} vs {canonical}",
                route.path()
            );
        }
    }
});
