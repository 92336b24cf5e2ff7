//! The member-wise path (`members.rs`) against the general one on the same
//! inputs: every fixture table, generated Users both ways (validated and
//! not), members spelled in other cases, unknown members, errors; and the
//! inputs it must leave to the general path.
use super::prop::{user, TABLES};
use super::*;
use crate::mapping::scan_members;
use crate::scim::validate::validate_resource_owned;
use crate::scim::validate_raw::verbatim_members;
use proptest::prelude::*;
use serde_json::{json, Value};

/// JSON text as serde_json writes it (compact, members in order).
fn norm(bytes: &[u8]) -> String {
    serde_json::to_string(&serde_json::from_slice::<Value>(bytes).unwrap()).unwrap()
}

/// The way back both ways; panics when the member-wise path declines.
fn both_to_tenant(m: &ResourceMapping, text: &str) -> (String, String) {
    let fast = m.bytes_to_tenant(text.as_bytes()).expect("member-wise");
    let general = m.into_tenant(serde_json::from_str(text).unwrap());
    (norm(&fast), serde_json::to_string(&general).unwrap())
}

/// The way in without validation, both ways.
pub(super) fn both_to_upstream(
    m: &ResourceMapping,
    text: &str,
) -> (Result<String, String>, Result<String, String>) {
    let members = scan_members(text.as_bytes()).expect("an object");
    let fast = m.members_to_upstream(&members, false).expect("member-wise");
    let general = m.into_upstream(serde_json::from_str(text).unwrap());
    (
        fast.map(|b| norm(&b)).map_err(|e| format!("{e:?}")),
        general
            .map(|v| serde_json::to_string(&v).unwrap())
            .map_err(|e| format!("{e:?}")),
    )
}

/// The way in of a body the raw validator passes, both ways: `None` when
/// it does not pass.
pub(super) fn both_validated(m: &ResourceMapping, text: &str) -> Option<(String, String)> {
    let registry = SchemaRegistry::builtin();
    let rt = registry.resource_type("User").unwrap();
    let members = verbatim_members(&registry, rt, text.as_bytes())?;
    let fast = m.members_to_upstream(&members, true).expect("member-wise");
    let valid =
        validate_resource_owned(&registry, rt, serde_json::from_str(text).unwrap(), None).unwrap();
    let general = m.into_upstream(valid);
    let show = |r: crate::scim::error::ScimResult<String>| r.map_err(|e| format!("{e:?}"));
    Some((
        show(fast.map(|b| norm(&b))).unwrap_or_else(|e| e),
        show(general.map(|v| serde_json::to_string(&v).unwrap())).unwrap_or_else(|e| e),
    ))
}

/// The load benchmark's table and answer.
pub(super) fn store_legacy() -> CompiledMapping {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mapping/store-legacy.toml");
    CompiledMapping::load(&path, &SchemaRegistry::builtin()).unwrap()
}

const BENCH_USER: &str = include_str!("../../../benches/load/user.json");

#[test]
fn the_benchmarks_user_maps_the_same_both_ways() {
    let m = store_legacy();
    let users = users(&m);
    let (fast, general) = both_to_tenant(users, BENCH_USER);
    assert_eq!(fast, general);
    let (fast, general) = both_to_upstream(users, BENCH_USER);
    assert_eq!(fast, general);
    assert!(fast.unwrap().contains("urn:example:legacy:2.0:User"));
    // Validated: `id` and `meta` cut, the enterprise extension moved.
    let (fast, general) = both_validated(users, BENCH_USER).expect("a normal-form body");
    assert_eq!(fast, general);
    // And back: the upstream's answer to it.
    let up = users
        .to_upstream(&serde_json::from_str(BENCH_USER).unwrap())
        .unwrap();
    let (fast, general) = both_to_tenant(users, &up.to_string());
    assert_eq!(fast, general);
    assert!(fast.contains("\"title\":\"Tour Guide\""), "{fast}");
}

#[test]
fn untouched_members_keep_their_text_and_place() {
    let m = store_legacy();
    let text = r#"{"id":"1","userName":"a","emails":[ {"value":"x@y.z",  "type":"work"} ],"title":"T","n":1.50}"#;
    let out = users(&m).bytes_to_tenant(text.as_bytes()).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out,
        r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","userName":"a","emails":[ {"value":"x@y.z",  "type":"work"} ],"title":"T","n":1.50}"#
    );
}

#[test]
fn extensions_validated_in_the_middle_come_last_as_in_the_general_path() {
    let m = store_legacy();
    let text = format!(
        r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","{ENTERPRISE}"],"userName":"a","{ENTERPRISE}":{{"costCenter":"1","department":"D"}},"displayName":"A","title":"T"}}"#
    );
    let (fast, general) = both_validated(users(&m), &text).expect("a normal-form body");
    assert_eq!(fast, general);
}

#[test]
fn members_in_other_cases_and_unknown_members_map_as_in_the_general_path() {
    for name in TABLES {
        let m = fixture(name);
        let users = users(&m);
        let text = format!(
            r#"{{"ID":"7","Title":"Boss","NAME":{{"givenName":"A","MiddleName":"B"}},"x-unknown":[1,2],"{}":{{"Department":"Sales"}},"active":true,"meta":{{"version":"W/\"1\""}},"Schemas":["whatever"]}}"#,
            ENTERPRISE.to_uppercase()
        );
        let (fast, general) = both_to_upstream(users, &text);
        assert_eq!(fast, general, "{name}");
        let (fast, general) = both_to_tenant(users, &text);
        assert_eq!(fast, general, "{name}");
    }
}

#[test]
fn a_strict_map_refuses_as_in_the_general_path() {
    let m = inline(
        r#"
        [resources.User.upstream.attributes]
        kind = "string"
        [[resources.User.rules]]
        from = "userType"
        to = "kind"
        transform = [{ map_strict = { Employee = "E" } }]
        "#,
    );
    let (fast, general) =
        both_to_upstream(users(&m), r#"{"userName":"a","userType":"Contractor"}"#);
    assert!(general.is_err());
    assert_eq!(fast, general);
}

#[test]
fn inputs_it_cannot_vouch_for_go_to_the_general_path() {
    let m = store_legacy();
    let users = users(&m);
    for text in [
        r#"{"userName":"a","USERNAME":"b"}"#,
        r#"{"user\"Name":"a"}"#,
        r#"{"userName":"\u0041"}"#,
        r#"{"n":1e5}"#,
        r#"[{"userName":"a"}]"#,
        r#"{"userName":"a"} x"#,
    ] {
        assert!(users.bytes_to_tenant(text.as_bytes()).is_none(), "{text}");
        let declined = scan_members(text.as_bytes())
            .and_then(|ms| users.members_to_upstream(&ms, false))
            .is_none();
        assert!(declined, "{text}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(128) })]

    #[test]
    fn generated_users_map_the_same_both_ways(u in user(), extra in any::<bool>()) {
        let mut u = u;
        if extra {
            u["x-extra"] = json!({"a": [1, {"b": null}]});
        }
        let text = u.to_string();
        for name in TABLES {
            let m = fixture(name);
            let users = users(&m);
            let (fast, general) = both_to_upstream(users, &text);
            prop_assert_eq!(&fast, &general, "{} in", name);
            if !extra {
                let validated = both_validated(users, &text);
                prop_assert!(validated.is_some(), "{}: the raw validator declined {}", name, text);
                let (fast, general) = validated.unwrap_or_default();
                prop_assert_eq!(fast, general, "{} validated", name);
            }
            let (fast, general) = both_to_tenant(users, &text);
            prop_assert_eq!(fast, general, "{} out", name);
            if let Ok(up) = users.to_upstream(&u) {
                let (fast, general) = both_to_tenant(users, &up.to_string());
                prop_assert_eq!(fast, general, "{} back", name);
            }
        }
    }
}
