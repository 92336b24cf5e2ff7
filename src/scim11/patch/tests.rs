#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::scim::patch::{apply_patch, PATCH_OP_SCHEMA};
use crate::scim::schema::{SchemaRegistry, ENTERPRISE_USER_SCHEMA};
use crate::scim::ScimType;
use crate::scim11::{resource_to_scim11, ResourceKind, ENTERPRISE_SCHEMA_11};
use proptest::prelude::*;

const ENT: &str = ENTERPRISE_USER_SCHEMA;

fn request(ops: Value) -> PatchRequest {
    PatchRequest::parse(&json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})).unwrap()
}

fn user() -> Value {
    serde_json::from_str(include_str!("../../../tests/fixtures/user_full.json")).unwrap()
}

fn translate(ops: Value) -> Result<Value, Scim11Error> {
    patch_to_scim11(&request(ops))
}

fn emulable(ops: Value, names: &str) {
    let e = translate(ops).unwrap_err();
    assert!(e.needs_emulation(), "{e:?}");
    assert_eq!(e.scim_error().scim_type(), Some(ScimType::InvalidPath));
    assert!(e.scim_error().detail().contains(names), "{e:?}");
    assert!(e.scim_error().detail().starts_with("Operations["), "{e:?}");
}

#[test]
fn replace_without_path_okta_deactivate() {
    let body = translate(json!([{"op": "replace", "value": {"active": false}}])).unwrap();
    assert_eq!(body, json!({"schemas": [CORE_SCHEMA_11], "active": false}));
}

#[test]
fn replace_sub_attribute_and_dotted_keys() {
    let body = translate(json!([
        {"op": "replace", "path": "name.givenName", "value": "Barbara"},
        {"op": "Replace", "value": {"name.familyName": "Jensen", "title": "Guide"}},
        {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:nickName", "value": "Babs"}
    ]))
    .unwrap();
    assert_eq!(
        body,
        json!({"schemas": [CORE_SCHEMA_11],
            "name": {"givenName": "Barbara", "familyName": "Jensen"}, "title": "Guide", "nickName": "Babs"})
    );
}

#[test]
fn add_to_multi_valued_attributes() {
    let body = translate(json!([
        {"op": "add", "path": "members", "value": [{"value": "u1", "display": "Babs Jensen"}]},
        {"op": "add", "value": {"members": [{"value": "u2"}]}},
        {"op": "add", "path": "emails", "value": {"value": "b@x.org", "type": "home"}}
    ]))
    .unwrap();
    assert_eq!(
        body,
        json!({"schemas": [CORE_SCHEMA_11],
            "members": [{"value": "u1", "display": "Babs Jensen"}, {"value": "u2"}],
            "emails": [{"value": "b@x.org", "type": "home"}]})
    );
}

#[test]
fn remove_attributes_through_meta_attributes() {
    let body = translate(json!([
        {"op": "remove", "path": "name.givenName"},
        {"op": "remove", "path": "emails"},
        {"op": "replace", "path": "title", "value": null},
        {"op": "remove", "path": format!("{ENT}:manager")}
    ]))
    .unwrap();
    assert_eq!(
        body,
        json!({"schemas": [CORE_SCHEMA_11, ENTERPRISE_SCHEMA_11],
            "meta": {"attributes": ["name.givenName", "emails", "title",
                "urn:scim:schemas:extension:enterprise:1.0:manager"]}})
    );
}

#[test]
fn remove_members_by_value() {
    let body = translate(json!([
        {"op": "remove", "path": "members[value eq \"u1\"]"},
        {"op": "remove", "path": "members[value eq \"u2\" or value eq \"u3\"]"}
    ]))
    .unwrap();
    assert_eq!(
        body,
        json!({"schemas": [CORE_SCHEMA_11], "members": [
            {"value": "u1", "operation": "delete"},
            {"value": "u2", "operation": "delete"},
            {"value": "u3", "operation": "delete"}
        ]})
    );
    // Entra's form: a value list on a remove of the attribute.
    let body = translate(json!([
        {"op": "Remove", "path": "members", "value": [{"value": "u1"}]}
    ]))
    .unwrap();
    assert_eq!(
        body["members"],
        json!([{"value": "u1", "operation": "delete"}])
    );
    assert!(body.get("meta").is_none());
}

#[test]
fn replace_and_remove_all_members() {
    let body = translate(json!([
        {"op": "replace", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}
    ]))
    .unwrap();
    assert_eq!(
        body,
        json!({"schemas": [CORE_SCHEMA_11], "members": [{"value": "u1"}, {"value": "u2"}],
            "meta": {"attributes": ["members"]}})
    );
    let body = translate(json!([{"op": "remove", "path": "members"}])).unwrap();
    assert_eq!(
        body,
        json!({"schemas": [CORE_SCHEMA_11], "meta": {"attributes": ["members"]}})
    );
}

#[test]
fn operations_fold_in_order() {
    // add then remove: only the delete mark is left.
    let body = translate(json!([
        {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
        {"op": "remove", "path": "members[value eq \"u1\"]"}
    ]))
    .unwrap();
    assert_eq!(
        body["members"],
        json!([{"value": "u2"}, {"value": "u1", "operation": "delete"}])
    );
    // remove then add: the add wins.
    let body = translate(json!([
        {"op": "remove", "path": "members[value eq \"u1\"]"},
        {"op": "add", "path": "members", "value": [{"value": "u1"}]}
    ]))
    .unwrap();
    assert_eq!(body["members"], json!([{"value": "u1"}]));
    // replace all then remove one: dropped from the new list.
    let body = translate(json!([
        {"op": "replace", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
        {"op": "remove", "path": "members[value eq \"u1\"]"}
    ]))
    .unwrap();
    assert_eq!(body["members"], json!([{"value": "u2"}]));
    assert_eq!(body["meta"]["attributes"], json!(["members"]));
    // set then remove, and remove then set.
    let body = translate(json!([
        {"op": "replace", "path": "name", "value": {"givenName": "B", "familyName": "J"}},
        {"op": "remove", "path": "name.givenName"},
        {"op": "remove", "path": "title"},
        {"op": "add", "path": "title", "value": "Guide"}
    ]))
    .unwrap();
    assert_eq!(
        body,
        json!({"schemas": [CORE_SCHEMA_11], "name": {"familyName": "J"}, "title": "Guide",
            "meta": {"attributes": ["name.givenName", "title"]}})
    );
}

#[test]
fn enterprise_extension_attributes() {
    let body = translate(json!([
        {"op": "replace", "path": format!("{ENT}:department"), "value": "Sales"},
        {"op": "replace", "value": {ENT: {"costCenter": "4130"}}},
        {"op": "replace", "path": format!("{ENT}:manager.value"), "value": "m1"},
        {"op": "add", "value": {format!("{ENT}:division"): "Parks"}}
    ]))
    .unwrap();
    assert_eq!(
        body,
        json!({"schemas": [CORE_SCHEMA_11, ENTERPRISE_SCHEMA_11],
            ENTERPRISE_SCHEMA_11: {"department": "Sales", "costCenter": "4130",
                "manager": {"managerId": "m1"}, "division": "Parks"}})
    );
}

#[test]
fn the_enterprise_extension_as_a_path() {
    let body = translate(json!([
        {"op": "add", "path": ENT, "value": {"department": "Sales"}}
    ]))
    .unwrap();
    assert_eq!(body[ENTERPRISE_SCHEMA_11], json!({"department": "Sales"}));
    emulable(
        json!([{"op": "remove", "path": ENT}]),
        "no way to remove a whole extension",
    );
}

#[test]
fn element_sub_attribute_selected_by_value() {
    let body = translate(json!([
        {"op": "replace", "path": "emails[value eq \"b@x.org\"].primary", "value": true},
        {"op": "add", "path": "emails[value eq \"b@x.org\"].type", "value": "work"}
    ]))
    .unwrap();
    assert_eq!(
        body["emails"],
        json!([{"value": "b@x.org", "primary": true, "type": "work"}])
    );
}

#[test]
fn what_1_1_cannot_say_needs_emulation() {
    emulable(
        json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "a@b.c"}]),
        "emails[type eq \"work\"].value",
    );
    emulable(
        json!([{"op": "remove", "path": "members[display eq \"Babs\"]"}]),
        "by \"value\" only",
    );
    emulable(
        json!([{"op": "remove", "path": "emails.type"}]),
        "sub-attribute of every element",
    );
    emulable(
        json!([{"op": "replace", "path": "members[value eq \"u1\"]", "value": {"value": "u1"}}]),
        "whole element",
    );
    emulable(
        json!([{"op": "remove", "path": "emails[value eq \"a\"].primary"}]),
        "sub-attribute of one element",
    );
    emulable(
        json!([{"op": "replace", "path": "emails[value eq \"a\"].value", "value": "b"}]),
        "\"value\" it matches by",
    );
    emulable(
        json!([
            {"op": "remove", "path": "emails[value eq \"a\"]"},
            {"op": "replace", "path": "emails[value eq \"a\"].type", "value": "work"}
        ]),
        "Operations[1]",
    );
    emulable(
        json!([{"op": "remove", "path": format!("{ENT}:manager.$ref")}]),
        "no \"$ref\"",
    );
}

#[test]
fn emulation_applies_what_1_1_cannot_say() {
    let registry = SchemaRegistry::builtin();
    let current = resource_to_scim11(&user());
    let req = request(json!([
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "babs@example.org"}
    ]));
    assert!(patch_to_scim11(&req).unwrap_err().needs_emulation());
    let put = emulate_patch_put(&registry, ResourceKind::User, &current, &req).unwrap();
    assert_eq!(
        put["schemas"],
        json!([CORE_SCHEMA_11, ENTERPRISE_SCHEMA_11])
    );
    assert_eq!(put["emails"][0]["value"], "babs@example.org");
    assert_eq!(put["emails"][1], current["emails"][1]);
    assert_eq!(put[ENTERPRISE_SCHEMA_11], current[ENTERPRISE_SCHEMA_11]);
    assert!(put["meta"].get("resourceType").is_none());
    // 2.0 errors stay 2.0 errors.
    let req = request(json!([{"op": "remove", "path": "emails[type eq \"pager\"]"}]));
    let e = emulate_patch_put(&registry, ResourceKind::User, &current, &req).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::NoTarget));
}

#[test]
fn read_only_attributes_are_refused_outright() {
    for ops in [
        json!([{"op": "replace", "path": "id", "value": "x"}]),
        json!([{"op": "replace", "value": {"meta": {"version": "1"}}}]),
    ] {
        let e = translate(ops).unwrap_err();
        assert!(!e.needs_emulation());
        assert_eq!(e.scim_error().scim_type(), Some(ScimType::Mutability));
    }
}

use super::model;

/// One 2.0 operation from a pool that exercises every translation rule.
fn user_op() -> impl Strategy<Value = Value> {
    let ops = vec![
        json!({"op": "replace", "value": {"active": false}}),
        json!({"op": "replace", "value": {"name": {"givenName": "Bo"}, "title": "Boss"}}),
        json!({"op": "replace", "path": "name.familyName", "value": "Smith"}),
        json!({"op": "add", "path": "nickName", "value": "Bee"}),
        json!({"op": "remove", "path": "name.givenName"}),
        json!({"op": "remove", "path": "name"}),
        json!({"op": "remove", "path": "title"}),
        json!({"op": "replace", "path": "title", "value": null}),
        json!({"op": "remove", "path": "emails"}),
        json!({"op": "add", "path": "emails", "value": [{"value": "new@x.org", "type": "other"}]}),
        json!({"op": "replace", "path": "emails", "value": [{"value": "only@x.org", "type": "work"}]}),
        json!({"op": "remove", "path": "emails[value eq \"babs@jensen.org\"]"}),
        json!({"op": "remove", "path": "emails[value eq \"new@x.org\"]"}),
        json!({"op": "replace", "path": "emails[value eq \"babs@jensen.org\"].type", "value": "work"}),
        json!({"op": "add", "path": "phoneNumbers", "value": [{"value": "555-1", "type": "work"}]}),
        json!({"op": "remove", "path": "phoneNumbers[value eq \"555-555-4444\" or value eq \"555-1\"]"}),
        json!({"op": "replace", "path": format!("{ENT}:department"), "value": "Sales"}),
        json!({"op": "replace", "value": {ENT: {"costCenter": "1"}}}),
        json!({"op": "remove", "path": format!("{ENT}:manager")}),
        json!({"op": "replace", "path": format!("{ENT}:manager.value"), "value": "m2"}),
    ];
    proptest::sample::select(ops)
}

fn group_op() -> impl Strategy<Value = Value> {
    let ops = vec![
        json!({"op": "add", "path": "members", "value": [{"value": "u3", "type": "User"}]}),
        json!({"op": "add", "path": "members", "value": [{"value": "u4", "type": "User"}]}),
        json!({"op": "remove", "path": "members[value eq \"2819c223\"]"}),
        json!({"op": "remove", "path": "members[value eq \"u3\"]"}),
        json!({"op": "remove", "path": "members[value eq \"u3\" or value eq \"u4\"]"}),
        json!({"op": "replace", "path": "members", "value": [{"value": "u5", "type": "User"}]}),
        json!({"op": "remove", "path": "members"}),
        json!({"op": "replace", "path": "displayName", "value": "Renamed"}),
        json!({"op": "replace", "value": {"externalId": "e1", "displayName": "Both"}}),
    ];
    proptest::sample::select(ops)
}

/// Applies `ops` the 2.0 way (the gateway's own `apply_patch`) and the
/// 1.1 way (the translated body through a model of a 1.1 service) and
/// compares the results in 1.1 form; `None` when either side refuses.
fn both_ways(kind: &str, resource: &Value, ops: Vec<Value>) -> Option<(Value, Value)> {
    let registry = SchemaRegistry::builtin();
    let rt = registry.resource_type(kind).unwrap();
    let req = request(Value::Array(ops));
    let scim2 = apply_patch(&registry, rt, resource, &req).ok()?;
    let body = patch_to_scim11(&req).ok()?;
    let scim11 = model::apply_scim11_patch(&resource_to_scim11(resource), &body);
    Some((
        model::comparable(&resource_to_scim11(&scim2)),
        model::comparable(&scim11),
    ))
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(512) })]

    #[test]
    fn user_patches_mean_the_same_in_1_1(ops in proptest::collection::vec(user_op(), 1..6)) {
        let user: Value = serde_json::from_str(include_str!("../../../tests/fixtures/user_full.json")).unwrap();
        if let Some((scim2, scim11)) = both_ways("User", &user, ops) {
            prop_assert_eq!(scim2, scim11);
        }
    }

    #[test]
    fn group_patches_mean_the_same_in_1_1(ops in proptest::collection::vec(group_op(), 1..6)) {
        let group = json!({"schemas": [crate::scim::schema::GROUP_SCHEMA], "id": "g", "displayName": "Tour Guides",
            "members": [{"value": "2819c223", "type": "User"}, {"value": "902c246b", "type": "User"}]});
        if let Some((scim2, scim11)) = both_ways("Group", &group, ops) {
            prop_assert_eq!(scim2, scim11);
        }
    }
}

/// The property above is only as good as the share of generated
/// sequences that both sides accept.
#[test]
fn most_generated_patches_are_compared() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = proptest::collection::vec(user_op(), 1..6);
    let user: Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/user_full.json")).unwrap();
    let compared = (0..200)
        .filter(|_| {
            let ops = strategy.new_tree(&mut runner).unwrap().current();
            both_ways("User", &user, ops).is_some()
        })
        .count();
    assert!(compared > 120, "only {compared} of 200 compared");
}
