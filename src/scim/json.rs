//! Case-insensitive access to JSON object members.
//!
//! SCIM attribute names are case-insensitive (RFC 7643 §2.1), so a client
//! may send `UserName` for `userName`. These helpers find members ignoring
//! ASCII case, preferring an exact match.
use serde_json::{Map, Value};

/// Objects of up to this many members are searched by comparing names
/// rather than by hashing: SipHash of one name costs more than a dozen
/// comparisons of short names that mostly differ in length, and SCIM
/// objects are mostly that small (the mapping engine looks members up
/// several times per rule).
const LINEAR: usize = 16;

/// The place of the member named `name` in a small object: the exact
/// spelling, else the first one equal ignoring case.
fn position_ci<'a>(keys: impl Iterator<Item = &'a String>, name: &str) -> Option<usize> {
    let mut found = None;
    for (i, k) in keys.enumerate() {
        if k.eq_ignore_ascii_case(name) {
            if k == name {
                return Some(i);
            }
            found = found.or(Some(i));
        }
    }
    found
}

/// The key of `obj` equal to `name` ignoring case (exact match first).
pub(crate) fn key_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a String> {
    if obj.len() <= LINEAR {
        let i = position_ci(obj.keys(), name)?;
        return obj.keys().nth(i);
    }
    if let Some((k, _)) = obj.get_key_value(name) {
        return Some(k);
    }
    obj.keys().find(|k| k.eq_ignore_ascii_case(name))
}

/// The member of `obj` named `name`, ignoring case.
pub(crate) fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if obj.len() <= LINEAR {
        let i = position_ci(obj.keys(), name)?;
        return obj.values().nth(i);
    }
    match obj.get(name) {
        Some(v) => Some(v),
        None => obj
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v),
    }
}

/// The member of `obj` named `name`, ignoring case, mutably.
pub(crate) fn get_ci_mut<'a>(obj: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    if obj.len() <= LINEAR {
        let i = position_ci(obj.keys(), name)?;
        return obj.values_mut().nth(i);
    }
    let key = key_ci(obj, name)?.clone();
    obj.get_mut(&key)
}

/// Removes the member named `name` (ignoring case), returning its value.
pub(crate) fn remove_ci(obj: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = key_ci(obj, name)?;
    if key == name {
        return obj.shift_remove(name);
    }
    let key = key.clone();
    obj.shift_remove(&key)
}

/// Inserts `value` under `name`, replacing a member whose name differs only
/// in case (the canonical spelling `name` wins).
pub(crate) fn insert_ci(obj: &mut Map<String, Value>, name: &str, value: Value) {
    if let Some(old) = key_ci(obj, name).cloned() {
        if old != name {
            obj.shift_remove(&old);
        }
    }
    obj.insert(name.to_string(), value);
}

/// Checks that a protocol message (PatchOp, SearchRequest, BulkRequest)
/// lists its message schema URN in `schemas`; else 400 `invalidSyntax`
/// naming the message and the URN.
pub(crate) fn require_message_schema(
    obj: &Map<String, Value>,
    urn: &str,
    message: &str,
) -> crate::scim::error::ScimResult<()> {
    let listed = get_ci(obj, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter()
                .any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(urn)))
        });
    if listed {
        Ok(())
    } else {
        Err(crate::scim::error::ScimError::invalid_syntax(format!(
            "a {message} must have schemas [\"{urn}\"]"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_members_ignoring_case() {
        let mut v = json!({"UserName": "a", "userName2": 1});
        let obj = v.as_object_mut().map(std::mem::take).unwrap_or_default();
        let mut obj = obj;
        assert_eq!(get_ci(&obj, "username"), Some(&json!("a")));
        insert_ci(&mut obj, "userName", json!("b"));
        assert_eq!(obj.get("userName"), Some(&json!("b")));
        assert!(obj.get("UserName").is_none());
        assert_eq!(remove_ci(&mut obj, "USERNAME2"), Some(json!(1)));
        assert!(get_ci_mut(&mut obj, "missing").is_none());
    }

    /// Small objects are searched linearly, large ones by hash first: both
    /// prefer the exact spelling, else the first equal ignoring case.
    #[test]
    fn small_and_large_objects_find_the_same_member() {
        for extra in [0, 40] {
            let mut obj = Map::new();
            for i in 0..extra {
                obj.insert(format!("filler{i}"), Value::from(i));
            }
            obj.insert("TITLE".into(), json!(1));
            obj.insert("Title".into(), json!(2));
            obj.insert("title".into(), json!(3));
            assert_eq!(key_ci(&obj, "title").map(String::as_str), Some("title"));
            assert_eq!(get_ci(&obj, "title"), Some(&json!(3)));
            assert_eq!(get_ci(&obj, "tItle"), Some(&json!(1)));
            assert_eq!(get_ci_mut(&mut obj, "Title"), Some(&mut json!(2)));
            assert_eq!(get_ci_mut(&mut obj, "tItle"), Some(&mut json!(1)));
            assert_eq!(remove_ci(&mut obj, "tiTLE"), Some(json!(1)));
            assert_eq!(remove_ci(&mut obj, "title"), Some(json!(3)));
            assert_eq!(get_ci(&obj, "TITLE"), Some(&json!(2)));
            assert_eq!(get_ci(&obj, "nothing"), None);
        }
    }
}
