#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use proptest::prelude::*;
use serde_json::{json, Value};

const UP: &str = "http://10.0.0.7:8080/scim/v2";
const GW: &str = "https://acme.example/scim/v2";

#[test]
fn headers() {
    assert_eq!(
        rewrite_location_header("http://10.0.0.7:8080/scim/v2/Users/1", UP, GW).as_deref(),
        Some("https://acme.example/scim/v2/Users/1")
    );
    assert_eq!(
        rewrite_location_header("HTTP://10.0.0.7:8080/scim/v2", UP, GW).as_deref(),
        Some("https://acme.example/scim/v2")
    );
    assert_eq!(
        rewrite_location_header("http://10.0.0.7:8080/scim/v2x/Users", UP, GW),
        None
    );
    assert_eq!(
        rewrite_location_header("http://10.0.0.8:8080/scim/v2/Users", UP, GW),
        None
    );
    assert_eq!(
        rewrite_location_header("http://h/v2/Users/1", "http://h:80/v2", GW).as_deref(),
        Some("https://acme.example/scim/v2/Users/1")
    );
    assert_eq!(
        rewrite_location_header("https://h:443/v2", "https://h/v2", GW).as_deref(),
        Some(GW)
    );
    assert_eq!(
        rewrite_location_header("http://h:81/v2", "http://h/v2", GW),
        None
    );
    // The port compared as written, a default one as none; IPv6 literals
    // keep their colons in the host.
    let gw_users = format!("{GW}/Users?a=b");
    for (value, base, rewritten) in [
        ("http://10.0.0.7:8081/scim/v2/Users", UP, None),
        ("http://10.0.0.7/scim/v2/Users", UP, None),
        (
            "http://[::1]:8080/v2/Users?a=b",
            "http://[::1]:8080/v2",
            Some(gw_users.as_str()),
        ),
        ("http://[::1]/v2", "http://[::1]:80/v2", Some(GW)),
        ("http://[::2]:8080/v2", "http://[::1]:8080/v2", None),
        ("https://h:80/v2", "https://h/v2", None),
    ] {
        assert_eq!(
            rewrite_location_header(value, base, GW).as_deref(),
            rewritten,
            "{value} under {base}"
        );
    }
}

fn list() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "Resources": [
            {"id": "1", "meta": {"location": format!("{UP}/Groups/1")},
             "members": [{"value": "u", "$ref": format!("{UP}/Users/u")}],
             "description": "see http://10.0.0.7:8080/elsewhere"}
        ],
        "Operations": [{"location": format!("{UP}/Users/2"), "status": "201"}]
    })
}

#[test]
fn bodies_byte_and_tree_paths_agree() {
    let bytes = Bytes::from(serde_json::to_vec(&list()).unwrap());
    let fast: Value =
        serde_json::from_slice(&rewrite_response_body(&bytes, UP, GW).unwrap()).unwrap();
    let mut slow = list();
    assert!(rewrite_locations(&mut slow, UP, GW));
    assert_eq!(fast, slow);
    assert_eq!(
        fast["Resources"][0]["meta"]["location"],
        format!("{GW}/Groups/1")
    );
    assert_eq!(
        fast["Resources"][0]["members"][0]["$ref"],
        format!("{GW}/Users/u")
    );
    assert_eq!(fast["Operations"][0]["location"], format!("{GW}/Users/2"));
    assert_eq!(
        fast["Resources"][0]["description"],
        "see http://10.0.0.7:8080/elsewhere"
    );
    assert!(rewrite_response_body(&Bytes::from_static(b"{\"a\":\"b\"}"), UP, GW).is_none());
    let escaped = Bytes::from(format!("{{\"x\":\"q\\\"{UP}\"}}"));
    assert!(rewrite_response_body(&escaped, UP, GW).is_none());
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn there_and_back_is_identity(ids in prop::collection::vec("[a-z0-9-]{1,12}", 1..6), text in "[ -~]{0,20}") {
        let body = json!({
            "Resources": ids.iter().map(|id| json!({"id": id, "note": text, "meta": {"location": format!("{UP}/Users/{id}")}})).collect::<Vec<_>>()
        });
        let bytes = Bytes::from(serde_json::to_vec(&body).unwrap());
        let there = rewrite_response_body(&bytes, UP, GW).unwrap_or(bytes.clone());
        let back = rewrite_response_body(&there, GW, UP).unwrap_or(there.clone());
        let v: Value = serde_json::from_slice(&back).unwrap();
        prop_assert_eq!(v, body);
    }
}

#[test]
fn the_substring_fast_path_agrees_with_the_tree() {
    let mut v = list();
    v["Resources"][0]["description"] = json!("plain text");
    v["Resources"][0]["escaped"] = json!(format!("\"{UP}/Users/x"));
    v["Resources"][0]["longer"] = json!(format!("{UP}x/Users"));
    let bytes = Bytes::from(serde_json::to_vec(&v).unwrap());
    let fast: Value =
        serde_json::from_slice(&rewrite_response_body(&bytes, UP, GW).unwrap()).unwrap();
    let mut slow = v.clone();
    rewrite_locations(&mut slow, UP, GW);
    assert_eq!(fast, slow);
    assert_eq!(fast["Resources"][0]["escaped"], format!("\"{UP}/Users/x"));
    assert_eq!(fast["Resources"][0]["longer"], format!("{UP}x/Users"));
    // Another spelling of the host goes through the full scan.
    let upper = Bytes::from(format!(
        "{{\"l\":\"HTTP://10.0.0.7:8080/scim/v2/Users/1\",\"m\":\"{UP}\"}}"
    ));
    let out: Value =
        serde_json::from_slice(&rewrite_response_body(&upper, UP, GW).unwrap()).unwrap();
    assert_eq!(out, json!({"l": format!("{GW}/Users/1"), "m": GW}));
}

/// Whether `b` owns a buffer of exactly its length (what a `Bytes` made
/// from a `Vec` with spare capacity does not: it then also allocated a
/// shared header).
fn exact_buffer(b: Bytes) -> bool {
    let len = b.len();
    bytes::BytesMut::from(b).capacity() == len
}

#[test]
fn the_fast_path_allocates_the_output_exactly_once() {
    let mut spare = Vec::with_capacity(8);
    spare.extend_from_slice(b"abc");
    assert!(!exact_buffer(Bytes::from(spare)), "the check can fail");
    // 1 hit, a few, and more than fit on the stack (the second search).
    for n in [1, 3, HITS_ON_STACK, HITS_ON_STACK + 1, 100] {
        let body = json!({
            "Resources": (0..n).map(|i| json!({
                "id": i.to_string(),
                "meta": {"location": format!("{UP}/Users/{i}")},
                "members": [{"$ref": format!("{UP}?x={i}")}, {"$ref": UP}],
            })).collect::<Vec<_>>()
        });
        let bytes = Bytes::from(serde_json::to_vec(&body).unwrap());
        let rebase = Rebase::new(UP).unwrap();
        // Only exact spellings: the substring path answers.
        assert_eq!(
            rebase.rewrite_exact(&bytes, GW, 3 * n).map(|o| o.is_some()),
            Some(true)
        );
        for (from, to) in [(UP, GW), (UP, "http://h")] {
            let out = Rebase::new(from).unwrap().body(&bytes, to).unwrap();
            let mut tree = body.clone();
            assert!(rewrite_locations(&mut tree, from, to));
            assert_eq!(
                serde_json::from_slice::<Value>(&out).unwrap(),
                tree,
                "{n} {to}"
            );
            assert!(exact_buffer(out), "{n} hits to {to}");
        }
    }
}
