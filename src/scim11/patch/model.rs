//! A model of a SCIM 1.1 service's PATCH (SCIM 1.1 API §3.3.2), for
//! checking that translated bodies mean what the 2.0 operations meant:
//! remove what `meta.attributes` lists, then merge the body (singular
//! attributes replaced, sub-attributes merged, multi-valued elements added,
//! merged or deleted by `value`).
#![allow(clippy::unwrap_used, clippy::expect_used)]
use crate::scim::json::{get_ci, get_ci_mut, insert_ci, remove_ci};
use crate::scim::path::{has_urn_prefix, AttrPath};
use serde_json::{Map, Value};

pub(super) fn apply_scim11_patch(resource: &Value, body: &Value) -> Value {
    let mut out = resource.as_object().cloned().unwrap_or_default();
    let body = body.as_object().cloned().unwrap_or_default();
    let removals: Vec<String> = body
        .get("meta")
        .and_then(|m| m.get("attributes"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for name in &removals {
        let path = AttrPath::parse(name).unwrap();
        let holder = match &path.urn {
            None => Some(&mut out),
            Some(urn) => get_ci_mut(&mut out, urn).and_then(Value::as_object_mut),
        };
        let Some(holder) = holder else { continue };
        match &path.sub_attr {
            None => {
                remove_ci(holder, &path.attr);
            }
            Some(sub) => {
                if let Some(Value::Object(parent)) = get_ci_mut(holder, &path.attr) {
                    remove_ci(parent, sub);
                }
            }
        }
    }
    let merged: Map<String, Value> = body
        .into_iter()
        .filter(|(k, _)| k != "schemas" && k != "meta")
        .collect();
    merge(&mut out, &merged, &removals, None);
    tidy(&mut out);
    Value::Object(out)
}

fn merge(
    target: &mut Map<String, Value>,
    body: &Map<String, Value>,
    removals: &[String],
    urn: Option<&str>,
) {
    for (key, value) in body {
        match value {
            Value::Object(inner) if has_urn_prefix(key) => {
                let holder = object(target, key);
                merge(holder, inner, removals, Some(key));
            }
            Value::Array(elements) => {
                let qualified = match urn {
                    Some(u) => format!("{u}:{key}"),
                    None => key.clone(),
                };
                let listed = removals.iter().any(|r| r.eq_ignore_ascii_case(&qualified));
                if !matches!(get_ci(target, key), Some(Value::Array(_))) {
                    insert_ci(target, key, Value::Array(Vec::new()));
                }
                let Some(Value::Array(list)) = get_ci_mut(target, key) else {
                    unreachable!()
                };
                for element in elements {
                    let v = element.get("value");
                    let delete = element.get("operation").and_then(Value::as_str) == Some("delete");
                    if delete {
                        if !listed {
                            list.retain(|e| e.get("value") != v);
                        }
                        continue;
                    }
                    match list.iter_mut().find(|e| v.is_some() && e.get("value") == v) {
                        Some(Value::Object(existing)) => {
                            for (k, x) in element.as_object().unwrap() {
                                insert_ci(existing, k, x.clone());
                            }
                        }
                        _ => list.push(element.clone()),
                    }
                }
            }
            Value::Object(subs) => {
                let holder = object(target, key);
                for (k, x) in subs {
                    insert_ci(holder, k, x.clone());
                }
            }
            other => insert_ci(target, key, other.clone()),
        }
    }
}

fn object<'a>(target: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    if !matches!(get_ci(target, key), Some(Value::Object(_))) {
        insert_ci(target, key, Value::Object(Map::new()));
    }
    get_ci_mut(target, key)
        .and_then(Value::as_object_mut)
        .unwrap()
}

/// Unassigned values are absent (RFC 7643 §2.5; 1.1 Core Schema §3).
fn tidy(obj: &mut Map<String, Value>) {
    obj.retain(|_, v| {
        if let Value::Object(inner) = v {
            tidy(inner);
        }
        !(v.is_null()
            || matches!(v, Value::Array(a) if a.is_empty())
            || matches!(v, Value::Object(o) if o.is_empty()))
    });
}

/// A resource without what each side manages on its own (`schemas`,
/// `meta`), for comparison.
pub(super) fn comparable(resource: &Value) -> Value {
    let mut obj = resource.as_object().cloned().unwrap_or_default();
    obj.remove("schemas");
    obj.remove("meta");
    tidy(&mut obj);
    Value::Object(obj)
}
