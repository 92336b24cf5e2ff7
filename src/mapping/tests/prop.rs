//! Property tests: for every fixture table, mapping a generated User to
//! the upstream and back returns the original value of every mapped
//! attribute, the filtered elements included (`emails[type eq "work"]`,
//! `addresses[type eq "work"]`). Values are generated in the canonical form
//! of one-way transforms (lower-case, trimmed logins; upper-case countries).
use super::*;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

pub(super) const TABLES: [&str; 5] = ["legacy-hr", "ldap", "crm-extension", "saas-app", "payroll"];

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    proptest::option::of(s).boxed()
}

fn word() -> impl Strategy<Value = String> {
    "[A-Z][a-z]{0,10}"
}

fn department() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Sales".to_string()),
        Just("Engineering".to_string()),
        Just("Support".to_string()),
        "[a-z ]{1,10}",
    ]
}

prop_compose! {
    fn enterprise()(
        department in opt(department()),
        cost in opt("[0-9]{2,5}"),
        number in opt("[0-9]{1,7}"),
        org in opt(prop_oneof![Just("Acme Inc".to_string()), Just("Acme GmbH".to_string())]),
        manager in opt("[a-f0-9-]{8,36}"),
    ) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| if let Some(v) = v { m.insert(k.into(), v); };
        put("department", department.map(Value::from));
        put("costCenter", cost.map(Value::from));
        put("employeeNumber", number.map(Value::from));
        put("organization", org.map(Value::from));
        put("manager", manager.map(|v| json!({"value": v})));
        Value::Object(m)
    }
}

prop_compose! {
    pub(super) fn user()(
        user_name in "[a-z][a-z0-9.]{0,12}@[a-z]{1,8}\\.com",
        given in opt(word()), family in opt(word()), middle in opt(word()),
        display in opt("[A-Za-z ]{1,20}"), title in opt(word()), user_type in opt(word()),
        language in opt("[a-z]{2}-[A-Z]{2}"), active in opt(any::<bool>()),
        external in opt("[0-9]{1,8}"),
        work_mail in opt("[a-z]{1,8}@work\\.com"), home_mail in opt("[a-z]{1,8}@home\\.org"),
        work_primary in any::<bool>(),
        mobile in opt("\\+[0-9]{6,12}"), work_phone in opt("\\+[0-9]{6,12}"),
        address in opt(("[0-9]{1,4} [A-Z][a-z]{2,8} St", word(), "[A-Z]{2}", "[0-9]{5}", "[A-Z]{2,3}")),
        roles in proptest::collection::vec("[a-z]{1,8}", 0..4),
        ext in enterprise(),
    ) -> Value {
        let mut u = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "2819c223",
            "userName": user_name,
            "meta": {"resourceType": "User", "version": "W/\"1\""},
        });
        let mut name = Map::new();
        for (k, v) in [("givenName", given), ("familyName", family), ("middleName", middle)] {
            if let Some(v) = v { name.insert(k.into(), v.into()); }
        }
        if !name.is_empty() { u["name"] = Value::Object(name); }
        for (k, v) in [("displayName", display), ("title", title), ("userType", user_type), ("preferredLanguage", language), ("externalId", external)] {
            if let Some(v) = v { u[k] = v.into(); }
        }
        if let Some(a) = active { u["active"] = a.into(); }
        let mut emails = Vec::new();
        if let Some(v) = work_mail {
            emails.push(if work_primary { json!({"type": "work", "value": v, "primary": true}) } else { json!({"type": "work", "value": v}) });
        }
        if let Some(v) = home_mail { emails.push(json!({"type": "home", "value": v})); }
        if !emails.is_empty() { u["emails"] = Value::Array(emails); }
        let phones: Vec<Value> = [("mobile", mobile), ("work", work_phone)].into_iter()
            .filter_map(|(t, v)| v.map(|v| json!({"type": t, "value": v}))).collect();
        if !phones.is_empty() { u["phoneNumbers"] = Value::Array(phones); }
        if let Some((street, city, region, zip, country)) = address {
            u["addresses"] = json!([{"type": "work", "streetAddress": street, "locality": city, "region": region, "postalCode": zip, "country": country}]);
        }
        if !roles.is_empty() {
            u["roles"] = Value::Array(roles.into_iter().map(|r| json!({"value": r})).collect());
        }
        if ext.as_object().is_some_and(|o| !o.is_empty()) {
            u[ENTERPRISE] = ext;
            u["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]);
        }
        u
    }
}

/// Everything but `schemas`, whose order follows the extension objects.
fn without_schemas(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.shift_remove("schemas");
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(256) })]

    #[test]
    fn there_and_back_keeps_every_mapped_attribute(u in user()) {
        for name in TABLES {
            let m = fixture(name);
            let users = users(&m);
            let up = users.to_upstream(&u).unwrap();
            let back = users.to_tenant(&up);
            for r in &users.rules {
                let before = r.tenant.get(&u);
                if before.is_none() && r.default.is_some() {
                    continue;
                }
                prop_assert_eq!(r.tenant.get(&back), before, "{}: {}", name, r.tenant);
            }
            prop_assert_eq!(&back["id"], &u["id"]);
            prop_assert_eq!(&back["meta"], &u["meta"]);
        }
    }

    #[test]
    fn pass_through_tables_return_the_whole_user(u in user()) {
        // crm-extension moves values between schemas and joins roles, with
        // everything else passing through: the way back is the identity.
        let m = fixture("crm-extension");
        let back = users(&m).to_tenant(&users(&m).to_upstream(&u).unwrap());
        prop_assert_eq!(without_schemas(&back), without_schemas(&u));
    }

    #[test]
    fn group_members_there_and_back(members in proptest::collection::vec("[a-f0-9]{1,12}", 0..20), name in word()) {
        let m = fixture("ldap");
        let groups = m.resource("Group").unwrap();
        let mut g = json!({"id": "g", "displayName": name});
        if !members.is_empty() {
            g["members"] = Value::Array(members.iter().map(|v| json!({"value": v})).collect());
        }
        let back = groups.to_tenant(&groups.to_upstream(&g).unwrap());
        prop_assert_eq!(without_schemas(&back), g);
    }
}
