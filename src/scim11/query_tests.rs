#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::scim::ScimType;

fn translate(filter: &str) -> Result<String, Scim11Error> {
    filter_to_scim11(&Filter::parse(filter).unwrap()).map(|f| f.to_string())
}

#[test]
fn filters_1_1_can_express_keep_their_meaning() {
    let cases = [
        (r#"userName eq "bjensen""#, r#"userName eq "bjensen""#),
        (
            r#"name.familyName co "O'Malley""#,
            r#"name.familyName co "O'Malley""#,
        ),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            r#"userName sw "J""#,
        ),
        ("title pr", "title pr"),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        ),
        (
            r#"title pr and (userType eq "Employee" or userType eq "Intern")"#,
            r#"title pr and (userType eq "Employee" or userType eq "Intern")"#,
        ),
        (r#"emails[type eq "work"]"#, r#"emails.type eq "work""#),
        (
            r#"userType eq "Employee" and emails[type eq "work" or value co "@example.com"]"#,
            r#"userType eq "Employee" and (emails.type eq "work" or emails.value co "@example.com")"#,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            r#"urn:scim:schemas:extension:enterprise:1.0:employeeNumber eq "701984""#,
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
            r#"urn:scim:schemas:extension:enterprise:1.0:manager.managerId eq "26118915""#,
        ),
        (
            "active eq true and members.value pr",
            "active eq true and members.value pr",
        ),
    ];
    for (scim2, scim11) in cases {
        assert_eq!(translate(scim2).unwrap(), scim11, "{scim2}");
    }
}

#[test]
fn filters_1_1_cannot_express_are_emulable_invalid_filter() {
    let cases = [
        (r#"userType ne "Employee""#, "no \"ne\" operator"),
        (r#"userName ew "@example.com""#, "no \"ew\" operator"),
        (r#"not (title pr)"#, "no \"not\""),
        (
            r#"emails[type eq "work" and value co "@example.com"]"#,
            "several conditions of one element of \"emails\"",
        ),
        (r#"members.$ref pr"#, "no \"$ref\""),
        (r#"meta.resourceType eq "User""#, "no \"meta.resourceType\""),
        (r#"emails[type ne "work"]"#, "no \"ne\" operator"),
    ];
    for (filter, why) in cases {
        let e = translate(&format!(r#"title pr and {filter}"#)).unwrap_err();
        assert!(e.needs_emulation(), "{filter}");
        assert_eq!(e.scim_error().scim_type(), Some(ScimType::InvalidFilter));
        assert_eq!(e.scim_error().status(), 400);
        let detail = e.scim_error().detail();
        assert!(detail.contains(why), "{filter}: {detail}");
        assert!(detail.contains("SCIM 1.1"), "{detail}");
    }
}

#[test]
fn paths_translate_or_name_what_is_missing() {
    let p =
        AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")
            .unwrap();
    assert_eq!(
        path_to_scim11(&p).unwrap().to_string(),
        "urn:scim:schemas:extension:enterprise:1.0:manager.managerId"
    );
    assert_eq!(
        path_to_scim11(&AttrPath::parse("urn:acme:ext:1.0:badge").unwrap())
            .unwrap()
            .to_string(),
        "urn:acme:ext:1.0:badge"
    );
    let e = path_to_scim11(&AttrPath::sub("members", "$ref")).unwrap_err();
    assert_eq!(e.scim_error().scim_type(), Some(ScimType::InvalidPath));
    assert!(e.scim_error().detail().contains("\"members.$ref\""));
    assert!(e.to_string().contains("emulation"));
}

#[test]
fn list_query_parameters() {
    let q = ListQuery::from_query(
        "filter=emails%5Btype%20eq%20%22work%22%5D&sortBy=urn:ietf:params:scim:schemas:core:2.0:User:name.familyName\
         &sortOrder=descending&startIndex=11&count=10\
         &attributes=userName,members.$ref,meta.resourceType,meta,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    )
    .unwrap();
    let t = query_to_scim11(&q).unwrap();
    let expected = [
        ("filter", r#"emails.type eq "work""#),
        ("sortBy", "name.familyName"),
        ("sortOrder", "descending"),
        ("startIndex", "11"),
        ("count", "10"),
        (
            "attributes",
            "userName,members,meta,urn:scim:schemas:extension:enterprise:1.0:manager.managerId",
        ),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(t.params, expected);
    assert!(!t.project_locally);
    assert!(t
        .to_query_string()
        .starts_with("filter=emails.type+eq+%22work%22&sortBy=name.familyName"));
}

#[test]
fn default_query_has_no_parameters_and_excluded_attributes_stay_local() {
    let t = query_to_scim11(&ListQuery::default()).unwrap();
    assert!(t.params.is_empty());
    let q = ListQuery::from_query("excludedAttributes=members").unwrap();
    let t = query_to_scim11(&q).unwrap();
    assert!(t.params.is_empty());
    assert!(t.project_locally);
    let q = ListQuery::from_query("sortBy=members.$ref").unwrap();
    assert!(query_to_scim11(&q).unwrap_err().needs_emulation());
    let q = ListQuery::from_query("filter=userName%20ne%20%22x%22").unwrap();
    assert!(query_to_scim11(&q).is_err());
}

// === property: flattening a value path keeps what it matches ===

use crate::scim::filter::EvalContext;
use crate::scim::schema::SchemaRegistry;
use proptest::prelude::*;
use serde_json::json;

fn comparison() -> impl Strategy<Value = String> {
    let attr = prop_oneof![Just("type"), Just("value"), Just("display")];
    let op = prop_oneof![Just("eq"), Just("sw"), Just("co"), Just("gt")];
    let literal = prop_oneof![Just("work"), Just("a@x.org"), Just("b"), Just("h")];
    (attr, op, literal, any::<bool>()).prop_map(|(a, o, l, present)| match present {
        true => format!("{a} pr"),
        false => format!("{a} {o} \"{l}\""),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(512) })]

    #[test]
    fn value_paths_flatten_without_changing_matches(
        emails in proptest::collection::vec(
            (prop_oneof![Just("a@x.org"), Just("b@y.org")], prop_oneof![Just("work"), Just("home")], any::<bool>()),
            0..4,
        ),
        inner in proptest::collection::vec(comparison(), 1..4),
        user_name_first in any::<bool>(),
    ) {
        let emails: Vec<_> = emails
            .into_iter()
            .map(|(v, t, display)| match display {
                true => json!({"value": v, "type": t, "display": v}),
                false => json!({"value": v, "type": t}),
            })
            .collect();
        let user = json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "bjensen", "emails": emails});
        let value_path = format!("emails[{}]", inner.join(" or "));
        let text = match user_name_first {
            true => format!("userName sw \"bj\" and {value_path}"),
            false => format!("{value_path} or userName eq \"nobody\""),
        };
        let original = Filter::parse(&text).unwrap();
        let translated = filter_to_scim11(&original).unwrap();
        // What is sent parses back to the same filter.
        prop_assert_eq!(&Filter::parse(&translated.to_string()).unwrap(), &translated);
        let registry = SchemaRegistry::builtin();
        let ctx = EvalContext { registry: &registry, resource_type: registry.resource_type("User").unwrap() };
        prop_assert_eq!(original.matches(&user, &ctx), translated.matches(&user, &ctx), "{} vs {}", text, translated);
    }
}
