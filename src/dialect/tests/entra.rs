//! Microsoft Entra ID's documented requests, each turned into canonical
//! RFC 7644 with the `entra` profile's rules.
use super::{fired, load, normalize, patch_inline};
use crate::dialect::{detect, normalize_query, Profile, RuleSet};
use serde_json::json;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[test]
fn create_user_drops_the_echoed_meta() {
    let (body, applied) = normalize("entra-create-user");
    assert_eq!(
        body,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
            "active": true,
            "emails": [{
                "primary": true,
                "type": "work",
                "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
            }],
            "name": {
                "formatted": "givenName familyName",
                "familyName": "familyName",
                "givenName": "givenName"
            },
            "roles": []
        })
    );
    assert_eq!(fired(&applied), ["read_only_id_meta"]);
}

#[test]
fn create_user_with_a_misspelt_extension_urn() {
    let (body, applied) = normalize("entra-create-user-sdk");
    assert_eq!(
        body,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "externalId": "jyoung",
            "userName": "jyoung@testuser.com",
            "active": true,
            "addresses": null,
            "displayName": "Joy Young",
            "emails": [{"type": "work", "value": "jyoung@Contoso.com", "primary": true}],
            "name": {"familyName": "Young", "givenName": "Joy"},
            "phoneNumbers": null,
            "preferredLanguage": null,
            "title": null,
            (ENT): {"department": null, "manager": null}
        })
    );
    assert_eq!(
        fired(&applied),
        [
            "read_only_id_meta",
            "foreign_schemas",
            "unqualified_extension_attrs"
        ]
    );
}

#[test]
fn update_user_multi_valued_lower_cases_ops() {
    let (body, applied) = normalize("entra-update-user-multi");
    assert_eq!(
        body,
        json!({
            "schemas": [PATCH],
            "Operations": [
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
                {"op": "replace", "path": "name.familyName", "value": "updatedFamilyName"}
            ]
        })
    );
    assert_eq!(fired(&applied), ["op_case"]);
}

#[test]
fn update_user_single_valued_and_group_name() {
    let (body, applied) = normalize("entra-update-user-single");
    assert_eq!(
        body["Operations"],
        json!([{"op": "replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}])
    );
    assert_eq!(fired(&applied), ["op_case"]);
    let (body, applied) = normalize("entra-update-group-name");
    assert_eq!(
        body["Operations"],
        json!([{"op": "replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}])
    );
    assert_eq!(fired(&applied), ["op_case"]);
}

#[test]
fn disable_user_with_and_without_the_flag() {
    let want = json!([{"op": "replace", "path": "active", "value": false}]);
    let (body, applied) = normalize("entra-disable-user");
    assert_eq!(body["Operations"], want);
    assert_eq!(fired(&applied), ["op_case"]);
    let (body, applied) = normalize("entra-disable-user-legacy");
    assert_eq!(body["Operations"], want);
    assert_eq!(fired(&applied), ["op_case", "string_booleans"]);
}

#[test]
fn add_single_value_legacy_equals_the_flagged_request() {
    let (body, applied) = normalize("entra-add-attribute-legacy");
    assert_eq!(
        body,
        json!({"schemas": [PATCH], "Operations": [{"op": "add", "path": "nickName", "value": "Babs"}]})
    );
    assert_eq!(fired(&applied), ["op_case"]);
}

#[test]
fn replace_multiple_attributes_legacy() {
    let (body, applied) = normalize("entra-replace-attributes-legacy");
    assert_eq!(
        body["Operations"],
        json!([
            {"op": "replace", "path": "displayName", "value": "Pvlo"},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
            {"op": "replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "replace", "path": "externalId", "value": "Eqpj"},
            {"op": "replace", "path": format!("{ENT}:employeeNumber"), "value": "Eqpj"}
        ])
    );
    assert_eq!(fired(&applied), ["op_case"]);
}

#[test]
fn replace_multiple_attributes_with_the_flag_nests_dotted_and_urn_keys() {
    let (body, applied) = normalize("entra-replace-attributes");
    assert_eq!(
        body["Operations"],
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
            {"op": "replace", "value": {
                "displayName": "Bjfe",
                "name": {"givenName": "Kkom", "familyName": "Unua"},
                (ENT): {"employeeNumber": "Aklq"}
            }}
        ])
    );
    assert_eq!(fired(&applied), ["pathless_dotted_keys"]);
}

#[test]
fn remove_member_by_value_list_becomes_a_filtered_remove() {
    let (body, applied) = normalize("entra-remove-member-legacy");
    assert_eq!(
        body,
        json!({
            "schemas": [PATCH],
            "Operations": [{"op": "remove", "path": "members[value eq \"u1091\"]"}]
        })
    );
    assert_eq!(fired(&applied), ["op_case", "remove_by_value_list"]);
    let (body, applied) = normalize("entra-remove-member");
    assert_eq!(
        body["Operations"],
        json!([{"op": "remove", "path": "members[value eq \"f648f8d5ea4e4cd38e9c\"]"}])
    );
    assert_eq!(fired(&applied), ["op_case", "remove_by_value_list"]);
    // The flagged request is already canonical.
    let (body, applied) = normalize("entra-remove-member-flagged");
    assert_eq!(body, load("entra-remove-member-flagged")["body"]);
    assert!(applied.is_empty());
}

#[test]
fn add_member_drops_the_null_ref() {
    let (body, applied) = normalize("entra-add-member");
    assert_eq!(
        body["Operations"],
        json!([{"op": "add", "path": "members", "value": [{"value": "f648f8d5ea4e4cd38e9c"}]}])
    );
    assert_eq!(fired(&applied), ["op_case", "null_ref"]);
}

/// Entra names the enterprise `manager` without its URN; RFC 7644 §3.10
/// has clients qualify extension attributes, and a strict upstream
/// (scim2-server) refuses the bare name with 400 `invalidPath`.
#[test]
fn update_manager_sent_as_a_list_becomes_one_qualified_value() {
    let (body, applied) = normalize("entra-update-manager");
    assert_eq!(
        body["Operations"],
        json!([{"op": "add", "path": format!("{ENT}:manager"), "value": {
            "$ref": "http://.../scim/Users/2819c223-7f76-453a-919d-413861904646",
            "value": "2819c223-7f76-453a-919d-413861904646"
        }}])
    );
    assert_eq!(
        fired(&applied),
        ["op_case", "manager_value", "unqualified_extension_attrs"]
    );
}

#[test]
fn patch_paths_of_core_attributes_and_qualified_ones_stay_as_sent() {
    let ops = json!([
        {"op": "replace", "path": "title", "value": "Boss"},
        {"op": "replace", "path": format!("{ENT}:department"), "value": "R&D"},
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "a@b.c"},
        {"op": "replace", "path": "department", "value": "Ops"}
    ]);
    let mut body = json!({"schemas": [PATCH], "Operations": ops});
    let applied = patch_inline("User", &mut body, &RuleSet::for_profile(Profile::Entra));
    let paths: Vec<&str> = body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "title".to_string(),
            format!("{ENT}:department"),
            "emails[type eq \"work\"].value".to_string(),
            format!("{ENT}:department"),
        ]
    );
    assert_eq!(fired(&applied), ["unqualified_extension_attrs"]);
}

#[test]
fn create_group_drops_the_adscim_schema_and_meta() {
    let (body, applied) = normalize("entra-create-group");
    assert_eq!(
        body,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName"
        })
    );
    assert_eq!(fired(&applied), ["read_only_id_meta", "foreign_schemas"]);
}

#[test]
fn flagged_requests_are_detected_and_the_flag_stripped() {
    for name in ["entra-replace-attributes", "entra-remove-member-flagged"] {
        let envelope = load(name);
        let (path, query) = envelope["path"].as_str().unwrap().split_once('?').unwrap();
        assert_eq!(detect(None, None, Some(query)), Profile::Entra);
        let (query, applied) = normalize_query(query, &RuleSet::for_profile(Profile::Entra));
        assert_eq!(format!("{path}{query}"), path);
        assert_eq!(fired(&applied), ["aad_query_flags"]);
    }
}
