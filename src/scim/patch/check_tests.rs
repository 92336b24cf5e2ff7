#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::{check_patch, PatchRequest};
use crate::scim::error::ScimType;
use crate::scim::schema::SchemaRegistry;
use serde_json::json;

fn check(ops: serde_json::Value, kind: &str) -> Result<(), crate::scim::error::ScimError> {
    let registry = SchemaRegistry::builtin();
    let rt = registry.resource_type(kind).unwrap().clone();
    let req = PatchRequest::parse(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops,
    }))?;
    check_patch(&registry, &rt, &req)
}

#[test]
fn well_formed_operations_pass() {
    check(
        json!([
            {"op": "replace", "path": "name.givenName", "value": "Barbara"},
            {"op": "add", "path": "emails", "value": [{"value": "b@example.com", "type": "work"}]},
            {"op": "add", "path": "emails", "value": {"value": "c@example.com"}},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "d@example.com"},
            {"op": "remove", "path": "phoneNumbers[type eq \"fax\"]"},
            {"op": "replace", "value": {"active": false, "name.familyName": "Jensen",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"},
                "id": "echoed", "meta": {"resourceType": "User"}}},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "value": {"value": "m1"}},
        ]),
        "User",
    )
    .unwrap();
    check(
        json!([
            {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
            {"op": "remove", "path": "members[value eq \"u3\"]"},
            {"op": "replace", "path": "displayName", "value": "Admins"},
        ]),
        "Group",
    )
    .unwrap();
}

#[test]
fn each_mistake_is_named() {
    let cases = [
        (
            json!([{"op": "replace", "path": "nickName2", "value": "x"}]),
            ScimType::InvalidPath,
            "nickName2",
        ),
        (
            json!([{"op": "replace", "path": "name.middle", "value": "x"}]),
            ScimType::InvalidPath,
            "middle",
        ),
        (
            json!([{"op": "replace", "path": "id", "value": "x"}]),
            ScimType::Mutability,
            "id",
        ),
        (
            json!([{"op": "replace", "path": "groups", "value": []}]),
            ScimType::Mutability,
            "groups",
        ),
        (
            json!([{"op": "replace", "path": "active", "value": "yes"}]),
            ScimType::InvalidValue,
            "active",
        ),
        (
            json!([{"op": "replace", "path": "userName[value eq \"x\"]", "value": "x"}]),
            ScimType::InvalidPath,
            "userName",
        ),
        (
            json!([{"op": "add", "path": "emails", "value": [{"value": 5}]}]),
            ScimType::InvalidValue,
            "emails.value",
        ),
        (
            json!([{"op": "replace", "value": {"active": "nope"}}]),
            ScimType::InvalidValue,
            "active",
        ),
        (
            json!([{"op": "replace", "value": {"bogus": 1}}]),
            ScimType::InvalidPath,
            "bogus",
        ),
        (json!([{"op": "remove"}]), ScimType::NoTarget, "path"),
        (
            json!([{"op": "add", "path": "title"}]),
            ScimType::InvalidValue,
            "value",
        ),
        (
            json!([{"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCentre": "x"}}}]),
            ScimType::InvalidPath,
            "costCentre",
        ),
    ];
    for (ops, scim_type, named) in cases {
        let e = check(ops.clone(), "User").expect_err(&ops.to_string());
        assert_eq!(e.scim_type(), Some(scim_type), "{ops}: {}", e.detail());
        assert!(e.detail().contains(named), "{ops}: {}", e.detail());
    }
}

#[test]
fn the_failing_operation_is_numbered() {
    let e = check(
        json!([
            {"op": "replace", "path": "title", "value": "x"},
            {"op": "replace", "path": "active", "value": 3},
        ]),
        "User",
    )
    .unwrap_err();
    assert!(e.detail().contains("Operations[1]"), "{}", e.detail());
}
