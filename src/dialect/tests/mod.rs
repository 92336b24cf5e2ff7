//! Unit tests of the dialect rules: the documented Entra ID and Okta
//! requests (fixtures under `tests/fixtures/idp/`) turned into canonical
//! form, each rule on its own, switches and shadow mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod entra;
mod merge;
mod okta;
mod properties;
mod rules;
mod upsert;

use super::{normalize_patch, normalize_resource, Applied, Profile, RuleSet, WriteKind};
use crate::scim::schema::SchemaRegistry;
use serde_json::Value;
use std::path::Path;

/// A fixture envelope.
fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/idp")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Every fixture name (without `.json`).
fn all_fixtures() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/idp");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".json").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

/// The profile a fixture's IdP gets.
fn profile_of(name: &str) -> Profile {
    if name.starts_with("okta-") {
        Profile::Okta
    } else {
        Profile::Entra
    }
}

fn resource_type_of(envelope: &Value) -> &'static str {
    if envelope["path"].as_str().unwrap().contains("/Groups") {
        "Group"
    } else {
        "User"
    }
}

/// Normalizes a fixture's body with `rules`, by its method.
fn normalize_with(name: &str, rules: &RuleSet) -> (Value, Applied) {
    let envelope = load(name);
    let mut body = envelope["body"].clone();
    let registry = SchemaRegistry::builtin();
    let rt = registry.resource_type(resource_type_of(&envelope)).unwrap();
    let applied = match envelope["method"].as_str().unwrap() {
        "PATCH" => normalize_patch(&mut body, rules, &registry, rt),
        "POST" => normalize_resource(&mut body, WriteKind::Create, rules, &registry, rt),
        "PUT" => normalize_resource(&mut body, WriteKind::Replace, rules, &registry, rt),
        other => panic!("{name}: no body for {other}"),
    };
    (body, applied)
}

/// Normalizes a fixture with its IdP's default rules.
fn normalize(name: &str) -> (Value, Applied) {
    normalize_with(name, &RuleSet::for_profile(profile_of(name)))
}

/// The names of the rules that fired.
fn fired(applied: &Applied) -> Vec<&'static str> {
    applied.rules().map(|r| r.name()).collect()
}

/// Normalizes a PATCH body given inline, for a resource type.
fn patch_inline(kind: &str, body: &mut Value, rules: &RuleSet) -> Applied {
    let registry = SchemaRegistry::builtin();
    let rt = registry.resource_type(kind).unwrap();
    normalize_patch(body, rules, &registry, rt)
}

/// Normalizes a POST/PUT body given inline, for a resource type.
fn resource_inline(kind: &str, write: WriteKind, body: &mut Value, rules: &RuleSet) -> Applied {
    let registry = SchemaRegistry::builtin();
    let rt = registry.resource_type(kind).unwrap();
    normalize_resource(body, write, rules, &registry, rt)
}
