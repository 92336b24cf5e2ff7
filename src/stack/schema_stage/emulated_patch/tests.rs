#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The mapped PATCH view on its own: what it writes upstream for a
//! tenant's PATCH, and what it refuses.
use super::*;
use crate::mapping::CompiledMapping;
use crate::scim::error::ScimType;
use crate::scim::patch::PatchOpKind;
use crate::scim::schema::SchemaRegistry;
use serde_json::json;

const LEGACY: &str = "urn:example:legacy:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn schema(table: &str, validate: bool) -> Arc<TenantSchema> {
    let registry = SchemaRegistry::builtin();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(table);
    let mapping = CompiledMapping::load(&path, &registry).unwrap();
    Arc::new(TenantSchema::new(
        registry,
        Some(mapping),
        validate,
        1 << 20,
    ))
}

fn store_legacy() -> Arc<TenantSchema> {
    schema("tests/fixtures/mapping/store-legacy.toml", true)
}

fn patch_view(schema: &Arc<TenantSchema>, ops: Value) -> Arc<dyn View> {
    let request = PatchRequest::parse(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops,
    }))
    .unwrap();
    match view(schema, "Users", TenantPatch::One(request)) {
        Some(Views::One(view)) => view,
        other => panic!("{other:?}"),
    }
}

/// A user as the legacy store holds it: title, middle name and the
/// enterprise department in the backend's extension.
fn held() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", LEGACY],
        "id": "u1",
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"type": "work", "value": "bj@example.com", "primary": true},
            {"type": "home", "value": "bj@home.example"}
        ],
        LEGACY: {"jobTitle": "Engineer", "middle": "Q", "dept": "Sales"},
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    })
}

#[test]
fn a_mapped_core_sub_attribute_is_written_at_its_upstream_place() {
    let schema = store_legacy();
    let view = patch_view(
        &schema,
        json!([{"op": "replace", "path": "name.middleName", "value": "R"}]),
    );
    let written = view.apply(&held(), false).unwrap().written.unwrap();
    assert_eq!(written[LEGACY]["middle"], "R", "{written}");
    assert!(written["name"].get("middleName").is_none(), "{written}");
    assert_eq!(written["name"]["givenName"], "Barbara");
    assert_eq!(written[LEGACY]["jobTitle"], "Engineer", "{written}");
}

#[test]
fn a_mapped_extension_attribute_and_a_remove() {
    let schema = store_legacy();
    let view = patch_view(
        &schema,
        json!([
            {"op": "add", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "701984"},
            {"op": "remove", "path": format!("{ENTERPRISE}:department")},
            {"op": "remove", "path": "title"}
        ]),
    );
    let written = view.apply(&held(), false).unwrap().written.unwrap();
    assert_eq!(written[LEGACY]["staffNumber"], "701984", "{written}");
    assert!(written[LEGACY].get("dept").is_none(), "{written}");
    assert!(written[LEGACY].get("jobTitle").is_none(), "{written}");
    assert_eq!(written[LEGACY]["middle"], "Q", "{written}");
    // Nothing in the tenant's names reaches the upstream.
    assert!(written.get(ENTERPRISE).is_none(), "{written}");
    assert!(written.get("title").is_none(), "{written}");
}

#[test]
fn a_filtered_multi_valued_path_and_a_path_less_value() {
    let schema = store_legacy();
    let view = patch_view(
        &schema,
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@example.com"},
            {"op": "replace", "value": {"nickName": "Babs", "title": "Lead"}}
        ]),
    );
    let written = view.apply(&held(), false).unwrap().written.unwrap();
    let emails = written["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 2, "{written}");
    assert!(emails
        .iter()
        .any(|e| e["type"] == "work" && e["value"] == "b@example.com"));
    assert_eq!(written[LEGACY]["alias"], "Babs", "{written}");
    assert_eq!(written[LEGACY]["jobTitle"], "Lead", "{written}");
}

#[test]
fn a_patch_that_changes_nothing_writes_nothing() {
    let schema = store_legacy();
    let view = patch_view(
        &schema,
        json!([{"op": "replace", "path": "title", "value": "Engineer"}]),
    );
    assert_eq!(view.apply(&held(), false).unwrap().written, None);
}

#[test]
fn errors_speak_the_tenant_names() {
    let schema = store_legacy();
    // No element matches: RFC 7644 §3.5.2.3 noTarget, on the tenant's path.
    let view = patch_view(
        &schema,
        json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x@y"}]),
    );
    let e = view.apply(&held(), false).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::NoTarget), "{e:?}");
    // A required attribute cannot go.
    let view = patch_view(&schema, json!([{"op": "remove", "path": "userName"}]));
    let e = view.apply(&held(), false).unwrap_err();
    assert_eq!(e.status(), 400, "{e:?}");
    assert!(e.detail().contains("userName"), "{e:?}");
}

#[test]
fn what_the_tenant_cannot_see_is_written_back_as_it_was() {
    // legacy-hr drops what no rule names, hides `rowVersion` and writes
    // the constant `source`.
    let schema = schema("config/mappings/legacy-hr.toml", true);
    let held = json!({
        "schemas": ["urn:legacyhr:schemas:Employee"],
        "id": "e1",
        "login": "bjensen",
        "firstName": "Barbara",
        "lastName": "Jensen",
        "dept": "S01",
        "active": "Y",
        "source": "scim",
        "rowVersion": 7,
        "costCenter": "4130",
        "meta": {"resourceType": "User"}
    });
    let view = patch_view(
        &schema,
        json!([
            {"op": "replace", "path": format!("{ENTERPRISE}:department"), "value": "Engineering"},
            {"op": "replace", "path": "active", "value": false}
        ]),
    );
    let written = view.apply(&held, false).unwrap().written.unwrap();
    assert_eq!(written["dept"], "E01", "{written}");
    assert_eq!(written["active"], "N", "{written}");
    assert_eq!(written["rowVersion"], 7, "{written}");
    assert_eq!(written["costCenter"], "4130", "{written}");
    assert_eq!(written["source"], "scim", "{written}");
    assert_eq!(written["login"], "bjensen", "{written}");
    assert!(written.get("userName").is_none(), "{written}");
}

#[test]
fn a_value_the_mapping_refuses_is_the_clients_error() {
    // payroll's organization is a closed list (map_strict).
    let schema = schema("config/mappings/payroll.toml", true);
    let mapping = schema.mapping.as_ref().unwrap().resource("User").unwrap();
    let tenant = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "p1",
        "userName": "bjensen",
    });
    let held = mapping.to_upstream(&tenant).unwrap();
    let view = patch_view(
        &schema,
        json!([{"op": "add", "path": format!("{ENTERPRISE}:organization"), "value": "Elsewhere Ltd"}]),
    );
    let e = view.apply(&held, false).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::InvalidValue), "{e:?}");
}

#[test]
fn entras_upserts_are_resolved_in_the_tenants_view() {
    let schema = store_legacy();
    let view = patch_view(
        &schema,
        json!([
            {"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Redmond"},
            {"op": "add", "path": "addresses[type eq \"work\"].region", "value": "WA"}
        ]),
    );
    // Without the dialect's rule: RFC 7644 §3.5.2.1, no element matches.
    let e = view.apply(&held(), false).unwrap_err();
    assert_eq!(e.scim_type(), Some(ScimType::NoTarget), "{e:?}");
    let viewed = view.apply(&held(), true).unwrap();
    assert!(viewed.upserted);
    let written = viewed.written.unwrap();
    assert_eq!(
        written["addresses"],
        json!([{"type": "work", "locality": "Redmond", "region": "WA"}]),
        "{written}"
    );
    assert_eq!(written[LEGACY]["middle"], "Q", "{written}");
}

const SITES: &str = "urn:example:sites:2.0:User";

fn entra_locality(schema: &Arc<TenantSchema>) -> Arc<dyn View> {
    patch_view(
        schema,
        json!([{"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Seattle"}]),
    )
}

#[test]
fn an_upsert_behind_a_table_is_a_path_less_add_the_table_maps() {
    let schema = schema("tests/fixtures/mapping/store-sites-ext.toml", true);
    let view = entra_locality(&schema);
    assert!(view.has_upsert_candidates());
    let held = json!({"id": "u1", "userName": "bjensen", SITES: {"sites": []}});
    let sent = view
        .resolve_upserts(&held)
        .unwrap()
        .expect("an element to create");
    assert_eq!(sent.operations.len(), 1, "{sent:?}");
    let op = &sent.operations[0];
    assert_eq!(op.op, PatchOpKind::Add);
    assert!(op.path.is_none(), "{op:?}");
    let value = op.value.clone().unwrap();
    assert_eq!(
        value[SITES]["sites"],
        json!([{"kind": "office", "city": "Seattle"}]),
        "{value}"
    );
    // The element there already: the PatchOp goes as mapped.
    let there = json!({"id": "u1", "userName": "bjensen",
        SITES: {"sites": [{"kind": "office", "city": "Tacoma"}]}});
    assert_eq!(view.resolve_upserts(&there).unwrap(), None);
}

#[test]
fn a_table_that_makes_the_element_flat_needs_no_read() {
    let schema = schema("tests/fixtures/mapping/store-sites-flat.toml", true);
    assert!(!entra_locality(&schema).has_upsert_candidates());
}
