#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};
use serde_json::json;

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
        "id": "1",
        "userName": "bjensen",
        "password": "never",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "a@x", "type": "work"}, {"value": "b@x", "type": "home"}],
        ENTERPRISE_USER_SCHEMA: {"employeeNumber": "7", "department": "Ops"},
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    })
}

fn project(attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let r = SchemaRegistry::builtin();
    let rt = r.resource_type("User").unwrap();
    Projection::parse(attributes, excluded)
        .unwrap()
        .apply(&r, rt, &user())
}

#[test]
fn default_drops_never_returned() {
    let v = project(None, None);
    assert!(v.get("password").is_none());
    assert_eq!(v["userName"], "bjensen");
    assert_eq!(v[ENTERPRISE_USER_SCHEMA]["department"], "Ops");
}

#[test]
fn attributes_keep_named_and_always() {
    let v = project(Some("userName, name.givenName"), None);
    assert_eq!(
        v,
        json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "id": "1", "userName": "bjensen", "name": {"givenName": "Barbara"}})
    );
    let v = project(Some("emails.type"), None);
    assert_eq!(v["emails"], json!([{"type": "work"}, {"type": "home"}]));
    let v = project(
        Some(&format!("{ENTERPRISE_USER_SCHEMA}:employeeNumber")),
        None,
    );
    assert_eq!(v[ENTERPRISE_USER_SCHEMA], json!({"employeeNumber": "7"}));
    assert!(v.get("userName").is_none());
    let v = project(Some(ENTERPRISE_USER_SCHEMA), None);
    assert_eq!(
        v[ENTERPRISE_USER_SCHEMA],
        json!({"employeeNumber": "7", "department": "Ops"})
    );
    let v = project(Some("password"), None);
    assert!(v.get("password").is_none(), "never is never returned");
    let v = project(
        Some("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
        None,
    );
    assert_eq!(v["userName"], "bjensen");
}

#[test]
fn excluded_attributes_remove_default_ones() {
    let v = project(None, Some("emails,name.familyName,id"));
    assert!(v.get("emails").is_none());
    assert_eq!(v["name"], json!({"givenName": "Barbara"}));
    assert_eq!(v["id"], "1", "id is always returned");
    let v = project(None, Some(&format!("{ENTERPRISE_USER_SCHEMA}:department")));
    assert_eq!(v[ENTERPRISE_USER_SCHEMA], json!({"employeeNumber": "7"}));
    let v = project(Some("userName"), Some("userName"));
    assert_eq!(v["userName"], "bjensen", "attributes wins");
}

#[test]
fn request_returned_only_when_asked() {
    let mut reg = SchemaRegistry::builtin();
    let mut core = crate::scim::schema::builtin::core_user();
    let mut secret = Attribute::new("shoeSize", crate::scim::schema::AttrType::Integer);
    secret.returned = Returned::Request;
    core.attributes.push(secret);
    reg.add_schema(core);
    let rt = reg.resource_type("User").unwrap();
    let mut u = user();
    u["shoeSize"] = json!(42);
    let v = Projection::default().apply(&reg, rt, &u);
    assert!(v.get("shoeSize").is_none());
    let v = Projection::parse(Some("shoeSize"), None)
        .unwrap()
        .apply(&reg, rt, &u);
    assert_eq!(v["shoeSize"], 42);
}

#[test]
fn bad_paths_are_invalid_path() {
    let e = Projection::parse(Some("userName,na me"), None).unwrap_err();
    assert_eq!(e.scim_type(), Some(crate::scim::ScimType::InvalidPath));
    assert!(e.detail().contains("na me"));
}
