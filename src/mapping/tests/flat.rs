//! The flat path (`flat.rs`: plain renames mapped on the members' text)
//! against the general one: the load benchmark's table and tables made to
//! reach each of its steps (renames into and out of a complex attribute,
//! into an extension object, a sub-attribute of an extension's complex
//! attribute, `unmapped` both ways), on generated Users,
//! validated and not; and the inputs it must leave to the `Value` path.
use super::members::{both_to_upstream, both_validated, store_legacy};
use super::prop::{user, TABLES};
use super::*;
use crate::mapping::flat::qualifies;
use crate::mapping::members::FLAT_TAKEN;
use proptest::prelude::*;

const LEGACY_ATTRIBUTES: &str = r#"
[resources.User.upstream.attributes]
"urn:example:legacy:2.0:User:jobTitle" = "string"
"urn:example:legacy:2.0:User:alias" = "string"
"urn:example:legacy:2.0:User:staffNumber" = "string"
nickName = "string"
"#;

/// Renames into `name` and out of it, under `unmapped = "drop"` (what no
/// rule took is left out but `id` and `meta`).
const INTO_COMPLEX: &str = r#"
unmapped = "drop"
[resources.User.upstream.attributes]
name = { type = "complex", sub_attributes = { middleName = "string", honorificSuffix = "string", givenName = "string" } }
displayName = "string"
[[resources.User.rules]]
from = "nickName"
to = "name.middleName"
[[resources.User.rules]]
from = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
to = "name.honorificSuffix"
[[resources.User.rules]]
from = "name.givenName"
to = "name.givenName"
[[resources.User.rules]]
from = "title"
to = "displayName"
"#;

/// Into an extension object, a sub-attribute of an extension's complex
/// attribute, and a sub-attribute moved to the top level.
const INTO_EXTENSION: &str = r#"
[[resources.User.rules]]
from = "title"
to = "urn:example:legacy:2.0:User:jobTitle"
[[resources.User.rules]]
from = "nickName"
to = "urn:example:legacy:2.0:User:alias"
[[resources.User.rules]]
from = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
to = "urn:example:legacy:2.0:User:staffNumber"
[[resources.User.rules]]
from = "name.givenName"
to = "nickName"
"#;

fn flat_tables() -> Vec<(&'static str, CompiledMapping)> {
    vec![
        ("store-legacy", store_legacy()),
        ("into-complex", inline(INTO_COMPLEX)),
        (
            "into-extension",
            inline(&format!("{LEGACY_ATTRIBUTES}{INTO_EXTENSION}")),
        ),
    ]
}

/// Runs `f` and says whether the flat path was taken meanwhile.
fn flat_taken(f: impl FnOnce()) -> bool {
    let before = FLAT_TAKEN.with(std::cell::Cell::get);
    f();
    FLAT_TAKEN.with(std::cell::Cell::get) > before
}

#[test]
fn plain_renames_qualify_and_anything_more_does_not() {
    for (name, m) in flat_tables() {
        assert!(qualifies(users(&m)), "{name}");
    }
    // Transforms, selectors, constants, never_upstream, defaults.
    for name in TABLES {
        assert!(!qualifies(users(&fixture(name))), "{name}");
    }
    let with_default = inline(
        r#"
        unmapped = "drop"
        [resources.User.upstream.attributes]
        displayName = "string"
        [[resources.User.rules]]
        from = "title"
        to = "displayName"
        default = "none"
        "#,
    );
    assert!(!qualifies(users(&with_default)));
}

#[test]
fn the_benchmarks_user_takes_the_flat_path_both_ways() {
    let m = store_legacy();
    let text = include_str!("../../../benches/load/user.json");
    let mut compared = None;
    assert!(flat_taken(
        || compared = Some(both_to_upstream(users(&m), text))
    ));
    let (fast, general) = compared.unwrap();
    assert_eq!(fast, general);
    assert!(fast.unwrap().contains(r#""urn:example:legacy:2.0:User":{"jobTitle":"Tour Guide","alias":"Babs","middle":"Jane","dept":"Tour Operations","staffNumber":"701984","org":"Universal Studios"}"#));
    let mut compared = None;
    assert!(flat_taken(|| compared = both_validated(users(&m), text)));
    let (fast, general) = compared.expect("a normal-form body");
    assert_eq!(fast, general);
}

#[test]
fn every_step_matches_the_general_path() {
    let text = format!(
        r#"{{"id":"7","userName":"u","nickName":"N","title":"T","userType":"Emp","displayName":"D","name":{{"givenName":"G","familyName":"F"}},"{ENTERPRISE}":{{"department":"Dep","manager":{{"value":"m1","displayName":"Boss"}},"costCenter":"9"}}}}"#
    );
    for (name, m) in flat_tables() {
        let mut compared = None;
        assert!(
            flat_taken(|| compared = Some(both_to_upstream(users(&m), &text))),
            "{name}"
        );
        let (fast, general) = compared.unwrap();
        assert_eq!(fast, general, "{name}");
    }
}

#[test]
fn inputs_it_cannot_vouch_for_take_the_value_path_with_the_same_result() {
    for text in [
        // A sub-attribute read in an array: every element's.
        r#"{"userName":"u","name":[{"middleName":"a"},{"middleName":"b"}],"nickName":"N"}"#,
        // Names equal ignoring case inside an object.
        r#"{"userName":"u","name":{"givenName":"a","GIVENNAME":"b"},"nickName":"N"}"#,
        // An escaped name inside an object.
        r#"{"userName":"u","name":{"given\"Name":"a"},"nickName":"N"}"#,
        // A rest array merged into a written array, below the top.
        r#"{"userName":"u","name":{"middleName":[1],"x":[2]},"nickName":[3]}"#,
    ] {
        for (name, m) in flat_tables() {
            let (fast, general) = both_to_upstream(users(&m), text);
            assert_eq!(fast, general, "{name}: {text}");
        }
    }
}

#[test]
fn members_in_other_cases_map_as_in_the_general_path() {
    let text = format!(
        r#"{{"ID":"7","Title":"Boss","NICKNAME":"Nick","NAME":{{"GivenName":"A","MiddleName":"B"}},"x-unknown":[1,2],"{}":{{"Department":"Sales","Manager":{{"Value":"m"}}}},"active":true,"meta":{{"version":"W/\"1\""}},"Schemas":["whatever"]}}"#,
        ENTERPRISE.to_uppercase()
    );
    for (name, m) in flat_tables() {
        let (fast, general) = both_to_upstream(users(&m), &text);
        assert_eq!(fast, general, "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(256) })]

    #[test]
    fn generated_users_map_the_same_on_the_flat_path(u in user(), nick in proptest::option::of("[A-Z][a-z]{0,8}")) {
        let mut u = u;
        if let Some(n) = nick {
            u["nickName"] = n.into();
        }
        let text = u.to_string();
        for (name, m) in flat_tables() {
            let users = users(&m);
            let (fast, general) = both_to_upstream(users, &text);
            prop_assert_eq!(&fast, &general, "{} in", name);
            let validated = both_validated(users, &text);
            prop_assert!(validated.is_some(), "{}: the raw validator declined {}", name, text);
            let (fast, general) = validated.unwrap_or_default();
            prop_assert_eq!(fast, general, "{} validated", name);
        }
    }
}
