//! Case-insensitive access to JSON object members.
//!
//! SCIM attribute names are case-insensitive (RFC 7643 §2.1), so a client
//! may send `UserName` for `userName`. These helpers find members ignoring
//! ASCII case, preferring an exact match.
use serde_json::{Map, Value};

/// The key of `obj` equal to `name` ignoring case (exact match first).
pub(crate) fn key_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a String> {
    if let Some((k, _)) = obj.get_key_value(name) {
        return Some(k);
    }
    obj.keys().find(|k| k.eq_ignore_ascii_case(name))
}

/// The member of `obj` named `name`, ignoring case.
pub(crate) fn get_ci<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
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
    let key = key_ci(obj, name)?.clone();
    obj.get_mut(&key)
}

/// Removes the member named `name` (ignoring case), returning its value.
pub(crate) fn remove_ci(obj: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = key_ci(obj, name)?.clone();
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
}
