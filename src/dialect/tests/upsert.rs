//! Entra's upsert on value-filtered paths, resolved against a resource
//! (`dialect::upsert`).
use crate::dialect::{has_upsert_candidates, resolve_upserts};
use crate::scim::patch::{apply_patch, PatchRequest};
use crate::scim::schema::SchemaRegistry;
use serde_json::{json, Value};

fn patch(ops: Value) -> PatchRequest {
    PatchRequest::parse(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops
    }))
    .unwrap()
}

fn user(addresses: Value) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u1",
        "userName": "bjensen",
        "addresses": addresses
    })
}

/// Resolves and applies, as the upstream call does.
fn resolve_and_apply(resource: &Value, p: &PatchRequest) -> (bool, Value) {
    let registry = SchemaRegistry::builtin();
    let rt = registry.resource_type("User").unwrap();
    let apply = |r: &Value, p: &PatchRequest| apply_patch(&registry, rt, r, p);
    let resolved = resolve_upserts(resource, p, apply);
    let applied = apply(resource, resolved.as_ref().unwrap_or(p)).unwrap();
    (resolved.is_some(), applied)
}

fn of_type<'v>(resource: &'v Value, t: &str) -> Vec<&'v Value> {
    resource["addresses"]
        .as_array()
        .map(|a| a.iter().filter(|e| e["type"] == t).collect())
        .unwrap_or_default()
}

#[test]
fn separate_sub_attribute_adds_create_one_element() {
    // Not merged (as with the merge rule off): the first creates the
    // element, the second finds it.
    let p = patch(json!([
        {"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Seattle"},
        {"op": "add", "path": "addresses[type eq \"work\"].region", "value": "WA"}
    ]));
    assert!(has_upsert_candidates(&p));
    let (changed, out) = resolve_and_apply(&user(json!([{"type": "home", "locality": "X"}])), &p);
    assert!(changed);
    let work = of_type(&out, "work");
    assert_eq!(work.len(), 1, "{out}");
    assert_eq!(work[0]["locality"], "Seattle");
    assert_eq!(work[0]["region"], "WA");
    assert_eq!(of_type(&out, "home").len(), 1);
}

#[test]
fn a_merged_element_and_a_replace_create_when_absent() {
    for op in ["add", "replace"] {
        let p = patch(json!([
            {"op": op, "path": "addresses[type eq \"work\"]",
             "value": {"type": "work", "locality": "Seattle"}},
            {"op": op, "path": "emails[type eq \"work\" and primary eq true].value",
             "value": "b@example.com"}
        ]));
        let (changed, out) = resolve_and_apply(&user(json!([])), &p);
        assert!(changed, "{op}");
        assert_eq!(of_type(&out, "work").len(), 1, "{op}: {out}");
        assert_eq!(
            out["emails"],
            json!([{"type": "work", "primary": true, "value": "b@example.com"}]),
            "{op}"
        );
    }
}

#[test]
fn an_element_that_exists_is_updated_in_place() {
    let p = patch(json!([
        {"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Redmond"}
    ]));
    let resource = user(json!([{"type": "work", "locality": "Seattle", "region": "WA"}]));
    let (changed, out) = resolve_and_apply(&resource, &p);
    assert!(!changed);
    assert_eq!(
        out["addresses"],
        json!([{"type": "work", "locality": "Redmond", "region": "WA"}])
    );
}

#[test]
fn filters_that_describe_no_single_element_keep_no_target() {
    let registry = SchemaRegistry::builtin();
    let rt = registry.resource_type("User").unwrap();
    let apply = |r: &Value, p: &PatchRequest| apply_patch(&registry, rt, r, p);
    for path in [
        "addresses[type eq \"work\" or type eq \"home\"].locality",
        "addresses[type ne \"work\"].locality",
        "addresses[locality pr].region",
    ] {
        let p = patch(json!([{"op": "add", "path": path, "value": "x"}]));
        assert!(!has_upsert_candidates(&p), "{path}");
        assert!(resolve_upserts(&user(json!([])), &p, apply).is_none());
    }
    // Removes are never upserts.
    let p = patch(json!([{"op": "remove", "path": "addresses[type eq \"work\"]"}]));
    assert!(!has_upsert_candidates(&p));
}
