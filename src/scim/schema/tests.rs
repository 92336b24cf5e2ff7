use super::*;
use crate::scim::path::AttrPath;
use serde_json::json;

fn ext_schema() -> Value {
    json!({
        "id": "urn:example:params:scim:schemas:extension:acme:2.0:User",
        "name": "AcmeUser",
        "description": "Acme extension",
        "attributes": [
            {"name": "badgeNumber", "type": "integer", "multiValued": false, "required": true,
             "mutability": "immutable", "returned": "default", "uniqueness": "server"},
            {"name": "skills", "type": "complex", "multiValued": true,
             "subAttributes": [
                {"name": "value", "type": "string", "caseExact": true},
                {"name": "level", "type": "string", "canonicalValues": ["junior", "senior"]}
             ]}
        ]
    })
}

#[test]
fn loads_an_extension_schema_from_rfc_json() {
    let s = Schema::from_json(&ext_schema()).unwrap();
    let badge = s.attribute("BADGENUMBER").unwrap();
    assert_eq!(badge.attr_type, AttrType::Integer);
    assert!(badge.required);
    assert_eq!(badge.mutability, Mutability::Immutable);
    assert_eq!(badge.uniqueness, Uniqueness::Server);
    let level = s
        .attribute("skills")
        .unwrap()
        .sub_attribute("Level")
        .unwrap();
    assert_eq!(level.canonical_values, vec!["junior", "senior"]);
    assert!(
        s.attribute("skills")
            .unwrap()
            .sub_attribute("value")
            .unwrap()
            .case_exact
    );
}

#[test]
fn rejects_malformed_schemas_naming_the_attribute() {
    let mut bad = ext_schema();
    bad["attributes"][0]["type"] = json!("float");
    let e = Schema::from_json(&bad).unwrap_err();
    assert!(e.detail().contains("badgeNumber"), "{}", e.detail());
    assert!(e.detail().contains("float"));

    let mut dup = ext_schema();
    dup["attributes"][1]["name"] = json!("BadgeNumber");
    assert!(Schema::from_json(&dup)
        .unwrap_err()
        .detail()
        .contains("twice"));

    let no_urn = json!({"id": "acme", "attributes": []});
    assert!(Schema::from_json(&no_urn).is_err());
    let nested = json!({"id": "urn:x", "attributes": [{"name": "a", "type": "complex",
        "subAttributes": [{"name": "b", "type": "complex", "subAttributes": [{"name": "c"}]}]}]});
    assert!(Schema::from_json(&nested)
        .unwrap_err()
        .detail()
        .contains("complex"));
}

#[test]
fn registry_resolves_core_common_and_extension_paths() {
    let reg = SchemaRegistry::builtin();
    let user = reg.resource_type("user").unwrap();
    let r = reg
        .resolve(user, &AttrPath::parse("name.familyName").unwrap())
        .unwrap();
    assert_eq!(r.attr.name, "name");
    assert_eq!(r.target().name, "familyName");
    assert_eq!(r.extension, None);

    let r = reg.resolve(user, &AttrPath::parse("ID").unwrap()).unwrap();
    assert_eq!(r.schema, None);
    assert_eq!(r.attr.returned, Returned::Always);

    let full =
        AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")
            .unwrap();
    let r = reg.resolve(user, &full).unwrap();
    assert_eq!(r.extension, Some(ENTERPRISE_USER_SCHEMA));
    let r = reg
        .resolve(user, &AttrPath::simple("employeeNumber"))
        .unwrap();
    assert_eq!(r.extension, Some(ENTERPRISE_USER_SCHEMA));

    let group = reg.resource_type_by_endpoint("/Groups").unwrap();
    let e = reg
        .resolve(group, &AttrPath::simple("userName"))
        .unwrap_err();
    assert!(e.detail().contains("userName"));
    assert!(reg.resolve(user, &AttrPath::sub("name", "nope")).is_err());
}

#[test]
fn registry_loads_schema_dir_and_extends_resource_types() {
    let dir = std::env::temp_dir().join(format!("scim-schema-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("acme.json"), ext_schema().to_string()).unwrap();
    std::fs::write(dir.join("ignored.txt"), "not json").unwrap();
    let mut reg = SchemaRegistry::builtin();
    let loaded = reg.load_schema_dir(&dir).unwrap();
    assert_eq!(
        loaded,
        vec!["urn:example:params:scim:schemas:extension:acme:2.0:User"]
    );
    reg.extend_resource_type("User", &loaded[0], false).unwrap();
    let user = reg.resource_type("User").unwrap();
    assert_eq!(user.extensions.len(), 2);
    let r = reg.resolve(user, &AttrPath::simple("badgeNumber")).unwrap();
    assert_eq!(r.extension, Some(loaded[0].as_str()));
    std::fs::write(dir.join("broken.json"), "{").unwrap();
    let e = reg.load_schema_dir(&dir).unwrap_err();
    assert!(e.detail().contains("broken.json"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn resource_type_json_names_schema_and_extensions() {
    let reg = SchemaRegistry::builtin();
    let v = reg
        .resource_type("User")
        .unwrap()
        .to_json("https://h/scim/v2");
    assert_eq!(v["endpoint"], "/Users");
    assert_eq!(v["schemaExtensions"][0]["schema"], ENTERPRISE_USER_SCHEMA);
    assert_eq!(
        v["meta"]["location"],
        "https://h/scim/v2/ResourceTypes/User"
    );
}
