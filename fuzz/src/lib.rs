//! What the fuzz targets share: the built-in schema registry, fixed
//! resources to evaluate and patch against, and small helpers to cut one
//! fuzz input into several.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use scim_gateway::scim::schema::{ResourceType, SchemaRegistry};
use serde_json::Value;
use std::sync::LazyLock;

/// The built-in schemas (User, Group, the enterprise extension).
pub fn registry() -> &'static SchemaRegistry {
    static REGISTRY: LazyLock<SchemaRegistry> = LazyLock::new(SchemaRegistry::builtin);
    &REGISTRY
}

/// A resource type of [`registry`]: `User` or `Group`.
pub fn resource_type(name: &str) -> &'static ResourceType {
    registry()
        .resource_type(name)
        .unwrap_or_else(|| panic!("no resource type {name}"))
}

/// The full User of the test fixtures (every core and enterprise attribute).
pub fn user() -> &'static Value {
    static USER: LazyLock<Value> = LazyLock::new(|| {
        serde_json::from_str(include_str!("../../tests/fixtures/user_full.json")).unwrap()
    });
    &USER
}

/// A Group with members.
pub fn group() -> &'static Value {
    static GROUP: LazyLock<Value> = LazyLock::new(|| {
        serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "displayName": "Tour Guides",
            "members": [
                {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen", "type": "User"},
                {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge", "type": "User"}
            ],
            "meta": {"resourceType": "Group", "version": "W/\"3694e05e9dff592\""}
        })
    });
    &GROUP
}

/// The first byte as a selector (0 for an empty input) and the rest.
pub fn split_first(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((b, rest)) => (*b, rest),
        None => (0, data),
    }
}

/// `data` cut at the first NUL byte: (before, after). Lets one input carry
/// two texts (a filter and a body, a header and a payload).
pub fn split_nul(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// `schemas` as a sorted list, so that two normal forms compare as sets.
pub fn sorted_schemas(mut v: Value) -> Value {
    if let Some(Value::Array(list)) = v.get_mut("schemas") {
        list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    v
}
