//! Okta's documented requests, each turned into canonical RFC 7644 with
//! the `okta` profile's rules, and detected by their User-Agent.
use super::{all_fixtures, fired, load, normalize, normalize_with};
use crate::dialect::{detect, Profile, Rule, RuleSet};
use serde_json::json;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

#[test]
fn every_okta_fixture_is_detected_by_its_user_agent() {
    for name in all_fixtures().iter().filter(|n| n.starts_with("okta-")) {
        let envelope = load(name);
        let ua = envelope["headers"]["User-Agent"].as_str();
        assert_eq!(detect(ua, None, None), Profile::Okta, "{name}");
    }
}

#[test]
fn create_user_drops_groups_and_the_placeholder_password() {
    let (body, applied) = normalize("okta-create-user");
    assert_eq!(
        body,
        json!({
            "schemas": [USER],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "active": true
        })
    );
    assert_eq!(fired(&applied), ["read_only_groups", "create_password"]);
}

#[test]
fn create_user_keeps_the_password_when_the_rule_is_off() {
    let rules = RuleSet::for_profile(Profile::Okta).with(Rule::CreatePassword, false);
    let (body, applied) = normalize_with("okta-create-user", &rules);
    assert_eq!(body["password"], json!("1mz050nq"));
    assert!(body.get("groups").is_none());
    assert_eq!(fired(&applied), ["read_only_groups"]);
}

#[test]
fn replace_user_drops_id_meta_and_groups() {
    let (body, applied) = normalize("okta-replace-user");
    assert_eq!(
        body,
        json!({
            "schemas": [USER],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
            "emails": [{
                "primary": true,
                "value": "test.user@okta.local",
                "type": "work",
                "display": "test.user@okta.local"
            }],
            "active": true
        })
    );
    assert_eq!(fired(&applied), ["read_only_id_meta", "read_only_groups"]);
}

#[test]
fn rename_group_drops_the_read_only_id_from_the_value() {
    let (body, applied) = normalize("okta-rename-group");
    assert_eq!(
        body,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"displayName": "Test SCIMv2"}}]
        })
    );
    assert_eq!(fired(&applied), ["read_only_id_meta"]);
}

#[test]
fn canonical_okta_requests_pass_unchanged() {
    for name in [
        "okta-deactivate-user",
        "okta-create-group",
        "okta-update-members",
        "okta-replace-members",
        "okta-replace-group",
    ] {
        let (body, applied) = normalize(name);
        assert_eq!(body, load(name)["body"], "{name}");
        assert!(applied.is_empty(), "{name}: {applied:?}");
    }
}
