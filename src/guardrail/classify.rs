//! Which writes deprovision, and how many deprovisions each one is.
//!
//! Read from the request as the tenant's client sent it (after the IdP
//! dialect, before mapping), in the tenant's names. The reading errs on
//! the side of counting: a body that sets `active` to false anywhere the
//! upstream could take it from counts, even when a later operation of the
//! same PATCH sets it back, because a backend may apply operations
//! differently from how the gateway reads them. A body that does not
//! parse is not classified here: the schema stage (or the upstream)
//! refuses it.
use super::settings::GuardrailSettings;
use crate::scim::json::get_ci;
use serde_json::{Map, Value};

/// The core User schema, whose attributes may be named in full.
const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// What a request does to a resource, as the guardrail reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A User, by id.
    User,
    /// A Group, by id.
    Group(&'a str),
    /// Anything else: never a deprovision.
    Other,
}

/// A deprovisioning request: what it is and how many deprovisions it
/// counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deprovision {
    pub kind: Kind,
    /// Deprovisions this request counts for (at least 1).
    pub weight: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `DELETE /Users/{id}`.
    UserDelete,
    /// `active` set to false (PUT or PATCH) or removed.
    UserDeactivate,
    /// Members removed from a privileged group, or its membership
    /// replaced.
    PrivilegedMembers,
    /// A privileged group deleted.
    PrivilegedGroupDelete,
    /// A Bulk request holding deprovisions (their weights summed).
    Bulk,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::UserDelete => "user_delete",
            Kind::UserDeactivate => "user_deactivate",
            Kind::PrivilegedMembers => "privileged_members",
            Kind::PrivilegedGroupDelete => "privileged_group_delete",
            Kind::Bulk => "bulk",
        }
    }
}

/// A body with a member name twice in one object (ignoring case, as SCIM
/// names compare): a backend may take either, so what it would do cannot
/// be told, and a guarded tenant's write is refused (400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ambiguous(pub String);

/// Classifies one write to `target` (`method` uppercase, `body` the
/// request's JSON, empty for DELETE).
pub fn classify(
    settings: &GuardrailSettings,
    target: Target<'_>,
    method: &str,
    body: &[u8],
) -> Result<Option<Deprovision>, Ambiguous> {
    let candidate = match (target, method) {
        (Target::User, "PUT" | "PATCH") => true,
        (Target::Group(id), "PATCH") => settings.privileged(id),
        _ => false,
    };
    let parsed = if candidate {
        match parse_unique(body) {
            Ok(v) => Some(v),
            Err(ParseError::Duplicate(name)) => return Err(Ambiguous(name)),
            // Not JSON: the schema stage (or the upstream) refuses it.
            Err(ParseError::Syntax) => None,
        }
    } else {
        None
    };
    let parsed = || parsed.clone();
    Ok(match (target, method) {
        (Target::User, "DELETE") => Some(one(Kind::UserDelete)),
        (Target::User, "PUT") => parsed()
            .filter(|v| v.as_object().is_some_and(resource_deactivates))
            .map(|_| one(Kind::UserDeactivate)),
        (Target::User, "PATCH") => parsed()
            .filter(patch_deactivates)
            .map(|_| one(Kind::UserDeactivate)),
        (Target::Group(id), "DELETE") if settings.privileged(id) => {
            Some(one(Kind::PrivilegedGroupDelete))
        }
        // A PUT replaces the membership: it may remove anyone.
        (Target::Group(id), "PUT") if settings.privileged(id) => Some(one(Kind::PrivilegedMembers)),
        (Target::Group(id), "PATCH") if settings.privileged(id) => {
            let removed = parsed().map_or(0, |v| members_removed(&v));
            (removed > 0).then_some(Deprovision {
                kind: Kind::PrivilegedMembers,
                weight: removed,
            })
        }
        _ => None,
    })
}

/// Classifies a Bulk request's operations, `target_of` naming what each
/// operation's `path` (`/Users/{id}`) addresses: the deprovisions summed.
pub fn classify_bulk<'a>(
    settings: &GuardrailSettings,
    body: &'a Value,
    target_of: impl Fn(&'a str) -> Target<'a>,
) -> Result<Option<Deprovision>, Ambiguous> {
    let Some(ops) = body
        .as_object()
        .and_then(|o| get_ci(o, "Operations"))
        .and_then(Value::as_array)
    else {
        return Ok(None);
    };
    let mut weight: u32 = 0;
    for op in ops {
        let Some(op) = op.as_object() else { continue };
        let method = get_ci(op, "method").and_then(Value::as_str).unwrap_or("");
        let path = get_ci(op, "path").and_then(Value::as_str).unwrap_or("");
        let data = get_ci(op, "data")
            .map(|d| serde_json::to_vec(d).unwrap_or_default())
            .unwrap_or_default();
        let method = method.to_ascii_uppercase();
        if let Some(d) = classify(settings, target_of(path), &method, &data)? {
            weight = weight.saturating_add(d.weight);
        }
    }
    Ok((weight > 0).then_some(Deprovision {
        kind: Kind::Bulk,
        weight,
    }))
}

/// Why [`parse_unique`] failed.
#[derive(Debug)]
pub enum ParseError {
    Syntax,
    /// This name twice in one object (ignoring case).
    Duplicate(String),
}

/// `body` parsed, refusing an object with a member name twice (ignoring
/// case): `serde_json` would keep the last silently.
pub fn parse_unique(body: &[u8]) -> Result<Value, ParseError> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(body);
    let dup = std::cell::RefCell::new(None);
    let value = Unique(&dup).deserialize(&mut de);
    if let Some(name) = dup.into_inner() {
        return Err(ParseError::Duplicate(name));
    }
    let value = value.map_err(|_| ParseError::Syntax)?;
    de.end().map_err(|_| ParseError::Syntax)?;
    Ok(value)
}

/// A value whose objects have unique names; the first duplicate's name
/// is left in the cell (and the parse fails).
struct Unique<'c>(&'c std::cell::RefCell<Option<String>>);

impl<'de> serde::de::DeserializeSeed<'de> for Unique<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Unique<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Unique(self.0))? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.to_ascii_lowercase()) {
                *self.0.borrow_mut() = Some(key);
                return Err(serde::de::Error::custom("duplicate member name"));
            }
            let value = map.next_value_seed(Unique(self.0))?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

fn one(kind: Kind) -> Deprovision {
    Deprovision { kind, weight: 1 }
}

/// `false`, or a string a lenient backend reads as false.
fn is_false(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::String(s) => s.trim().eq_ignore_ascii_case("false"),
        // `[false]`: a single-valued attribute sent as a one-element list.
        Value::Array(items) => items.len() == 1 && is_false(&items[0]),
        _ => false,
    }
}

/// A resource (or a path-less PATCH value) whose `active` is false, by its
/// short name or in the core User schema's object or full name; every
/// spelling of the name is looked at (a body with the name twice counts
/// if either is false).
fn resource_deactivates(obj: &Map<String, Value>) -> bool {
    obj.iter().any(|(k, v)| {
        (is_active_name(k) && is_false(v))
            || (k.eq_ignore_ascii_case(USER_URN) && v.as_object().is_some_and(resource_deactivates))
    })
}

/// `active`, or `urn:...:core:2.0:User:active`.
fn is_active_name(name: &str) -> bool {
    let name = name.trim();
    if name.eq_ignore_ascii_case("active") {
        return true;
    }
    name.len() == USER_URN.len() + ":active".len()
        && name[..USER_URN.len()].eq_ignore_ascii_case(USER_URN)
        && name[USER_URN.len()..].eq_ignore_ascii_case(":active")
}

/// A PATCH with any operation that sets `active` to false or removes it.
fn patch_deactivates(v: &Value) -> bool {
    operations(v).any(|(op, path, value)| match path {
        Some(p) if is_active_name(p) => {
            op.eq_ignore_ascii_case("remove") || value.is_some_and(is_false)
        }
        Some(_) => false,
        None => value
            .and_then(Value::as_object)
            .is_some_and(resource_deactivates),
    })
}

/// Members a PATCH of a group removes: each member a `remove` names (by a
/// `members[value eq ...]` filter or a value list), 1 for a `remove` of
/// all members or a `replace` of the membership.
fn members_removed(v: &Value) -> u32 {
    let mut removed: u32 = 0;
    for (op, path, value) in operations(v) {
        let path_is_members = path.is_some_and(|p| {
            let p = p.trim();
            p.len() >= 7 && p[..7].eq_ignore_ascii_case("members")
        });
        let n = if op.eq_ignore_ascii_case("remove") && path_is_members {
            let p = path.unwrap_or("");
            let named = count_ci(p, "value eq");
            let listed = value.and_then(Value::as_array).map_or(0, Vec::len);
            named.max(listed).max(1)
        } else if op.eq_ignore_ascii_case("replace")
            && (path_is_members
                || (path.is_none()
                    && value
                        .and_then(Value::as_object)
                        .is_some_and(|o| get_ci(o, "members").is_some())))
        {
            1
        } else {
            0
        };
        removed = removed.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
    }
    removed
}

/// Each operation of a PatchOp: its `op`, `path` and `value`.
fn operations(v: &Value) -> impl Iterator<Item = (&str, Option<&str>, Option<&Value>)> {
    v.as_object()
        .and_then(|o| get_ci(o, "Operations"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|op| {
            (
                get_ci(op, "op").and_then(Value::as_str).unwrap_or(""),
                get_ci(op, "path").and_then(Value::as_str),
                get_ci(op, "value"),
            )
        })
}

fn count_ci(haystack: &str, needle: &str) -> usize {
    let (h, n) = (haystack.to_ascii_lowercase(), needle.to_ascii_lowercase());
    // `value eq` with any run of spaces between the two words.
    let squeezed: String = h.split_whitespace().collect::<Vec<_>>().join(" ");
    squeezed.matches(n.as_str()).count()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::guardrail::settings::Mode;
    use serde_json::json;
    use std::time::Duration;

    fn settings() -> GuardrailSettings {
        GuardrailSettings {
            max_deprovisions: 5,
            window: Duration::from_secs(3600),
            mode: Mode::Hold,
            privileged_groups: vec!["admins".into()],
            retry_after: Duration::from_secs(300),
        }
    }

    fn user(method: &str, body: Value) -> Option<Deprovision> {
        classify(
            &settings(),
            Target::User,
            method,
            body.to_string().as_bytes(),
        )
        .unwrap()
    }

    fn patch(ops: Value) -> Value {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
    }

    #[test]
    fn every_form_of_deactivation_counts() {
        let deactivating = [
            patch(json!([{"op": "replace", "path": "active", "value": false}])),
            patch(json!([{"op": "Replace", "path": "ACTIVE", "value": "False"}])),
            patch(
                json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:active", "value": false}]),
            ),
            patch(json!([{"op": "replace", "value": {"active": false}}])),
            patch(
                json!([{"op": "add", "value": {"urn:ietf:params:scim:schemas:core:2.0:User:active": "false"}}]),
            ),
            patch(
                json!([{"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:User": {"active": false}}}]),
            ),
            patch(json!([{"op": "remove", "path": "active"}])),
            patch(json!([{"op": "replace", "path": "active", "value": [false]}])),
            // Set back later in the same PATCH: still counted.
            patch(json!([{"op": "replace", "path": "active", "value": false},
                         {"op": "replace", "path": "active", "value": true}])),
        ];
        for body in deactivating {
            assert_eq!(
                user("PATCH", body.clone()),
                Some(Deprovision {
                    kind: Kind::UserDeactivate,
                    weight: 1
                }),
                "{body}"
            );
        }
        assert!(user("PUT", json!({"userName": "a", "active": false})).is_some());
        assert!(user("PUT", json!({"userName": "a", "Active": "FALSE"})).is_some());
        // Duplicate names (ignoring case, at any depth): ambiguous.
        let dup = br#"{"userName":"a","active":false,"Active":true}"#;
        assert_eq!(
            classify(&settings(), Target::User, "PUT", dup),
            Err(Ambiguous("Active".into()))
        );
        let deep =
            br#"{"Operations":[{"op":"replace","path":"active","value":true,"value":false}]}"#;
        assert!(classify(&settings(), Target::User, "PATCH", deep).is_err());
        // Not JSON: left to the schema stage.
        assert_eq!(
            classify(&settings(), Target::User, "PUT", b"{oops"),
            Ok(None)
        );
        assert_eq!(
            user("DELETE", json!(null)).map(|d| d.kind),
            Some(Kind::UserDelete)
        );
    }

    #[test]
    fn other_writes_do_not_count() {
        let harmless = [
            patch(json!([{"op": "replace", "path": "active", "value": true}])),
            patch(json!([{"op": "replace", "path": "displayName", "value": "false"}])),
            patch(json!([{"op": "replace", "value": {"title": false}}])),
            patch(
                json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": false}]),
            ),
        ];
        for body in harmless {
            assert_eq!(user("PATCH", body.clone()), None, "{body}");
        }
        assert_eq!(user("PUT", json!({"userName": "a", "active": true})), None);
        assert_eq!(
            user("POST", json!({"userName": "a", "active": false})),
            None
        );
        assert_eq!(user("GET", json!(null)), None);
        assert_eq!(user("PATCH", json!("not an object")), None);
        // Another attribute named twice is just as ambiguous.
        let twice = br#"{"userName":"a","userName":"b"}"#;
        assert!(classify(&settings(), Target::User, "PUT", twice).is_err());
        // A DELETE has no body to read.
        assert_eq!(
            classify(&settings(), Target::User, "DELETE", b"{"),
            Ok(Some(one(Kind::UserDelete)))
        );
    }

    #[test]
    fn privileged_group_removals_count_per_member() {
        let s = settings();
        let g = |id, method, body: Value| {
            classify(&s, Target::Group(id), method, body.to_string().as_bytes()).unwrap()
        };
        let filter = patch(json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]));
        assert_eq!(
            g("admins", "PATCH", filter.clone()).map(|d| d.weight),
            Some(1)
        );
        let listed = patch(json!([{"op": "Remove", "path": "members",
            "value": [{"value": "u1"}, {"value": "u2"}, {"value": "u3"}]}]));
        assert_eq!(g("admins", "PATCH", listed).map(|d| d.weight), Some(3));
        let all = patch(json!([{"op": "remove", "path": "members"}]));
        assert_eq!(g("admins", "PATCH", all).map(|d| d.weight), Some(1));
        let replace = patch(json!([{"op": "replace", "value": {"members": []}}]));
        assert_eq!(
            g("admins", "PATCH", replace).map(|d| d.kind),
            Some(Kind::PrivilegedMembers)
        );
        let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": "u9"}]}]));
        assert_eq!(g("admins", "PATCH", add), None);
        assert_eq!(
            g("admins", "DELETE", json!(null)).map(|d| d.kind),
            Some(Kind::PrivilegedGroupDelete)
        );
        assert!(g("admins", "PUT", json!({"displayName": "admins"})).is_some());
        // Not privileged (ids are case-sensitive).
        assert_eq!(g("Admins", "DELETE", json!(null)), None);
        assert_eq!(g("staff", "PATCH", filter), None);
    }

    #[test]
    fn a_bulk_request_sums_its_deprovisions() {
        let s = settings();
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "DELETE", "path": "/Users/a"},
            {"method": "patch", "path": "/Users/b", "data": patch(json!([{"op": "replace", "path": "active", "value": false}]))},
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": {"userName": "n"}},
            {"method": "DELETE", "path": "/Groups/admins"},
            {"method": "DELETE", "path": "/Groups/staff"},
        ]});
        fn target_of(path: &str) -> Target<'_> {
            let mut parts = path.trim_start_matches('/').splitn(2, '/');
            match (parts.next(), parts.next()) {
                (Some("Users"), Some(_)) => Target::User,
                (Some("Groups"), Some(id)) => Target::Group(id),
                _ => Target::Other,
            }
        }
        let d = classify_bulk(&s, &body, target_of).unwrap().unwrap();
        assert_eq!((d.kind, d.weight), (Kind::Bulk, 3));
        let harmless = json!({"Operations": [{"method": "POST", "path": "/Users", "data": {}}]});
        assert_eq!(classify_bulk(&s, &harmless, target_of), Ok(None));
    }
}
