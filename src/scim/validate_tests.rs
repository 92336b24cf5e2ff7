#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};
use crate::scim::ScimType;
use serde_json::json;

fn user(body: Value) -> ScimResult<Value> {
    let r = SchemaRegistry::builtin();
    let rt = r.resource_type("User").unwrap().clone();
    validate_resource(&r, &rt, &body, None)
}

fn replace(kind: &str, body: Value, existing: Value) -> ScimResult<Value> {
    let r = SchemaRegistry::builtin();
    let rt = r.resource_type(kind).unwrap().clone();
    validate_resource(&r, &rt, &body, Some(&existing))
}

fn err(r: ScimResult<Value>) -> (u16, Option<ScimType>, String) {
    let e = r.expect_err("should fail");
    (e.status(), e.scim_type(), e.detail().to_string())
}

#[test]
fn normalizes_names_drops_read_only_and_unassigned() {
    let v = user(json!({
        "schemas": [USER_SCHEMA],
        "USERNAME": "bjensen",
        "id": "client-chosen",
        "meta": {"version": "x"},
        "groups": [{"value": "g"}],
        "name": {"GivenName": "Barbara", "familyName": null},
        "emails": [],
        "nickName": null,
        "active": true,
        "externalId": "ext-1",
        "password": "secret"
    }))
    .unwrap();
    assert_eq!(
        v,
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "bjensen",
            "name": {"givenName": "Barbara"},
            "active": true,
            "externalId": "ext-1",
            "password": "secret"
        })
    );
}

#[test]
fn extensions_live_under_their_urn() {
    let v = user(json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "userName": "b",
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "701984", "manager": {"value": "m1"}}
    }))
    .unwrap();
    assert_eq!(v["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
    assert_eq!(v[ENTERPRISE_USER_SCHEMA]["employeeNumber"], "701984");
    // The URN may be missing from schemas: added.
    let v = user(json!({
        "schemas": [USER_SCHEMA], "userName": "b",
        ENTERPRISE_USER_SCHEMA: {"department": "Ops"}
    }))
    .unwrap();
    assert_eq!(v["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
    let (s, t, d) = err(user(json!({
        "schemas": [USER_SCHEMA], "userName": "b",
        ENTERPRISE_USER_SCHEMA: {"shoeSize": 4}
    })));
    assert_eq!((s, t), (400, Some(ScimType::InvalidValue)));
    assert!(d.contains("shoeSize"), "{d}");
}

#[test]
fn schemas_must_be_consistent() {
    let (_, t, d) = err(user(json!({"userName": "b"})));
    assert_eq!(t, Some(ScimType::InvalidValue));
    assert!(d.contains("schemas"), "{d}");
    let (_, _, d) = err(user(json!({"schemas": [GROUP_SCHEMA], "userName": "b"})));
    assert!(d.contains(GROUP_SCHEMA), "{d}");
    let (_, _, d) = err(user(json!({"schemas": "x", "userName": "b"})));
    assert!(d.contains("schemas"), "{d}");
    let (_, _, d) = err(user(
        json!({"schemas": [USER_SCHEMA, "urn:x:y"], "userName": "b"}),
    ));
    assert!(d.contains("urn:x:y"), "{d}");
    let (_, _, d) = err(user(
        json!({"schemas": [USER_SCHEMA], "userName": "b", "urn:x:y:attr": 1}),
    ));
    assert!(d.contains("urn:x:y:attr"), "{d}");
    let (s, t, _) = err(user(json!(["not", "an", "object"])));
    assert_eq!((s, t), (400, Some(ScimType::InvalidSyntax)));
}

#[test]
fn unknown_and_mistyped_attributes_are_named() {
    let cases = [
        (json!({"shoeSize": 42}), "shoeSize"),
        (json!({"active": "true"}), "active"),
        (json!({"name": "Barbara Jensen"}), "name"),
        (json!({"name": {"given": "B"}}), "given"),
        (json!({"emails": {"value": "a@b"}}), "emails"),
        (json!({"emails": [{"value": 7}]}), "emails.value"),
        (json!({"displayName": ["a"]}), "displayName"),
        (
            json!({"emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
            "primary",
        ),
        (
            json!({"x509Certificates": [{"value": "not base64!"}]}),
            "x509Certificates.value",
        ),
        (json!({"profileUrl": 5}), "profileUrl"),
    ];
    for (extra, needle) in cases {
        let mut body = json!({"schemas": [USER_SCHEMA], "userName": "b"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (s, t, d) = err(user(body));
        assert_eq!((s, t), (400, Some(ScimType::InvalidValue)), "{needle}: {d}");
        assert!(d.contains(needle), "{needle}: {d}");
    }
}

#[test]
fn required_attributes_and_sub_attributes() {
    let (_, t, d) = err(user(json!({"schemas": [USER_SCHEMA], "displayName": "x"})));
    assert_eq!(t, Some(ScimType::InvalidValue));
    assert!(d.contains("userName"), "{d}");
    let r = SchemaRegistry::builtin();
    let rt = r.resource_type("Group").unwrap();
    let e = validate_resource(&r, rt, &json!({"schemas": [GROUP_SCHEMA]}), None).unwrap_err();
    assert!(e.detail().contains("displayName"));
}

#[test]
fn date_times_are_checked() {
    let r = SchemaRegistry::builtin();
    let mut rt = r.resource_type("User").unwrap().clone();
    rt.extensions.clear();
    // meta is readOnly, so use a schema with a writable dateTime.
    let mut s = crate::scim::schema::builtin::core_user();
    s.attributes
        .push(Attribute::new("hired", AttrType::DateTime));
    let mut reg = SchemaRegistry::builtin();
    reg.add_schema(s);
    let ok = validate_resource(
        &reg,
        &rt,
        &json!({"schemas": [USER_SCHEMA], "userName": "b", "hired": "2011-05-13T04:42:34Z"}),
        None,
    );
    assert!(ok.is_ok(), "{ok:?}");
    let e = validate_resource(
        &reg,
        &rt,
        &json!({"schemas": [USER_SCHEMA], "userName": "b", "hired": "yesterday"}),
        None,
    )
    .unwrap_err();
    assert!(e.detail().contains("hired"), "{}", e.detail());
}

#[test]
fn immutable_values_cannot_change_on_replace() {
    let existing = json!({
        "schemas": [GROUP_SCHEMA], "id": "g", "displayName": "G",
        "members": [{"value": "u1", "type": "User"}]
    });
    // Members may come and go although their sub-attributes are immutable.
    let v = replace(
        "Group",
        json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": "u2"}]}),
        existing,
    )
    .unwrap();
    assert_eq!(v["members"], json!([{"value": "u2"}]));

    let mut core = crate::scim::schema::builtin::core_user();
    let mut badge = Attribute::new("badge", AttrType::String);
    badge.mutability = Mutability::Immutable;
    core.attributes.push(badge);
    let mut reg = SchemaRegistry::builtin();
    reg.add_schema(core);
    let rt = reg.resource_type("User").unwrap().clone();
    let old = json!({"schemas": [USER_SCHEMA], "userName": "b", "badge": "B-1"});
    let e = validate_resource(
        &reg,
        &rt,
        &json!({"schemas": [USER_SCHEMA], "userName": "b", "badge": "B-2"}),
        Some(&old),
    )
    .unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::Mutability));
    assert!(e.detail().contains("badge"));
    let kept = validate_resource(
        &reg,
        &rt,
        &json!({"schemas": [USER_SCHEMA], "userName": "c"}),
        Some(&old),
    )
    .unwrap();
    assert_eq!(kept["badge"], "B-1");
    // Setting it for the first time is fine.
    let first = validate_resource(
        &reg,
        &rt,
        &json!({"schemas": [USER_SCHEMA], "userName": "b", "badge": "B-9"}),
        Some(&json!({"userName": "b"})),
    )
    .unwrap();
    assert_eq!(first["badge"], "B-9");
}
