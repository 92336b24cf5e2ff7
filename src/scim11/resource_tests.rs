#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use proptest::prelude::*;
use serde_json::json;

const BASE: &str = "https://up.example.com/scim";

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn user_11() -> Value {
    fixture(include_str!("../../tests/fixtures/scim11/user.json"))
}

fn group_11() -> Value {
    fixture(include_str!("../../tests/fixtures/scim11/group.json"))
}

fn user_20() -> Value {
    fixture(include_str!("../../tests/fixtures/user_full.json"))
}

#[test]
fn spec_user_reads_as_scim2() {
    let u = resource_from_scim11(&user_11(), ResourceKind::User, None);
    assert_eq!(u["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
    assert_eq!(u["meta"]["resourceType"], "User");
    let ext = &u[ENTERPRISE_USER_SCHEMA];
    assert_eq!(ext["department"], "Tour Operations");
    assert_eq!(
        ext["manager"],
        json!({"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"})
    );
    assert!(u.get(ENTERPRISE_SCHEMA_11).is_none());
    assert_eq!(
        u["groups"][0],
        json!({"display": "Tour Guides", "value": "00300000005N2Y6AAK"})
    );
    // And back: exactly the 1.1 original.
    assert_eq!(resource_to_scim11(&u), user_11());
}

#[test]
fn spec_user_gets_refs_from_a_base_url() {
    let u = resource_from_scim11(
        &user_11(),
        ResourceKind::User,
        Some("https://gw.example.com/v2/"),
    );
    assert_eq!(
        u["groups"][1]["$ref"],
        "https://gw.example.com/v2/Groups/00300000005N34H78H"
    );
    assert_eq!(
        u[ENTERPRISE_USER_SCHEMA]["manager"]["$ref"],
        "https://gw.example.com/v2/Users/26118915-6090-4610-87e4-49d8ca9f808d"
    );
    assert_eq!(resource_to_scim11(&u), user_11());
}

#[test]
fn spec_group_reads_as_scim2() {
    let g = resource_from_scim11(&group_11(), ResourceKind::Group, Some(BASE));
    assert_eq!(g["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(g["meta"]["resourceType"], "Group");
    assert_eq!(
        g["members"][0]["$ref"],
        format!("{BASE}/Users/2819c223-7f76-453a-919d-413861904646")
    );
    assert_eq!(resource_to_scim11(&g), group_11());
}

#[test]
fn rfc_user_writes_as_scim11() {
    let u = resource_to_scim11(&user_20());
    assert_eq!(u["schemas"], json!([CORE_SCHEMA_11, ENTERPRISE_SCHEMA_11]));
    assert!(u["meta"].get("resourceType").is_none());
    assert_eq!(u["meta"]["created"], "2010-01-23T04:56:22Z");
    assert_eq!(
        u[ENTERPRISE_SCHEMA_11]["manager"],
        json!({"managerId": "26118915-6090-4610-87e4-49d8ca9f808d"})
    );
    assert!(u.get(ENTERPRISE_USER_SCHEMA).is_none());
    assert_eq!(
        resource_from_scim11(&u, ResourceKind::User, None),
        user_20()
    );
}

#[test]
fn patch_only_members_are_dropped_on_the_way_back() {
    let v = json!({
        "schemas": [CORE_SCHEMA_11],
        "members": [{"value": "a", "operation": "delete"}],
        "meta": {"attributes": ["members"]}
    });
    let g = resource_from_scim11(&v, ResourceKind::Group, None);
    assert_eq!(g["members"], json!([{"value": "a"}]));
    assert_eq!(g["meta"], json!({"resourceType": "Group"}));
}

#[test]
fn unlisted_extensions_are_listed() {
    let v = json!({"schemas": [CORE_SCHEMA_11], "id": "1",
        ENTERPRISE_SCHEMA_11: {"department": "Sales"}});
    let u = resource_from_scim11(&v, ResourceKind::User, None);
    assert_eq!(u["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]));
}

#[test]
fn missing_schemas_and_custom_extensions() {
    let v = json!({"id": "1", "urn:acme:ext:1.0": {"badge": "7"}});
    let u = resource_from_scim11(&v, ResourceKind::User, None);
    assert_eq!(u["schemas"], json!([USER_SCHEMA, "urn:acme:ext:1.0"]));
    assert_eq!(u["urn:acme:ext:1.0"]["badge"], "7");
    let back = resource_to_scim11(&json!({"schemas": [USER_SCHEMA, "urn:acme:ext:1.0"]}));
    assert_eq!(back["schemas"], json!([CORE_SCHEMA_11, "urn:acme:ext:1.0"]));
    assert_eq!(resource_to_scim11(&json!("x")), json!("x"));
}

// === property: 2.0 -> 1.1 -> 2.0 is the identity ===

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 ._@-]{1,12}"
}

fn id() -> impl Strategy<Value = String> {
    "[a-f0-9]{8}"
}

fn multi(kind: &'static str) -> impl Strategy<Value = Option<Value>> {
    proptest::option::of(proptest::collection::vec(
        (
            text(),
            prop_oneof![Just("work"), Just("home"), Just("other")],
            any::<bool>(),
        ),
        1..4,
    ))
    .prop_map(move |elements| {
        elements.map(|es| {
            Value::Array(
                es.into_iter()
                    .map(|(v, t, p)| {
                        let mut e = json!({"value": format!("{v}@{kind}"), "type": t});
                        if p {
                            e["primary"] = json!(true);
                        }
                        e
                    })
                    .collect(),
            )
        })
    })
}

fn meta(kind: &str) -> impl Strategy<Value = Option<Value>> {
    let kind = kind.to_string();
    proptest::option::of((id(), any::<bool>())).prop_map(move |m| {
        m.map(|(v, with_location)| {
            let mut meta = json!({
                "resourceType": kind,
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z",
                "version": format!("W/\"{v}\""),
            });
            if with_location {
                meta["location"] = json!(format!("{BASE}/{kind}s/{v}"));
            }
            meta
        })
    })
}

fn insert(obj: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        obj.insert(key.into(), v);
    }
}

prop_compose! {
    fn user()(
        id in id(), user_name in text(), names in proptest::option::of((text(), text(), text())),
        singles in proptest::collection::vec(proptest::option::of(text()), 10),
        active in proptest::option::of(any::<bool>()),
        emails in multi("emails"), phones in multi("phones"), ims in multi("ims"),
        roles in multi("roles"), entitlements in multi("entitlements"),
        groups in proptest::option::of(proptest::collection::vec((id(), text(), any::<bool>()), 1..4)),
        enterprise in proptest::option::of((text(), text(), proptest::option::of((id(), text())))),
        meta in meta("User"),
    ) -> Value {
        let mut u = Map::new();
        let mut schemas = vec![json!(USER_SCHEMA)];
        if enterprise.is_some() {
            schemas.push(json!(ENTERPRISE_USER_SCHEMA));
        }
        u.insert("schemas".into(), Value::Array(schemas));
        u.insert("id".into(), json!(id));
        u.insert("userName".into(), json!(user_name));
        insert(&mut u, "name", names.map(|(f, g, m)| json!({
            "formatted": format!("{g} {m} {f}"), "familyName": f, "givenName": g, "middleName": m,
        })));
        let keys = ["externalId", "displayName", "nickName", "profileUrl", "title", "userType",
            "preferredLanguage", "locale", "timezone", "password"];
        for (key, value) in keys.iter().zip(singles) {
            insert(&mut u, key, value.map(Value::String));
        }
        insert(&mut u, "active", active.map(Value::Bool));
        insert(&mut u, "emails", emails);
        insert(&mut u, "phoneNumbers", phones);
        insert(&mut u, "ims", ims);
        insert(&mut u, "roles", roles);
        insert(&mut u, "entitlements", entitlements);
        insert(&mut u, "groups", groups.map(|gs| Value::Array(gs.into_iter().map(|(g, d, direct)| json!({
            "value": g, "$ref": format!("{BASE}/Groups/{g}"), "display": d,
            "type": if direct { "direct" } else { "indirect" },
        })).collect())));
        insert(&mut u, ENTERPRISE_USER_SCHEMA, enterprise.map(|(number, dept, manager)| {
            let mut ext = json!({"employeeNumber": number, "department": dept});
            if let Some((m, name)) = manager {
                ext["manager"] = json!({"value": m, "$ref": format!("{BASE}/Users/{m}"), "displayName": name});
            }
            ext
        }));
        insert(&mut u, "meta", meta);
        Value::Object(u)
    }
}

prop_compose! {
    fn group()(
        id in id(), name in text(), external in proptest::option::of(text()),
        members in proptest::collection::vec((id(), text(), any::<bool>()), 0..6),
        meta in meta("Group"),
    ) -> Value {
        let mut g = Map::new();
        g.insert("schemas".into(), json!([GROUP_SCHEMA]));
        g.insert("id".into(), json!(id));
        g.insert("displayName".into(), json!(name));
        insert(&mut g, "externalId", external.map(Value::String));
        if !members.is_empty() {
            let members = members.into_iter().map(|(m, d, is_user)| {
                let (kind, endpoint) = if is_user { ("User", "Users") } else { ("Group", "Groups") };
                json!({"value": m, "$ref": format!("{BASE}/{endpoint}/{m}"), "display": d, "type": kind})
            });
            g.insert("members".into(), Value::Array(members.collect()));
        }
        insert(&mut g, "meta", meta);
        Value::Object(g)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(256) })]

    #[test]
    fn users_round_trip(u in user()) {
        let v11 = resource_to_scim11(&u);
        prop_assert!(!v11.to_string().contains("$ref"));
        prop_assert!(!v11.to_string().contains("resourceType"));
        prop_assert_eq!(resource_from_scim11(&v11, ResourceKind::User, Some(BASE)), u);
    }

    #[test]
    fn groups_round_trip(g in group()) {
        let v11 = resource_to_scim11(&g);
        prop_assert_eq!(&v11["schemas"], &json!([CORE_SCHEMA_11]));
        prop_assert_eq!(resource_from_scim11(&v11, ResourceKind::Group, Some(BASE)), g);
    }
}
