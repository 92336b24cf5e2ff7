//! The structural comparison of the primary's answer with the shadow's,
//! both in the tenant's view with ids as keys (`ids`): what differs is
//! named by attribute path, never by value, so a difference can be
//! counted and logged without personal data.
//!
//! SCIM's rules, not byte equality: attribute names compare ignoring case
//! (RFC 7643 §2.1); an absent attribute, `null`, `[]` and `{}` are the
//! same (§2.5); a multi-valued attribute is a set, its order is not
//! compared (§2.4); `schemas` compares ignoring case and order; the
//! volatile attributes (`meta.created`, `meta.lastModified`,
//! `meta.version`, `meta.location`) and the tenant's `ignore` paths are
//! skipped.
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The paths always skipped: they differ between any two backends.
pub const VOLATILE: [&str; 4] = [
    "meta.created",
    "meta.lastmodified",
    "meta.version",
    "meta.location",
];

/// The most paths one comparison names (the rest are counted as one).
const MAX_PATHS: usize = 32;

/// Attribute paths (lower case, `.` between names, `:` after a schema
/// URN) where `a` and `b` differ, skipping `ignore` (lower case) and
/// everything below an ignored path.
pub fn differences(a: &Value, b: &Value, ignore: &[String]) -> Vec<String> {
    let mut out = BTreeSet::new();
    walk("", a, b, ignore, &mut out);
    let mut paths: Vec<String> = out.iter().map(|p| shown(p)).collect();
    if paths.len() > MAX_PATHS {
        paths.truncate(MAX_PATHS);
        paths.push("(more)".into());
    }
    paths
}

fn ignored(path: &str, ignore: &[String]) -> bool {
    // Every volatile path is below `meta` (of a resource, or of a list's).
    let maybe_volatile = path.starts_with("meta") || path.starts_with("resources.meta");
    if !maybe_volatile && ignore.is_empty() {
        return false;
    }
    let shown = shown(path);
    // A ListResponse's resources are compared like resources.
    let own = shown.strip_prefix("resources.").unwrap_or(&shown);
    VOLATILE.contains(&own) || ignore.iter().any(|i| i == own)
}

/// A path as it is shown and configured (the URN marker as `:`).
fn shown(path: &str) -> String {
    path.replace(URN_END, ":")
}

/// The path of `name` below `parent`: a schema extension's attributes
/// after its URN and `:` (RFC 7644 §3.10), others after `.`.
fn child(parent: &str, name: &str) -> String {
    let name = name.to_ascii_lowercase();
    if parent.is_empty() {
        name
    } else if parent.starts_with("urn:") && !parent.contains(URN_END) {
        format!("{parent}{URN_END}{name}")
    } else {
        format!("{parent}.{name}")
    }
}

/// What ends a schema URN in a path (a URN has no `:` followed by a
/// lower-case attribute and a `.`, but a path below an extension's
/// attribute does: the marker is the first attribute's separator).
const URN_END: char = '\u{1f}';

fn empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.values().all(|v| empty(Some(v))),
        _ => false,
    }
}

fn walk(path: &str, a: &Value, b: &Value, ignore: &[String], out: &mut BTreeSet<String>) {
    if !path.is_empty() && ignored(path, ignore) {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => objects(path, x, y, ignore, out),
        (Value::Array(x), Value::Array(y)) => {
            if path == "schemas" {
                let set = |v: &Vec<Value>| -> BTreeSet<String> {
                    v.iter()
                        .map(|s| s.as_str().unwrap_or_default().to_ascii_lowercase())
                        .collect()
                };
                if set(x) != set(y) {
                    out.insert(path.to_string());
                }
            } else if !same_set(path, x, y, ignore) {
                // Which sub-attributes differ, when both hold objects.
                let before = out.len();
                if x.len() == y.len() {
                    for (p, q) in sorted(x, ignore).iter().zip(sorted(y, ignore).iter()) {
                        walk(path, p, q, ignore, out);
                    }
                }
                if out.len() == before {
                    out.insert(path.to_string());
                }
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            if x.as_f64() != y.as_f64() {
                out.insert(or_root(path));
            }
        }
        _ if empty(Some(a)) && empty(Some(b)) => {}
        _ => {
            if a != b {
                out.insert(or_root(path));
            }
        }
    }
}

fn or_root(path: &str) -> String {
    if path.is_empty() {
        "(body)".into()
    } else {
        path.to_string()
    }
}

fn objects(
    path: &str,
    x: &Map<String, Value>,
    y: &Map<String, Value>,
    ignore: &[String],
    out: &mut BTreeSet<String>,
) {
    // Each name once, ignoring case: x's, then y's that x lacks.
    let names = x.keys().chain(
        y.keys()
            .filter(|k| !x.keys().any(|n| n.eq_ignore_ascii_case(k))),
    );
    for name in names {
        let p = child(path, name);
        let (u, v) = (get(x, name), get(y, name));
        if ignored(&p, ignore) {
            continue;
        }
        match (u, v) {
            (Some(u), Some(v)) => walk(&p, u, v, ignore, out),
            (u, v) => {
                if !(empty(u) && empty(v)) {
                    out.insert(p);
                }
            }
        }
    }
}

fn get<'a>(o: &'a Map<String, Value>, lower: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(lower))
        .map(|(_, v)| v)
}

/// The canonical text of a value for set comparison: object names lower
/// case and sorted, empty members dropped, ignored members skipped.
fn canonical(path: &str, v: &Value, ignore: &[String]) -> Value {
    match v {
        Value::Object(o) => {
            let mut members: Vec<(String, Value)> = o
                .iter()
                .filter(|(_, v)| !empty(Some(v)))
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .filter(|(k, _)| !ignored(&child(path, k), ignore))
                .map(|(k, v)| {
                    let c = canonical(&child(path, &k), v, ignore);
                    (k, c)
                })
                .collect();
            members.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(members.into_iter().collect())
        }
        Value::Array(a) => {
            let mut items: Vec<Value> = a.iter().map(|v| canonical(path, v, ignore)).collect();
            items.sort_by_key(|v| v.to_string());
            Value::Array(items)
        }
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Number(n.clone()), Value::Number),
        other => other.clone(),
    }
}

fn same_set(path: &str, x: &[Value], y: &[Value], ignore: &[String]) -> bool {
    if x.len() != y.len() {
        return false;
    }
    // The same values in the same order (the common case) need no
    // canonical form.
    if x == y && ignore.is_empty() && !path.starts_with("resources") {
        return true;
    }
    let key = |v: &Value| canonical(path, v, ignore).to_string();
    let mut a: Vec<String> = x.iter().map(key).collect();
    let mut b: Vec<String> = y.iter().map(key).collect();
    a.sort();
    b.sort();
    a == b
}

fn sorted(x: &[Value], ignore: &[String]) -> Vec<Value> {
    let mut items: Vec<Value> = x.iter().map(|v| canonical("", v, ignore)).collect();
    items.sort_by_key(|v| v.to_string());
    items
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scim_equal_answers_have_no_difference() {
        let a = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "k1", "userName": "bjensen",
            "emails": [{"value": "a@x", "type": "work"}, {"value": "b@x", "type": "home"}],
            "meta": {"resourceType": "User", "created": "2026-01-01T00:00:00Z", "version": "W/\"1\""},
            "nickName": null,
        });
        let b = json!({
            "schemas": ["URN:IETF:params:scim:schemas:core:2.0:User"],
            "ID": "k1", "username": "bjensen",
            "emails": [{"type": "home", "value": "b@x"}, {"value": "a@x", "type": "work", "display": null}],
            "meta": {"resourceType": "User", "created": "2026-12-07T00:00:00Z", "lastModified": "x"},
            "groups": [],
        });
        assert!(
            differences(&a, &b, &[]).is_empty(),
            "{:?}",
            differences(&a, &b, &[])
        );
    }

    #[test]
    fn differences_are_named_by_path_never_by_value() {
        let a = json!({
            "userName": "bjensen", "title": "Tour Guide",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tours"},
            "emails": [{"value": "a@x", "type": "work"}],
            "meta": {"resourceType": "User"},
        });
        let b = json!({
            "userName": "bjensen",
            "name": {"givenName": "Babs", "familyName": "Jensen"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"},
            "emails": [{"value": "c@x", "type": "work"}],
            "meta": {"resourceType": "Group"},
        });
        let paths = differences(&a, &b, &[]);
        assert_eq!(
            paths,
            vec![
                "emails.value",
                "meta.resourcetype",
                "name.givenname",
                "title",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department",
            ]
        );
        let text = paths.join(" ");
        for value in [
            "Barbara",
            "Babs",
            "Tours",
            "Sales",
            "a@x",
            "c@x",
            "Tour Guide",
        ] {
            assert!(!text.contains(value));
        }
        assert_eq!(
            differences(&a, &b, &["title".into(), "name".into()]).len(),
            3
        );
    }

    #[test]
    fn sets_of_different_sizes_and_scalars_at_the_root_are_named() {
        let a = json!({"members": [{"value": "1"}, {"value": "2"}]});
        let b = json!({"members": [{"value": "1"}]});
        assert_eq!(differences(&a, &b, &[]), vec!["members"]);
        assert_eq!(differences(&json!(1), &json!(2), &[]), vec!["(body)"]);
        assert_eq!(
            differences(&json!({"a": 1.0}), &json!({"a": 1}), &[]).len(),
            0
        );
    }
}
