//! PATCH rewrites: simple, sub-attribute, value-filter and extension
//! paths, path-less values, fan-out on parents, refusals.
use super::*;
use crate::scim::patch::PatchRequest;
use crate::scim::ScimType;
use serde_json::{json, Value};

fn patch(ops: Value) -> PatchRequest {
    PatchRequest::parse(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops,
    }))
    .unwrap()
}

/// The rewritten operations as JSON.
fn rewrite(m: &ResourceMapping, ops: Value) -> Value {
    let out = m.patch_to_upstream(&patch(ops)).unwrap();
    super::super::patch_to_json(&out)["Operations"].clone()
}

fn refuse(m: &ResourceMapping, ops: Value) -> crate::scim::ScimError {
    m.patch_to_upstream(&patch(ops)).unwrap_err()
}

#[test]
fn simple_sub_attribute_and_filtered_paths() {
    let m = fixture("legacy-hr");
    let out = rewrite(
        users(&m),
        json!([
            {"op": "replace", "path": "name.givenName", "value": "Ann"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "a@x"},
            {"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"},
            {"op": "remove", "path": "emails[type eq \"work\"].value"},
            {"op": "replace", "path": "active", "value": false},
        ]),
    );
    assert_eq!(
        out,
        json!([
            {"op": "replace", "path": "firstName", "value": "Ann"},
            {"op": "replace", "path": "mail", "value": "a@x"},
            {"op": "add", "path": "mobile", "value": "+1 555"},
            {"op": "remove", "path": "mail"},
            {"op": "replace", "path": "active", "value": "N"},
        ])
    );
}

#[test]
fn extension_paths_with_and_without_urn() {
    let m = fixture("legacy-hr");
    let out = rewrite(
        users(&m),
        json!([
            {"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Sales"},
            {"op": "replace", "path": "department", "value": "Engineering"},
        ]),
    );
    assert_eq!(
        out,
        json!([
            {"op": "replace", "path": "dept", "value": "S01"},
            {"op": "replace", "path": "dept", "value": "E01"},
        ])
    );
}

#[test]
fn path_less_values_with_attribute_urn_and_dotted_keys() {
    let m = fixture("legacy-hr");
    let out = rewrite(
        users(&m),
        json!([
            {"op": "replace", "value": {"name": {"givenName": "Ann"}, "active": true, ENTERPRISE: {"department": "Support"}}},
            {"op": "add", "value": {"name.familyName": "Lee", format!("{ENTERPRISE}:department"): "Sales"}},
        ]),
    );
    assert_eq!(
        out,
        json!([
            {"op": "replace", "value": {"firstName": "Ann", "dept": "C07", "active": "Y"}},
            {"op": "add", "value": {"lastName": "Lee", "dept": "S01"}},
        ])
    );
}

#[test]
fn parent_paths_fan_out_one_operation_per_rule() {
    let m = fixture("legacy-hr");
    let out = rewrite(
        users(&m),
        json!([
            {"op": "replace", "path": "name", "value": {"givenName": "Ann", "familyName": "Lee"}},
            {"op": "add", "path": "emails[type eq \"work\"]", "value": {"value": "a@x"}},
            {"op": "remove", "path": "name"},
        ]),
    );
    assert_eq!(
        out,
        json!([
            {"op": "replace", "path": "firstName", "value": "Ann"},
            {"op": "replace", "path": "lastName", "value": "Lee"},
            {"op": "add", "path": "mail", "value": "a@x"},
            {"op": "remove", "path": "firstName"},
            {"op": "remove", "path": "lastName"},
        ])
    );
}

const PASS_MAIL: &str = r#"
[resources.User.upstream.attributes]
mail = "string"
[[resources.User.rules]]
from = 'emails[type eq "work"].value'
to = "mail"
[[resources.User.rules]]
from = "password"
never_upstream = true
"#;

#[test]
fn replacing_a_whole_multi_valued_attribute_removes_a_missing_element() {
    let m = inline(PASS_MAIL);
    let out = rewrite(
        users(&m),
        json!([
            {"op": "replace", "path": "emails", "value": [{"type": "home", "value": "h@x"}]},
            {"op": "replace", "path": "emails", "value": [{"type": "work", "value": "w@x"}, {"type": "home", "value": "h@x"}]},
            {"op": "replace", "value": {"emails": [{"type": "home", "value": "h@x"}]}},
        ]),
    );
    assert_eq!(
        out,
        json!([
            {"op": "remove", "path": "mail"},
            {"op": "replace", "path": "emails", "value": [{"type": "home", "value": "h@x"}]},
            {"op": "replace", "path": "mail", "value": "w@x"},
            {"op": "replace", "path": "emails", "value": [{"type": "home", "value": "h@x"}]},
            {"op": "remove", "path": "mail"},
            {"op": "replace", "value": {"emails": [{"type": "home", "value": "h@x"}]}},
        ])
    );
}

#[test]
fn unmapped_paths_pass_or_are_refused() {
    let pass = inline(PASS_MAIL);
    let ops = json!([
        {"op": "replace", "path": "nickName", "value": "n"},
        {"op": "replace", "path": "emails[type eq \"home\"].value", "value": "h@x"},
        {"op": "replace", "path": "password", "value": "secret"},
    ]);
    assert_eq!(
        rewrite(users(&pass), ops),
        json!([
            {"op": "replace", "path": "nickName", "value": "n"},
            {"op": "replace", "path": "emails[type eq \"home\"].value", "value": "h@x"},
        ])
    );
    // A filter that may or may not pick the work address cannot be mapped.
    let e = refuse(
        users(&pass),
        json!([{"op": "remove", "path": "emails[value ew \"@x\"]"}]),
    );
    assert_eq!(e.scim_type(), Some(ScimType::InvalidPath));
    assert!(
        e.detail().contains("emails[value ew \"@x\"]") && e.detail().contains("\"mail\""),
        "{}",
        e.detail()
    );
    let drop = fixture("legacy-hr");
    let e = refuse(
        users(&drop),
        json!([{"op": "replace", "path": "nickName", "value": "n"}]),
    );
    assert_eq!(e.scim_type(), Some(ScimType::InvalidPath));
    assert_eq!(
        e.detail(),
        "Operations[0]: attribute \"nickName\" has no upstream equivalent"
    );
}

#[test]
fn operations_on_never_sent_attributes_vanish() {
    let m = fixture("ldap");
    let out = users(&m)
        .patch_to_upstream(&patch(
            json!([{"op": "replace", "path": "password", "value": "p"}]),
        ))
        .unwrap();
    assert!(out.operations.is_empty());
}

#[test]
fn whole_extension_path_splits_mapped_and_passed_members() {
    let m = fixture("crm-extension");
    let out = rewrite(
        users(&m),
        json!([{"op": "replace", "path": ENTERPRISE, "value": {"department": "Sales", "employeeNumber": "7"}}]),
    );
    assert_eq!(
        out,
        json!([
            {"op": "replace", "path": "urn:example:crm:2.0:User:dept", "value": "Sales"},
            {"op": "replace", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "7"},
        ])
    );
}

#[test]
fn group_members_map_to_a_list_attribute() {
    let m = fixture("ldap");
    let groups = m.resource("Group").unwrap();
    let out = rewrite(
        groups,
        json!([
            {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
            {"op": "replace", "path": "displayName", "value": "Ops"},
            {"op": "remove", "path": "members[value eq \"u1\"]"},
        ]),
    );
    assert_eq!(
        out,
        json!([
            {"op": "add", "path": "uniqueMember", "value": ["u1", "u2"]},
            {"op": "replace", "path": "cn", "value": "Ops"},
            {"op": "remove", "path": "uniqueMember[value eq \"u1\"]"},
        ])
    );
}

#[test]
fn complex_extension_attribute_and_flattened_element() {
    let m = fixture("payroll");
    let out = rewrite(
        users(&m),
        json!([
            {"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": "m-1"}},
            {"op": "replace", "path": "addresses[type eq \"work\"]", "value": {"locality": "Paris", "country": "fr"}},
            {"op": "replace", "path": "addresses[type eq \"work\"].region", "value": "IDF"},
            {"op": "remove", "path": "addresses[type eq \"work\"]"},
        ]),
    );
    assert_eq!(
        out,
        json!([
            {"op": "replace", "path": "managerId", "value": "m-1"},
            {"op": "replace", "path": "city", "value": "Paris"},
            {"op": "replace", "path": "country", "value": "FR"},
            {"op": "replace", "path": "state", "value": "IDF"},
            {"op": "remove", "path": "street"},
            {"op": "remove", "path": "city"},
            {"op": "remove", "path": "state"},
            {"op": "remove", "path": "zip"},
            {"op": "remove", "path": "country"},
        ])
    );
}

/// scim2-tester (and other clients) echo `schemas` inside an extension
/// object: it is not an attribute to set upstream.
#[test]
fn echoed_schemas_in_an_extension_value_are_not_attributes() {
    let m = fixture("crm-extension");
    let out = rewrite(
        users(&m),
        json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "value": {"schemas": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                      "department": "Sales", "division": "EMEA"}}]),
    );
    let text = out.to_string();
    assert!(!text.contains(":schemas\""), "{out}");
    assert!(text.contains("urn:example:crm:2.0:User:dept"), "{out}");
    assert!(text.contains("division"), "{out}");
}
