//! Each rule on its own, on the shapes IdPs send that their documents do
//! not show, and each rule switched off.
use super::{fired, patch_inline, resource_inline};
use crate::dialect::{Profile, Rule, RuleSet, WriteKind};
use serde_json::{json, Value};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn entra() -> RuleSet {
    RuleSet::for_profile(Profile::Entra)
}

fn ops(list: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": list})
}

fn user_patch(list: Value, rules: &RuleSet) -> (Value, Vec<&'static str>) {
    let mut body = ops(list);
    let applied = patch_inline("User", &mut body, rules);
    (body["Operations"].clone(), fired(&applied))
}

#[test]
fn op_names_in_any_case_and_delete() {
    let (out, rules) = user_patch(
        json!([
            {"op": "ADD", "path": "nickName", "value": "a"},
            {"op": "Delete", "path": "title"},
            {"op": "remove", "path": "locale"}
        ]),
        &entra(),
    );
    assert_eq!(
        out,
        json!([
            {"op": "add", "path": "nickName", "value": "a"},
            {"op": "remove", "path": "title"},
            {"op": "remove", "path": "locale"}
        ])
    );
    assert_eq!(rules, ["op_case"]);
    let (out, rules) = user_patch(
        json!([{"op": "Replace", "path": "active", "value": "True"}]),
        &entra().with(Rule::OpCase, false),
    );
    assert_eq!(
        out,
        json!([{"op": "Replace", "path": "active", "value": true}])
    );
    assert_eq!(rules, ["string_booleans"]);
}

#[test]
fn string_booleans_in_value_filters_values_and_bodies() {
    let (out, rules) = user_patch(
        json!([
            {"op": "replace", "path": "emails[primary eq \"True\"].value", "value": "a@example.com"},
            {"op": "replace", "path": "emails[type eq \"work\"].primary", "value": "false"},
            {"op": "replace", "path": "nickName", "value": "True"}
        ]),
        &entra().with(Rule::MergeFilteredSubAttrs, false),
    );
    assert_eq!(
        out,
        json!([
            {"op": "replace", "path": "emails[primary eq true].value", "value": "a@example.com"},
            {"op": "replace", "path": "emails[type eq \"work\"].primary", "value": false},
            {"op": "replace", "path": "nickName", "value": "True"}
        ])
    );
    assert_eq!(rules, ["string_booleans"]);
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "True", "active": "TRUE",
        "emails": [{"value": "a@example.com", "primary": "False"}]
    });
    let applied = resource_inline("User", WriteKind::Create, &mut body, &entra());
    assert_eq!(body["userName"], json!("True"));
    assert_eq!(body["active"], json!(true));
    assert_eq!(body["emails"][0]["primary"], json!(false));
    assert_eq!(fired(&applied), ["string_booleans"]);
}

#[test]
fn pathless_keys_that_cannot_nest_become_operations() {
    let (out, rules) = user_patch(
        json!([{"op": "replace", "value": {
            "name": "not an object",
            "name.givenName": "Kkom",
            "emails[type eq \"work\"].value": "a@example.com",
            "urn:ietf:params:scim:schemas:core:2.0:User:title": "Boss",
            "urn:example:unknown:2.0:User:x": "y"
        }}]),
        &entra(),
    );
    assert_eq!(
        out,
        json!([
            {"op": "replace", "value": {"name": "not an object", "title": "Boss"}},
            {"op": "replace", "path": "name.givenName", "value": "Kkom"},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "a@example.com"},
            {"op": "replace", "path": "urn:example:unknown:2.0:User:x", "value": "y"}
        ])
    );
    assert_eq!(rules, ["pathless_dotted_keys"]);
}

#[test]
fn pathless_keys_merge_with_objects_already_there() {
    let (out, _) = user_patch(
        json!([{"op": "add", "value": {
            "name": {"familyName": "Unua"},
            "name.givenName": "Kkom",
            (ENT): {"department": "R&D"},
            (format!("{ENT}:manager.value")): "boss-id"
        }}]),
        &entra(),
    );
    assert_eq!(
        out,
        json!([{"op": "add", "value": {
            "name": {"familyName": "Unua", "givenName": "Kkom"},
            (ENT): {"department": "R&D", "manager": {"value": "boss-id"}}
        }}])
    );
}

#[test]
fn remove_by_value_list_needs_every_value() {
    let list = json!([{
        "op": "remove", "path": "members",
        "value": [{"value": "a"}, {"value": "b\"c"}]
    }]);
    let mut body = ops(list.clone());
    let applied = patch_inline("Group", &mut body, &entra());
    assert_eq!(
        body["Operations"],
        json!([
            {"op": "remove", "path": "members[value eq \"a\"]"},
            {"op": "remove", "path": "members[value eq \"b\\\"c\"]"}
        ])
    );
    assert_eq!(fired(&applied), ["remove_by_value_list"]);
    // An element without `value` cannot become a filter: left as sent.
    let mut body = ops(
        json!([{"op": "remove", "path": "members", "value": [{"value": "a"}, {"display": "x"}]}]),
    );
    assert!(patch_inline("Group", &mut body, &entra()).is_empty());
    // Switched off (the generic profile): left as sent.
    let mut body = ops(list.clone());
    let applied = patch_inline("Group", &mut body, &RuleSet::for_profile(Profile::Generic));
    assert_eq!(body, ops(list));
    assert!(applied.is_empty());
}

#[test]
fn manager_as_a_bare_string_in_patch_and_body() {
    let (out, rules) = user_patch(
        json!([{"op": "Add", "path": format!("{ENT}:manager"), "value": "2819c223"}]),
        &entra(),
    );
    assert_eq!(
        out,
        json!([{"op": "add", "path": format!("{ENT}:manager"), "value": {"value": "2819c223"}}])
    );
    assert_eq!(rules, ["op_case", "manager_value"]);
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "userName": "u", (ENT): {"manager": "2819c223"}
    });
    let applied = resource_inline("User", WriteKind::Replace, &mut body, &entra());
    assert_eq!(body[ENT]["manager"], json!({"value": "2819c223"}));
    assert_eq!(fired(&applied), ["manager_value"]);
    let mut body = json!({"userName": "u", (ENT): {"manager": "2819c223"}});
    let off = entra().with(Rule::ManagerValue, false);
    assert!(resource_inline("User", WriteKind::Replace, &mut body, &off).is_empty());
    assert_eq!(body[ENT]["manager"], json!("2819c223"));
}

#[test]
fn roles_sent_as_stringified_json() {
    let (out, rules) = user_patch(
        json!([{"op": "add", "path": "roles",
            "value": "[{\"value\":\"admin\",\"primary\":\"True\"}]"}]),
        &entra(),
    );
    assert_eq!(
        out,
        json!([{"op": "add", "path": "roles", "value": [{"value": "admin", "primary": true}]}])
    );
    assert_eq!(rules, ["string_booleans", "stringified_json"]);
    let mut body = json!({"userName": "u", "roles": ["[{\"value\":\"a\"},{\"value\":\"b\"}]", {"value": "c"}]});
    let applied = resource_inline("User", WriteKind::Create, &mut body, &entra());
    assert_eq!(
        body["roles"],
        json!([{"value": "a"}, {"value": "b"}, {"value": "c"}])
    );
    assert_eq!(fired(&applied), ["stringified_json"]);
    // A plain string role is not JSON: left for validation.
    let (out, rules) = user_patch(
        json!([{"op": "add", "path": "roles", "value": "admin"}]),
        &entra(),
    );
    assert_eq!(out[0]["value"], json!("admin"));
    assert!(rules.is_empty());
}

#[test]
fn sub_attribute_operations_on_one_filtered_element_merge() {
    let list = json!([
        {"op": "Replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
        {"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Redmond"},
        {"op": "Add", "path": "addresses[type eq \"work\"].region", "value": "WA"},
        {"op": "Replace", "path": "name.familyName", "value": "Unua"}
    ]);
    let (out, rules) = user_patch(list.clone(), &entra());
    assert_eq!(
        out,
        json!([
            {"op": "add", "path": "addresses[type eq \"work\"]", "value": {
                "type": "work", "streetAddress": "1 Main St", "locality": "Redmond", "region": "WA"
            }},
            {"op": "replace", "path": "name.familyName", "value": "Unua"}
        ])
    );
    assert_eq!(rules, ["op_case", "merge_filtered_sub_attrs"]);
    let (out, rules) = user_patch(list, &entra().with(Rule::MergeFilteredSubAttrs, false));
    assert_eq!(out.as_array().map(Vec::len), Some(4));
    assert_eq!(rules, ["op_case"]);
}

#[test]
fn merging_stops_at_another_operation_on_the_attribute() {
    let list = json!([
        {"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "A"},
        {"op": "remove", "path": "addresses[type eq \"work\"]"},
        {"op": "replace", "path": "addresses[type eq \"work\"].region", "value": "B"},
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "x@example.com"}
    ]);
    let (out, rules) = user_patch(list.clone(), &entra());
    assert_eq!(out, list);
    assert!(rules.is_empty());
}

#[test]
fn read_only_id_and_meta_in_pathless_values_and_bodies() {
    let (out, rules) = user_patch(
        json!([{"op": "add", "value": {"id": "x", "meta": {"version": "W/\"1\""}, "nickName": "n"}}]),
        &RuleSet::for_profile(Profile::Generic),
    );
    assert_eq!(out, json!([{"op": "add", "value": {"nickName": "n"}}]));
    assert_eq!(rules, ["read_only_id_meta"]);
    // With a path, `id` is the client's mistake to hear about.
    let list = json!([{"op": "replace", "path": "id", "value": "x"}]);
    let (out, rules) = user_patch(list.clone(), &entra());
    assert_eq!((out, rules.is_empty()), (list, true));
}

#[test]
fn password_is_only_dropped_from_creates() {
    let okta = RuleSet::for_profile(Profile::Okta);
    let mut body = json!({"userName": "u", "password": "p"});
    resource_inline("User", WriteKind::Replace, &mut body, &okta);
    assert_eq!(body["password"], json!("p"));
    resource_inline("User", WriteKind::Create, &mut body, &okta);
    assert!(body.get("password").is_none());
    // Groups have no read-only `groups`: a member list stays.
    let mut group = json!({"displayName": "g", "members": [{"value": "u"}]});
    let applied = resource_inline("Group", WriteKind::Create, &mut group, &okta);
    assert!(applied.is_empty());
}

#[test]
fn multi_valued_complex_sent_as_one_object_is_wrapped() {
    let mut body = json!({"userName": "u", "emails": {"value": "a@example.com", "type": "work"}});
    let applied = resource_inline("User", WriteKind::Create, &mut body, &entra());
    assert_eq!(
        body["emails"],
        json!([{"value": "a@example.com", "type": "work"}])
    );
    assert_eq!(fired(&applied), ["single_value_as_list"]);
    let (out, rules) = user_patch(
        json!([
            {"op": "add", "path": "emails", "value": {"value": "b@example.com"}},
            {"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "c@example.com"}}
        ]),
        &entra(),
    );
    assert_eq!(
        out,
        json!([
            {"op": "add", "path": "emails", "value": [{"value": "b@example.com"}]},
            {"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "c@example.com"}}
        ])
    );
    assert_eq!(rules, ["single_value_as_list"]);
    let mut body = json!({"userName": "u", "emails": {"value": "a@example.com"}});
    let off = entra().with(Rule::SingleValueAsList, false);
    assert!(resource_inline("User", WriteKind::Create, &mut body, &off).is_empty());
}

#[test]
fn foreign_schemas_with_data_stay_for_validation() {
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:example:custom:1.0:User"],
        "userName": "u", "urn:example:custom:1.0:User": {"badge": "7"}
    });
    let before = body.clone();
    assert!(resource_inline("User", WriteKind::Create, &mut body, &entra()).is_empty());
    assert_eq!(body, before);
}

#[test]
fn shadow_mode_on_an_inline_patch() {
    let list =
        json!([{"op": "Remove", "path": "members", "value": [{"value": "a", "$ref": null}]}]);
    let mut body = ops(list.clone());
    let applied = patch_inline("Group", &mut body, &entra().shadowed(true));
    assert_eq!(body, ops(list));
    assert!(applied.shadow);
    assert_eq!(fired(&applied), ["op_case", "remove_by_value_list"]);
}

#[test]
fn bodies_without_operations_or_not_objects_are_left_for_validation() {
    for body in [
        json!([]),
        json!("x"),
        json!({"Operations": "x"}),
        json!({"schemas": [PATCH]}),
    ] {
        let mut patch = body.clone();
        assert!(patch_inline("User", &mut patch, &RuleSet::all()).is_empty());
        assert_eq!(patch, body);
    }
    for body in [json!([]), json!("x"), json!(null)] {
        let mut resource = body.clone();
        let applied = resource_inline("User", WriteKind::Create, &mut resource, &RuleSet::all());
        assert!(applied.is_empty());
        assert_eq!(resource, body);
    }
}
