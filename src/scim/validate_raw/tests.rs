#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
use crate::scim::validate::validate_resource_owned;
use proptest::prelude::*;
use serde_json::{json, Value};

fn fast(kind: &str, body: &str) -> Option<String> {
    let r = SchemaRegistry::builtin();
    let rt = r.resource_type(kind).unwrap();
    verbatim(&r, rt, &Bytes::copy_from_slice(body.as_bytes()))
        .map(|b| String::from_utf8(b.to_vec()).unwrap())
}

/// The full validator's answer for the same body, `None` on error.
fn full(kind: &str, body: &str) -> Option<Value> {
    let r = SchemaRegistry::builtin();
    let rt = r.resource_type(kind).unwrap();
    let value: Value = serde_json::from_str(body).ok()?;
    validate_resource_owned(&r, rt, value, None).ok()
}

/// `schemas` as a set: the full path lists the core URN first.
fn sorted_schemas(mut v: Value) -> Value {
    if let Some(Value::Array(list)) = v.get_mut("schemas") {
        list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    v
}

/// The property: whatever the fast path forwards is valid JSON equal
/// (member order aside) to what the full validator would forward; and
/// [`verbatim_members`] yields exactly the forwarded members, in order.
fn agrees(kind: &str, body: &str) -> bool {
    let out = fast(kind, body);
    let r = SchemaRegistry::builtin();
    let members = verbatim_members(&r, r.resource_type(kind).unwrap(), body.as_bytes());
    assert_eq!(out.is_some(), members.is_some(), "{body}");
    scanned_agrees(kind, body, out.as_deref());
    match out {
        None => true,
        Some(out) => {
            let forwarded: Value = serde_json::from_str(&out).expect("forwarded JSON");
            let joined: Vec<String> = (members.unwrap_or_default().iter())
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect();
            let joined: Value = serde_json::from_str(&format!("{{{}}}", joined.join(",")))
                .expect("the members as JSON");
            assert_eq!(
                serde_json::to_string(&joined).unwrap(),
                serde_json::to_string(&forwarded).unwrap(),
                "{body}"
            );
            let expected = full(kind, body).expect("the full path accepts it too");
            sorted_schemas(forwarded) == sorted_schemas(expected)
        }
    }
}

/// [`verbatim_scanned`] forwards what [`verbatim`] forwards, and its
/// members are the body's, every one (the cut ones too), in order, each
/// key with its value's text.
fn scanned_agrees(kind: &str, body: &str, forwarded: Option<&str>) {
    let r = SchemaRegistry::builtin();
    let rt = r.resource_type(kind).unwrap();
    let scanned = verbatim_scanned(&r, rt, &Bytes::copy_from_slice(body.as_bytes()));
    let bytes = scanned.as_ref().map(|(b, _)| b.to_vec());
    assert_eq!(bytes.as_deref(), forwarded.map(str::as_bytes), "{body}");
    let Some((_, scanned)) = scanned else { return };
    let members = scanned.members().expect("the members of a scanned body");
    let parsed: Value = serde_json::from_str(body).unwrap();
    let parsed = parsed.as_object().unwrap();
    let keys: Vec<&str> = members.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        parsed.keys().map(String::as_str).collect::<Vec<_>>(),
        "{body}"
    );
    for (key, value) in members {
        let value: Value = serde_json::from_slice(value).expect("a member's value");
        assert_eq!(Some(&value), parsed.get(key), "{body}");
    }
    // The keys: each member's, and an extension's object's members' after
    // its URN, as the parsed body has them.
    let mut expected: Vec<(String, Option<String>)> = Vec::new();
    for (key, value) in parsed {
        match value.as_object() {
            Some(ext) if rt.extensions.iter().any(|e| &e.schema == key) => {
                expected.extend(ext.keys().map(|sub| (key.clone(), Some(sub.clone()))));
            }
            _ => expected.push((key.clone(), None)),
        }
    }
    let mut keys: Vec<(String, Option<String>)> = Vec::new();
    scanned
        .each_key(|k, sub| keys.push((k.to_string(), sub.map(str::to_string))))
        .expect("the keys of a scanned body");
    assert_eq!(keys, expected, "{body}");
}

const CANONICAL: &str = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"701984","userName":"bjensen@example.com","name":{"formatted":"Ms. Barbara J Jensen, III","familyName":"Jensen","givenName":"Barbara"},"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],"active":true,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","manager":{"value":"m1"}}}"#;

#[test]
fn a_canonical_body_goes_as_it_is_without_a_copy() {
    let r = SchemaRegistry::builtin();
    let rt = r.resource_type("User").unwrap();
    let body = Bytes::from_static(CANONICAL.as_bytes());
    let out = verbatim(&r, rt, &body).expect("fast path");
    assert_eq!(out.as_ptr(), body.as_ptr(), "the same buffer, not a copy");
    assert!(agrees("User", CANONICAL));
}

#[test]
fn a_schema_added_after_first_use_is_looked_up_too() {
    const URN: &str = "urn:example:params:scim:schemas:extension:badge:2.0:User";
    let mut r = SchemaRegistry::builtin();
    let body = Bytes::from(format!(
        r#"{{"schemas":["{USER_SCHEMA}","{URN}"],"userName":"a","{URN}":{{"badge":"b7"}}}}"#
    ));
    // Built on first use: the extension is not (yet) one of User's.
    assert!(verbatim(&r, r.resource_type("User").unwrap(), &body).is_none());
    let schema = json!({"id": URN, "name": "Badge", "attributes": [
        {"name": "badge", "type": "string", "multiValued": false, "required": true,
         "mutability": "readWrite"},
        {"name": "floor", "type": "integer", "multiValued": false, "required": false,
         "mutability": "readWrite"}
    ]});
    r.add_schema(crate::scim::schema::Schema::from_json(&schema).unwrap());
    r.extend_resource_type("User", URN, false).unwrap();
    let rt = r.resource_type("User").unwrap();
    assert_eq!(
        verbatim(&r, rt, &body).as_ref(),
        Some(&body),
        "the plans were rebuilt"
    );
    let with_floor = Bytes::from(format!(
        r#"{{"schemas":["{USER_SCHEMA}","{URN}"],"userName":"a","{URN}":{{"badge":"b7","floor":3}}}}"#
    ));
    assert!(verbatim(&r, rt, &with_floor).is_some());
    // Its required attribute is known too.
    let without = Bytes::from(format!(
        r#"{{"schemas":["{USER_SCHEMA}","{URN}"],"userName":"a","{URN}":{{"floor":3}}}}"#
    ));
    assert!(verbatim(&r, rt, &without).is_none());
    // A clone of the resource type (not the registry's own) is found by value.
    assert!(verbatim(&r, &rt.clone(), &body).is_some());
}

#[test]
fn read_only_members_are_cut_wherever_they_stand() {
    let cases = [
        (
            r#"{"id":"x","schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}"#,
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}"#,
        ),
        (
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"x","userName":"a"}"#,
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}"#,
        ),
        (
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","meta":{"version":"W/\"1\"","x":[1,{"}":","}]}}"#,
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}"#,
        ),
        (
            // Pretty-printed, several cuts in a row, a readOnly null.
            "{\n  \"id\" : \"x\" ,\n  \"meta\": null,\n  \"groups\": [ {\"value\": \"g\"} ] ,\n  \"userName\" : \"a\",\n  \"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"]\n}\n",
            "{\"userName\" : \"a\",\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"]}",
        ),
    ];
    let r = SchemaRegistry::builtin();
    let rt = r.resource_type("User").unwrap();
    for (body, expected) in cases {
        assert_eq!(fast("User", body).as_deref(), Some(expected), "{body}");
        assert!(agrees("User", body), "{body}");
        // Allocated at its exact length: `Bytes::from` added no shared
        // header (a buffer with spare capacity would show it here).
        let out = verbatim(&r, rt, &Bytes::copy_from_slice(body.as_bytes())).unwrap();
        let len = out.len();
        assert_eq!(bytes::BytesMut::from(out).capacity(), len, "{body}");
    }
}

#[test]
fn the_load_harness_user_is_forwarded_without_id_and_meta() {
    let body = include_str!("../../../benches/load/user.json");
    let out = fast("User", body).expect("fast path");
    assert!(!out.contains("\"id\"") && !out.contains("\"meta\""));
    assert!(agrees("User", body));
}

#[test]
fn anything_to_normalize_or_refuse_takes_the_full_path() {
    let core = USER_SCHEMA;
    let ent = ENTERPRISE_USER_SCHEMA;
    let cases = [
        // Names to re-spell, values to drop.
        format!(r#"{{"schemas":["{core}"],"USERNAME":"a"}}"#),
        format!(r#"{{"schemas":["{core}"],"userName":"a","nickName":null}}"#),
        format!(r#"{{"schemas":["{core}"],"userName":"a","emails":[]}}"#),
        format!(r#"{{"schemas":["{core}"],"userName":"a","name":{{}}}}"#),
        format!(r#"{{"schemas":["{core}"],"userName":"a","name":{{"GivenName":"b"}}}}"#),
        format!(r#"{{"schemas":["{core}"],"{core}:userName":"a"}}"#),
        format!(r#"{{"schemas":["{core}"],"user\u004eame":"a"}}"#),
        format!(r#"{{"schemas":["{core}"],"userName":"a","userName":"b"}}"#),
        format!(r#"{{"schemas":["{core}","{core}"],"userName":"a"}}"#),
        format!(r#"{{"schemas":["{core}","{ent}"],"userName":"a"}}"#),
        format!(r#"{{"schemas":["{core}"],"userName":"a","{ent}":{{"department":"x"}}}}"#),
        format!(r#"{{"schemas":["{core}","{ent}"],"userName":"a","{ent}":{{}}}}"#),
        format!(
            r#"{{"schemas":["{core}","{ent}"],"userName":"a","{ent}":{{"schemas":[],"department":"x"}}}}"#
        ),
        format!(
            r#"{{"schemas":["{core}","{ent}"],"userName":"a","{ent}":{{"manager":{{"value":"m","displayName":"M"}}}}}}"#
        ),
        // Errors.
        format!(r#"{{"schemas":["{core}"]}}"#),
        r#"{"userName":"a"}"#.to_string(),
        format!(r#"{{"schemas":"{core}","userName":"a"}}"#),
        format!(r#"{{"schemas":["{core}"],"userName":"a","bogus":1}}"#),
        format!(r#"{{"schemas":["{core}"],"userName":"a","active":"yes"}}"#),
        format!(r#"{{"schemas":["{core}"],"userName":["a"]}}"#),
        format!(r#"{{"schemas":["{core}"],"userName":"a","emails":{{"value":"x"}}}}"#),
        format!(
            r#"{{"schemas":["{core}"],"userName":"a","emails":[{{"value":"x","primary":true}},{{"value":"y","primary":true}}]}}"#
        ),
        format!(
            r#"{{"schemas":["{core}"],"userName":"a","x509Certificates":[{{"value":"not base64!"}}]}}"#
        ),
        format!(r#"{{"schemas":["{core}"],"userName":"a","emails":[null]}}"#),
        format!(r#"{{"schemas":["{core}"],"userName":"a"}} trailing"#),
        format!(r#"{{"schemas":["{core}"],"userName":"a","id":"\ud800"}}"#),
        format!(r#"["{core}"]"#),
        String::new(),
    ];
    for body in &cases {
        assert_eq!(fast("User", body), None, "{body}");
    }
}

#[test]
fn fixtures_of_real_identity_providers_agree_with_the_full_path() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/idp");
    let mut fast_ones = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let fixture: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let method = fixture["method"].as_str().unwrap_or("");
        if method != "POST" && method != "PUT" {
            continue;
        }
        let kind = if fixture["path"].as_str().unwrap_or("").contains("Groups") {
            "Group"
        } else {
            "User"
        };
        for body in [
            serde_json::to_string(&fixture["body"]).unwrap(),
            serde_json::to_string_pretty(&fixture["body"]).unwrap(),
        ] {
            assert!(agrees(kind, &body), "{}", path.display());
            fast_ones += usize::from(fast(kind, &body).is_some());
        }
    }
    assert!(
        fast_ones >= 4,
        "only {fast_ones} fixtures took the fast path"
    );
}

/// Generated members: names in and out of their schema spelling, values of
/// every JSON kind, right and wrong for the attribute.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "schemas", "userName", "name", "displayName", "emails", "active", "externalId",
            "id", "meta", "groups", "phoneNumbers", "x509Certificates", "title", "password",
            ENTERPRISE_USER_SCHEMA,
        ])
        .prop_map(str::to_string),
        1 => prop::sample::select(vec![
            "USERNAME", "Emails", "bogus", "Schemas",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user",
        ])
        .prop_map(str::to_string),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..5).prop_map(Value::from),
        Just(json!(1.5)),
        prop::sample::select(vec![
            "a",
            "2011-05-13T04:42:34Z",
            "bm90IGJhc2U2NA==",
            "w o r k"
        ])
        .prop_map(Value::from),
        Just(json!(USER_SCHEMA)),
        Just(json!(ENTERPRISE_USER_SCHEMA)),
    ]
}

fn sub_object() -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "value",
                "type",
                "primary",
                "display",
                "givenName",
                "familyName",
                "Value",
                "department",
                "manager",
                "employeeNumber",
                "$ref",
            ]),
            prop_oneof![3 => scalar(), 1 => Just(json!({"value": "m"}))],
        ),
        0..4,
    )
    .prop_map(|members| {
        let map = members
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<serde_json::Map<_, _>>();
        Value::Object(map)
    })
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => scalar(),
        2 => sub_object(),
        2 => prop::collection::vec(prop_oneof![2 => sub_object(), 1 => scalar()], 0..3)
            .prop_map(Value::Array),
        1 => Just(json!([USER_SCHEMA])),
        1 => Just(json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])),
    ]
}

/// Members with a value of the right type, mostly: so that a fair share
/// of the bodies is valid.
fn typed_member() -> impl Strategy<Value = (String, Value)> {
    let email = (
        prop::sample::select(vec!["a@x", "b@y"]),
        prop::option::of(prop::sample::select(vec!["work", "home"])),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(v, t, p)| {
            let mut m = serde_json::Map::new();
            m.insert("value".into(), json!(v));
            if let Some(t) = t {
                m.insert("type".into(), json!(t));
            }
            if let Some(p) = p {
                m.insert("primary".into(), json!(p));
            }
            Value::Object(m)
        });
    prop_oneof![
        Just(("displayName".to_string(), json!("Babs"))),
        any::<bool>().prop_map(|b| ("active".to_string(), json!(b))),
        prop::collection::vec(email, 0..3).prop_map(|e| ("emails".to_string(), json!(e))),
        Just((
            "name".to_string(),
            json!({"givenName": "B", "familyName": "J"})
        )),
        value().prop_map(|v| ("id".to_string(), v)),
        value().prop_map(|v| ("meta".to_string(), v)),
        Just((
            ENTERPRISE_USER_SCHEMA.to_string(),
            json!({"department": "x", "manager": {"value": "m"}})
        )),
        Just((
            "x509Certificates".to_string(),
            json!([{"value": "bm90IGJhc2U2NA=="}])
        )),
        Just(("title".to_string(), json!("Guide"))),
        Just(("externalId".to_string(), json!("e1"))),
    ]
}

/// A body written member by member, so duplicates stay in the text.
fn body() -> impl Strategy<Value = String> {
    let member = prop_oneof![1 => (key(), value()), 8 => typed_member()];
    (
        prop::collection::vec(member, 0..8),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.9),
    )
        .prop_map(|(members, with_schemas, with_user_name)| {
            let mut parts = Vec::new();
            if with_schemas {
                let enterprise = members.iter().any(|(k, _)| k == ENTERPRISE_USER_SCHEMA);
                parts.push(if enterprise {
                    format!("\"schemas\":[\"{ENTERPRISE_USER_SCHEMA}\", \"{USER_SCHEMA}\"]")
                } else {
                    format!("\"schemas\":[\"{USER_SCHEMA}\"]")
                });
            }
            if with_user_name {
                parts.push("\"userName\":\"u\"".to_string());
            }
            for (k, v) in members {
                parts.push(format!("{} : {}", json!(k), v));
            }
            format!("{{ {} }}", parts.join(" ,\n"))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_fast_path_forwards_only_what_the_full_path_would(body in body()) {
        prop_assert!(agrees("User", &body), "{}", body);
    }
}

/// The property above is only worth something if the generated bodies
/// take the fast path often enough (and the full path's refusals too).
#[test]
fn generated_bodies_exercise_both_paths() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = body();
    let (mut fast_ones, mut accepted, total) = (0, 0, 3000);
    for _ in 0..total {
        let body = strategy.new_tree(&mut runner).unwrap().current();
        fast_ones += usize::from(fast("User", &body).is_some());
        accepted += usize::from(full("User", &body).is_some());
    }
    eprintln!("{fast_ones} of {total} fast, {accepted} accepted by the full path");
    assert!(
        fast_ones * 5 >= total,
        "{fast_ones} of {total} took the fast path"
    );
    assert!(accepted > fast_ones, "some valid bodies need normalizing");
}

/// Valid bodies, a few bytes edited: broken JSON, wrong types, other
/// names. Whatever the fast path still forwards, the full path agrees.
fn edited() -> impl Strategy<Value = String> {
    let bodies = prop::sample::select(vec![
        CANONICAL,
        include_str!("../../../benches/load/user.json"),
        include_str!("../../../tests/fixtures/user_full.json"),
    ]);
    let piece = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        "\"",
        ",",
        ":",
        "\\",
        " ",
        "0",
        "-1",
        "1.5",
        "null",
        "true",
        "[]",
        "{}",
        "\"x\"",
        "\\u0041",
        "\\\"",
        "é",
        "U",
        "primary\":true,\"",
        "\"id\":1,",
    ]);
    (
        bodies,
        prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, piece), 1..3),
    )
        .prop_map(|(body, edits)| {
            let mut text = body.to_string();
            crate::scim::json_scan::tests::apply_edits(&mut text, edits);
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn edited_bodies_agree_with_the_full_path(body in edited()) {
        prop_assert!(agrees("User", &body), "{}", body);
    }
}
