//! Every table under `config/mappings/` loads and compiles, and maps the
//! full RFC 7643 example User as its comments promise.
use super::*;
use serde_json::{json, Value};

const USER: &str = include_str!("../../../tests/fixtures/user_full.json");

fn user() -> Value {
    serde_json::from_str(USER).unwrap()
}

#[test]
fn every_table_in_config_mappings_compiles() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/mappings");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "toml") {
            CompiledMapping::load(&path, &SchemaRegistry::builtin())
                .unwrap_or_else(|e| panic!("{}: {e:#?}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 5, "only {n} tables");
}

#[test]
fn legacy_hr_maps_the_example_user() {
    let m = fixture("legacy-hr");
    let mut u = user();
    u[ENTERPRISE]["department"] = json!("Sales");
    let up = users(&m).to_upstream(&u).unwrap();
    assert_eq!(
        up,
        json!({
            "schemas": ["urn:legacyhr:schemas:Employee"],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "login": "bjensen@example.com",
            "firstName": "Barbara",
            "lastName": "Jensen",
            "mail": "bjensen@example.com",
            "mobile": "555-555-4444",
            "dept": "S01",
            "active": "Y",
            "employeeId": "701984",
            "source": "scim",
            "meta": u["meta"],
        })
    );
    let mut back_in = up.clone();
    back_in["rowVersion"] = json!(17);
    let back = users(&m).to_tenant(&back_in);
    assert_eq!(
        back,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"type": "work", "value": "bjensen@example.com", "primary": true}],
            "phoneNumbers": [{"type": "mobile", "value": "555-555-4444"}],
            ENTERPRISE: {"department": "Sales"},
            "active": true,
            "externalId": "701984",
            "meta": u["meta"],
        })
    );
}

#[test]
fn ldap_maps_users_and_groups() {
    let m = fixture("ldap");
    let up = users(&m).to_upstream(&user()).unwrap();
    assert_eq!(up["uid"], "bjensen@example.com");
    assert_eq!(up["cn"], "Babs Jensen");
    assert_eq!(up["sn"], "Jensen");
    assert_eq!(up["givenName"], "Barbara");
    assert_eq!(up["mail"], "bjensen@example.com");
    assert_eq!(up["telephoneNumber"], "555-555-5555");
    assert_eq!(up["employeeNumber"], "701984");
    assert_eq!(up["schemas"], json!(["urn:example:ldap:inetOrgPerson"]));
    assert!(up.get("nickName").is_none() && up.get("emails").is_none());
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "displayName": "Tour Guides",
        "members": [{"value": "u1", "display": "A"}, {"value": "u2"}],
    });
    let groups = m.resource("Group").unwrap();
    let up = groups.to_upstream(&group).unwrap();
    assert_eq!(
        up,
        json!({"schemas": ["urn:example:ldap:groupOfUniqueNames"], "id": "g1", "cn": "Tour Guides", "uniqueMember": ["u1", "u2"]})
    );
    assert_eq!(
        groups.to_tenant(&up)["members"],
        json!([{"value": "u1"}, {"value": "u2"}])
    );
}

#[test]
fn crm_moves_between_core_and_extension_schemas() {
    let m = fixture("crm-extension");
    let mut u = user();
    u["roles"] = json!([{"value": "admin"}, {"value": "auditor"}]);
    let up = users(&m).to_upstream(&u).unwrap();
    let crm = "urn:example:crm:2.0:User";
    assert_eq!(
        up[crm],
        json!({"dept": "Tour Operations", "costCentre": "4130", "jobTitle": "Tour Guide"})
    );
    assert_eq!(up["roleList"], "admin,auditor");
    assert!(up.get("title").is_none() && up.get("roles").is_none());
    // The rest of the enterprise extension passes through.
    assert_eq!(up[ENTERPRISE]["employeeNumber"], "701984");
    assert!(up[ENTERPRISE].get("department").is_none());
    assert_eq!(
        up["schemas"],
        json!([
            "urn:ietf:params:scim:schemas:core:2.0:User",
            crm,
            ENTERPRISE
        ])
    );
    let back = users(&m).to_tenant(&up);
    assert_eq!(back[ENTERPRISE], u[ENTERPRISE]);
    assert_eq!(back["title"], "Tour Guide");
    assert_eq!(back["roles"], u["roles"]);
    assert_eq!(back["emails"], u["emails"]);
    assert!(back.get(crm).is_none());
}

#[test]
fn saas_app_lower_cases_logins_and_keeps_its_marker_to_itself() {
    let m = fixture("saas-app");
    let mut u = user();
    u["userName"] = json!("  BJensen@Example.com ");
    let up = users(&m).to_upstream(&u).unwrap();
    assert_eq!(up["userName"], "bjensen@example.com");
    assert_eq!(up["enabled"], true);
    assert_eq!(up["language"], "en-US");
    assert_eq!(up["tenantKey"], "acme");
    assert!(up.get("locale").is_none() && up.get("active").is_none());
    assert_eq!(up["emails"], u["emails"]);
    let mut from_up = up.clone();
    from_up["internalScore"] = json!(0.93);
    let back = users(&m).to_tenant(&from_up);
    assert!(back.get("tenantKey").is_none() && back.get("internalScore").is_none());
    assert_eq!(back["active"], true);
    assert_eq!(back["preferredLanguage"], "en-US");
}

#[test]
fn payroll_flattens_the_work_address() {
    let m = fixture("payroll");
    let mut u = user();
    u[ENTERPRISE]["organization"] = json!("Acme GmbH");
    let up = users(&m).to_upstream(&u).unwrap();
    assert_eq!(up["street"], "100 Universal City Plaza");
    assert_eq!(up["city"], "Hollywood");
    assert_eq!(up["state"], "CA");
    assert_eq!(up["zip"], "91608");
    assert_eq!(up["country"], "USA");
    assert_eq!(up["status"], 1);
    assert_eq!(up["company"], "ACME-DE");
    assert_eq!(up["managerId"], "26118915-6090-4610-87e4-49d8ca9f808d");
    let back = users(&m).to_tenant(&up);
    assert_eq!(
        back["addresses"],
        json!([{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "region": "CA", "postalCode": "91608", "country": "USA"}])
    );
    assert_eq!(back[ENTERPRISE]["organization"], "Acme GmbH");
    assert_eq!(
        back[ENTERPRISE]["manager"],
        json!({"value": "26118915-6090-4610-87e4-49d8ca9f808d"})
    );
    assert_eq!(back["active"], true);
    // A legal entity the table does not list is refused, naming the attribute.
    u[ENTERPRISE]["organization"] = json!("Universal Studios");
    let e = users(&m).to_upstream(&u).unwrap_err();
    assert_eq!(e.status(), 400);
    assert!(e.detail().contains("organization"), "{}", e.detail());
}
