//! A shadow upstream's id translation and comparison (src/shadow/) on
//! hostile input. The first byte picks what the rest is: a request body,
//! an answer, a filter, a query string, an id for a route, or two answers
//! to compare. Properties: nothing panics; translating a request or an
//! answer to an upstream's ids and back gives the original (the map's
//! keys and ids are apart); a filter's ids round-trip the same way and
//! its text parses back to the same filter; an answer compared with
//! itself has no difference, and two answers differ or not whichever is
//! compared with which; a route's other id is a canonical segment that
//! parses back to the same route, or refused.
#![no_main]
use libfuzzer_sys::fuzz_target;
use scim_gateway::scim::filter::Filter;
use scim_gateway::scim::route::Route;
use scim_gateway::shadow::compare::differences;
use scim_gateway::shadow::ids::IdMap;
use scim_gateway::shadow::translate::{self, Way};
use scim_gateway_fuzz::{registry, split_first};
use serde_json::Value;
use std::sync::LazyLock;

const ENDPOINTS: [&str; 4] = ["Users", "Groups", "Bulk", "Users/.search"];

fn map() -> &'static IdMap {
    static MAP: LazyLock<IdMap> = LazyLock::new(|| {
        let mut m = IdMap::in_memory();
        for (kind, key, id) in [
            ("users", "2819c223-7f76-453a-919d-413861904646", "U-1"),
            ("users", "902c246b-6245-4190-8e05-00816be7344a", "U-2"),
            ("users", "a", "U-a"),
            ("groups", "e9e30dba-f08f-4109-8486-d5c6a331660a", "G-1"),
            ("groups", "g", "G-g"),
        ] {
            m.put(kind, key, "next", id).unwrap();
        }
        m
    });
    &MAP
}

fuzz_target!(|data: &[u8]| {
    let (selector, rest) = split_first(data);
    let endpoint = ENDPOINTS[usize::from(selector >> 4) % ENDPOINTS.len()];
    let (to, back) = (Way::ToUpstream("next"), Way::ToKey("next"));
    let m = map();
    match selector % 6 {
        0 | 1 => {
            let Ok(original) = serde_json::from_slice::<Value>(rest) else {
                return;
            };
            // Values that are already the upstream's ids would come back
            // as keys: the property holds for key-side input only.
            let text = original.to_string();
            if ["U-1", "U-2", "U-a", "G-1", "G-g"].iter().any(|id| text.contains(id)) {
                return;
            }
            let mut v = original.clone();
            if selector % 6 == 0 {
                // (A PatchOp's member filter path is rebuilt from its
                // parts: only that it does not panic.)
                translate::request(m, to, endpoint, &mut v);
                translate::request(m, back, endpoint, &mut v);
            } else {
                translate::answer(m, to, endpoint, &mut v);
                translate::answer(m, back, endpoint, &mut v);
                // Locations come back in the canonical encoding.
                if !text.contains('%') {
                    assert_eq!(v, original, "an answer's ids did not round-trip");
                }
            }
        }
        2 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            let Some(there) = translate::filter(m, to, endpoint, text) else {
                return;
            };
            let original = Filter::parse(text).expect("translated, so parsed");
            Filter::parse(&there).expect("a translated filter parses");
            let back_text = translate::filter(m, back, endpoint, &there).unwrap_or(there);
            let back_parsed = Filter::parse(&back_text).expect("parses back");
            if !text.contains("U-") && !text.contains("G-") {
                assert_eq!(back_parsed, original, "{text} -> {back_text}");
            }
        }
        3 => {
            let Ok(q) = std::str::from_utf8(rest) else {
                return;
            };
            let _ = translate::query(m, to, endpoint, q);
        }
        4 => {
            let Ok(id) = std::str::from_utf8(rest) else {
                return;
            };
            let route = Route::parse("/Users/x", registry()).unwrap();
            if let Some(other) = route.with_id(id) {
                assert_eq!(other.id_decoded().as_deref(), Some(id));
                let again = Route::parse(other.path(), registry()).expect("a canonical path");
                assert_eq!(again, other);
            }
        }
        _ => {
            let (cut, rest) = split_first(rest);
            let cut = usize::from(cut).min(rest.len());
            let (a, b) = rest.split_at(cut);
            let (Ok(a), Ok(b)) = (
                serde_json::from_slice::<Value>(a),
                serde_json::from_slice::<Value>(b),
            ) else {
                return;
            };
            assert!(differences(&a, &a, &[]).is_empty(), "{a}");
            assert_eq!(
                differences(&a, &b, &[]).is_empty(),
                differences(&b, &a, &[]).is_empty(),
                "{a} vs {b}"
            );
        }
    }
});
