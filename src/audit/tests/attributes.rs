use crate::audit::{allowed_values, changed_attributes};
use serde_json::json;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[test]
fn post_names_top_level_and_extension_attributes() {
    let body = json!({"schemas": ["x"], "id": "1", "userName": "a", "password": "s3cret",
        ENT: {"manager": {"value": "m"}, "department": "d"}});
    assert_eq!(
        changed_attributes("POST", Some(&body)),
        vec![
            "userName".to_string(),
            "password".into(),
            format!("{ENT}:manager"),
            format!("{ENT}:department")
        ]
    );
}

#[test]
fn patch_names_paths_and_pathless_keys() {
    let body = json!({"Operations": [
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x"},
        {"op": "add", "path": format!("{ENT}:manager"), "value": {"value": "m"}},
        {"op": "replace", "value": {"active": false, "Emails": []}},
        {"op": "remove", "path": "name.givenName"}
    ]});
    assert_eq!(
        changed_attributes("PATCH", Some(&body)),
        vec![
            "emails".to_string(),
            format!("{ENT}:manager"),
            "active".into(),
            "name".into()
        ]
    );
    assert!(changed_attributes("DELETE", Some(&body)).is_empty());
}

#[test]
fn values_only_for_allow_listed_and_never_password() {
    let body = json!({"userName": "a", "password": "s3cret", "displayName": "D",
        "name": {"givenName": "g", "password": "p"}});
    let allow = vec!["username".to_string(), "password".into(), "name".into()];
    let v = allowed_values("PUT", Some(&body), &allow).unwrap();
    assert_eq!(
        serde_json::Value::Object(v),
        json!({"userName": "a", "name": {"givenName": "g"}})
    );
    assert!(allowed_values("PUT", Some(&body), &[]).is_none());
    let patch = json!({"Operations": [{"op": "replace", "path": "password", "value": "x"},
        {"op": "replace", "value": {"active": false, "password": "y"}}]});
    let v = allowed_values("PATCH", Some(&patch), &["active".into(), "password".into()]).unwrap();
    assert_eq!(
        serde_json::Value::Object(v),
        json!({"active": [{"op": "replace", "value": false}]})
    );
    assert!(!serde_json::to_string(&patch_values_all(&patch))
        .unwrap()
        .contains("\"x\""));
}

fn patch_values_all(
    patch: &serde_json::Value,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    allowed_values("PATCH", Some(patch), &["password".into()])
}
