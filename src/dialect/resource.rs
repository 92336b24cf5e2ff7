//! Resource bodies of POST (create) and PUT (replace), RFC 7644 §3.3 and
//! §3.5.1: read-only attributes the IdPs echo, Okta's placeholder
//! password, schema URIs that are not the resource type's, and the value
//! fixes of [`super::values`].
use super::values::Fixer;
use super::{run_shadowed, Applied, Rule, RuleSet, WriteKind};
use crate::scim::json::{get_ci_mut, key_ci, remove_ci};
use crate::scim::schema::{Mutability, ResourceType, SchemaRegistry};
use serde_json::{Map, Value};

/// Normalizes a POST or PUT body of a resource of type `rt` in place and
/// reports the rules that fired. A body that is not a JSON object is left
/// for validation to reject.
pub(crate) fn normalize_resource(
    body: &mut Value,
    kind: WriteKind,
    rules: &RuleSet,
    registry: &SchemaRegistry,
    rt: &ResourceType,
) -> Applied {
    run_shadowed(body, rules, |body| {
        let Value::Object(obj) = body else {
            return Applied::default();
        };
        let mut fixer = Fixer::new(rules, registry, rt);
        drop_foreign_schemas(&mut fixer, obj);
        qualify_extension_attrs(&mut fixer, obj);
        // RFC 7643 §3.1: `id` and `meta` are assigned by the service
        // provider; RFC 7644 §3.3 lets it ignore them in a request.
        for name in ["id", "meta"] {
            drop_member(&mut fixer, obj, name, Rule::ReadOnlyIdMeta);
        }
        let core = registry.schema(&rt.schema);
        let groups_read_only = core
            .and_then(|s| s.attribute("groups"))
            .is_some_and(|a| a.mutability == Mutability::ReadOnly);
        if groups_read_only {
            drop_member(&mut fixer, obj, "groups", Rule::ReadOnlyGroups);
        }
        let has_password = core.and_then(|s| s.attribute("password")).is_some();
        if kind == WriteKind::Create && has_password {
            drop_member(&mut fixer, obj, "password", Rule::CreatePassword);
        }
        fixer.fix_resource_object(obj);
        fixer.applied
    })
}

fn drop_member(fixer: &mut Fixer<'_>, obj: &mut Map<String, Value>, name: &str, rule: Rule) {
    if fixer.rules.is_on(rule) && remove_ci(obj, name).is_some() {
        fixer.applied.record(rule);
    }
}

/// Drops `schemas` entries that are no schema of the resource type and
/// name no member of the body: Entra's group create lists
/// `http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group`,
/// and one of its documented user creates the misspelt
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0User`. An unknown
/// extension that carries data stays, for validation to name it.
fn drop_foreign_schemas(fixer: &mut Fixer<'_>, obj: &mut Map<String, Value>) {
    if !fixer.rules.is_on(Rule::ForeignSchemas) {
        return;
    }
    let rt = fixer.rt;
    let keep = |urn: &Value, obj: &Map<String, Value>| match urn.as_str() {
        Some(u) => rt.schema_urns().any(|s| s.eq_ignore_ascii_case(u)) || key_ci(obj, u).is_some(),
        None => true,
    };
    let Some(key) = key_ci(obj, "schemas").cloned() else {
        return;
    };
    let Some(Value::Array(list)) = obj.get(&key) else {
        return;
    };
    if list.iter().all(|u| keep(u, obj)) {
        return;
    }
    let kept: Vec<Value> = list.iter().filter(|u| keep(u, obj)).cloned().collect();
    fixer.applied.record(Rule::ForeignSchemas);
    obj.insert(key, Value::Array(kept));
}

/// Entra's documented SDK create sends `"department"` and `"manager"`
/// beside `"userName"`. RFC 7643 §3 keeps extension attributes inside
/// the object named by the extension's URN, which `schemas` then lists.
/// Only names that no common or core attribute has are moved.
fn qualify_extension_attrs(fixer: &mut Fixer<'_>, obj: &mut Map<String, Value>) {
    if !fixer.rules.is_on(Rule::UnqualifiedExtensionAttrs) {
        return;
    }
    let (registry, rt) = (fixer.registry, fixer.rt);
    let core = registry.schema(&rt.schema);
    let moves: Vec<(String, &str, &str)> = obj
        .keys()
        .filter(|k| !k.contains(':') && !k.eq_ignore_ascii_case("schemas"))
        .filter(|k| {
            let common = registry
                .common_attributes()
                .iter()
                .any(|a| a.name.eq_ignore_ascii_case(k));
            !common && core.is_some_and(|c| c.attribute(k).is_none())
        })
        .filter_map(|k| {
            rt.extensions
                .iter()
                .filter_map(|e| registry.schema(&e.schema))
                .find_map(|s| {
                    s.attribute(k)
                        .map(|a| (k.clone(), s.id.as_str(), a.name.as_str()))
                })
        })
        .collect();
    for (key, urn, name) in moves {
        let ext_key = key_ci(obj, urn).cloned().unwrap_or_else(|| urn.to_string());
        let holder = obj
            .entry(ext_key)
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(holder) = holder else {
            continue;
        };
        if key_ci(holder, name).is_some() {
            continue;
        }
        if let Some(v) = obj.shift_remove(&key) {
            if let Some(Value::Object(holder)) = get_ci_mut(obj, urn) {
                holder.insert(name.to_string(), v);
            }
            fixer.applied.record(Rule::UnqualifiedExtensionAttrs);
            list_schema(obj, urn);
        }
    }
}

/// Adds `urn` to `schemas` when it is an array without it.
fn list_schema(obj: &mut Map<String, Value>, urn: &str) {
    if let Some(Value::Array(list)) = get_ci_mut(obj, "schemas") {
        let listed = list
            .iter()
            .any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(urn)));
        if !listed {
            list.push(Value::String(urn.to_string()));
        }
    }
}
