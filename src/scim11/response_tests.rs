#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::scim::error::ERROR_SCHEMA;
use crate::scim::schema::USER_SCHEMA;
use crate::scim::ScimType;

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn spec_list_becomes_a_list_response() {
    let list = fixture(include_str!("../../tests/fixtures/scim11/list.json"));
    let out = list_from_scim11(&list, ResourceKind::User, None).unwrap();
    assert_eq!(out["schemas"], json!([LIST_RESPONSE_SCHEMA]));
    assert_eq!(out["totalResults"], 100);
    assert_eq!(out["itemsPerPage"], 2);
    assert_eq!(out["startIndex"], 1);
    assert_eq!(out["Resources"][1]["userName"], "jsmith");
    assert_eq!(out["Resources"][0]["schemas"], json!([USER_SCHEMA]));
    // And back.
    let back = list_to_scim11(&out);
    assert_eq!(back["totalResults"], 100);
    assert_eq!(back["schemas"], json!([CORE_SCHEMA_11]));
    assert_eq!(
        back["Resources"][0],
        json!({"schemas": [CORE_SCHEMA_11], "id": "2819c223-7f76-453a-919d-413861904646", "userName": "bjensen"})
    );
}

#[test]
fn short_and_empty_lists() {
    // 1.1 requires startIndex and itemsPerPage only for partial results.
    let list = json!({"totalResults": 2, "schemas": [CORE_SCHEMA_11],
        "Resources": [{"userName": "bjensen"}, {"userName": "jsmith"}]});
    let out = list_from_scim11(&list, ResourceKind::User, None).unwrap();
    assert_eq!(out["startIndex"], 1);
    assert_eq!(out["itemsPerPage"], 2);
    let out = list_from_scim11(&json!({"totalResults": 0}), ResourceKind::Group, None).unwrap();
    assert_eq!(out["Resources"], json!([]));
    assert_eq!(out["itemsPerPage"], 0);
}

#[test]
fn broken_lists_are_upstream_errors() {
    for body in [
        json!([]),
        json!({"Resources": []}),
        json!({"totalResults": "2"}),
        json!({"totalResults": 1, "Resources": {}}),
    ] {
        let e = list_from_scim11(&body, ResourceKind::User, None).unwrap_err();
        assert_eq!(e.status(), 502, "{body}");
        assert!(e.detail().starts_with("the SCIM 1.1 service sent"));
    }
}

#[test]
fn spec_error_becomes_a_scim2_error() {
    let body = fixture(include_str!("../../tests/fixtures/scim11/error.json"));
    let e = error_from_scim11(404, &body);
    assert_eq!(e.status(), 404);
    assert_eq!(e.scim_type(), None);
    assert_eq!(
        e.detail(),
        "Resource 2819c223-7f76-453a-919d-413861904646 not found"
    );
    let json = e.to_json();
    assert_eq!(json["schemas"], json!([ERROR_SCHEMA]));
    assert_eq!(json["status"], "404");
    assert_eq!(error_to_scim11(&e), body);
}

#[test]
fn error_status_code_and_type() {
    let body = json!({"Errors": [
        {"description": "userName taken", "code": "409"},
        {"description": "second problem", "code": 409}
    ]});
    let e = error_from_scim11(409, &body);
    assert_eq!(e.scim_type(), Some(ScimType::Uniqueness));
    assert_eq!(e.detail(), "userName taken; second problem");
    // A success status with an error body: the body's code counts.
    assert_eq!(error_from_scim11(200, &body).status(), 409);
    // No usable body: the status, and a generic detail.
    let e = error_from_scim11(503, &json!("<html>"));
    assert_eq!(e.status(), 503);
    assert_eq!(e.detail(), "the SCIM 1.1 service answered 503");
    assert_eq!(error_from_scim11(200, &json!({})).status(), 500);
}

#[test]
fn errors_already_in_the_2_0_format() {
    let body = json!({"schemas": [ERROR_SCHEMA], "status": "400", "scimType": "invalidValue", "detail": "bad"});
    let e = error_from_scim11(400, &body);
    assert_eq!(e, ScimError::invalid_value("bad"));
    assert_eq!(error_from_scim11(422, &body).status(), 422);
    assert_eq!(error_from_scim11(200, &body).status(), 400);
}

#[test]
fn whole_responses_dispatch_on_status_and_shape() {
    let group = fixture(include_str!("../../tests/fixtures/scim11/group.json"));
    let g = response_from_scim11(200, &group, ResourceKind::Group, None).unwrap();
    assert_eq!(g["meta"]["resourceType"], "Group");
    let list = fixture(include_str!("../../tests/fixtures/scim11/list.json"));
    let l = response_from_scim11(200, &list, ResourceKind::User, None).unwrap();
    assert_eq!(l["schemas"], json!([LIST_RESPONSE_SCHEMA]));
    let error = fixture(include_str!("../../tests/fixtures/scim11/error.json"));
    let e = response_from_scim11(404, &error, ResourceKind::User, None).unwrap_err();
    assert_eq!(e.status(), 404);
}
