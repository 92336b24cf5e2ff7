//! Group membership: checking and completing `members` on writes, the
//! direct-membership index, and each User's read-only `groups` (RFC 7643
//! §4.1.2: "groups ... read-only ... changes to group membership should be
//! made via the Group resource").
use super::state::{Kind, State};
use crate::scim::error::{ScimError, ScimResult};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// Checks and completes the `members` of a Group about to be stored:
/// every `value` must name an existing User or Group (not the Group
/// itself) and `type` is set from what it names; `display` is kept as the
/// client sent it; duplicates are merged. Returns the member ids.
pub(crate) fn complete_members(
    state: &State,
    group_id: &str,
    group: &mut Value,
) -> ScimResult<BTreeSet<String>> {
    let mut ids = BTreeSet::new();
    let Some(members) = group.get_mut("members").and_then(Value::as_array_mut) else {
        return Ok(ids);
    };
    let mut kept = Vec::with_capacity(members.len());
    for member in members.drain(..) {
        let Value::Object(mut m) = member else {
            return Err(ScimError::invalid_value(
                "members: each member must be an object",
            ));
        };
        let id = m
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| ScimError::invalid_value("members.value is required"))?
            .to_string();
        if id == group_id {
            return Err(ScimError::invalid_value(format!(
                "members: a Group cannot be a member of itself (value \"{id}\")"
            )));
        }
        let kind = state.kind_of(&id).ok_or_else(|| {
            ScimError::invalid_value(format!(
                "members: no User or Group has the id \"{id}\" (members.value)"
            ))
        })?;
        if let Some(t) = m.get("type").and_then(Value::as_str) {
            if !t.eq_ignore_ascii_case(kind.name()) {
                return Err(ScimError::invalid_value(format!(
                    "members: \"{id}\" is a {}, not a {t} (members.type)",
                    kind.name()
                )));
            }
        }
        if !ids.insert(id.clone()) {
            continue;
        }
        m.insert("type".into(), json!(kind.name()));
        m.shift_remove("$ref");
        kept.push(Value::Object(m));
    }
    *members = kept;
    if members.is_empty() {
        if let Value::Object(g) = group {
            g.shift_remove("members");
        }
    }
    Ok(ids)
}

/// The member ids of a stored Group.
pub(crate) fn member_ids(group: &Value) -> BTreeSet<String> {
    group
        .get("members")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Updates the membership index after Group `group_id`'s members changed
/// from `old` to `new`; every member whose `groups` changed gets a new
/// version (its representation changed).
pub(crate) fn reindex(
    state: &mut State,
    group_id: &str,
    old: &BTreeSet<String>,
    new: &BTreeSet<String>,
    now: &str,
) {
    for gone in old.difference(new) {
        if let Some(set) = state.member_of.get_mut(gone) {
            set.remove(group_id);
            if set.is_empty() {
                state.member_of.remove(gone);
            }
        }
        touch(state, gone, now);
    }
    for added in new.difference(old) {
        state
            .member_of
            .entry(added.clone())
            .or_default()
            .insert(group_id.to_string());
        touch(state, added, now);
    }
}

/// Removes every trace of a deleted resource from the membership data: a
/// deleted member leaves the Groups it was in; a deleted Group's members
/// lose it from their `groups`.
pub(crate) fn forget(state: &mut State, kind: Kind, id: &str, deleted: &Value, now: &str) {
    if let Some(parents) = state.member_of.remove(id) {
        for gid in parents {
            let version = state.new_version();
            if let Some(entry) = state.groups.by_id.get_mut(&gid) {
                entry.member_pos = None;
                let g = &mut entry.resource;
                if let Some(ms) = g.get_mut("members").and_then(Value::as_array_mut) {
                    ms.retain(|m| m.get("value").and_then(Value::as_str) != Some(id));
                    if ms.is_empty() {
                        if let Value::Object(o) = g {
                            o.shift_remove("members");
                        }
                    }
                }
                set_modified(g, now, version);
            }
        }
    }
    if kind == Kind::Group {
        reindex(state, id, &member_ids(deleted), &BTreeSet::new(), now);
    }
}

/// The `groups` of member `id` as rendered under `base_url`.
pub(crate) fn groups_of(state: &State, id: &str, base_url: &str) -> Option<Value> {
    let parents = state.member_of.get(id)?;
    let list: Vec<Value> = parents
        .iter()
        .filter_map(|gid| {
            let g = &state.groups.by_id.get(gid)?.resource;
            let mut o = Map::new();
            o.insert("value".into(), json!(gid));
            o.insert("$ref".into(), json!(format!("{base_url}/Groups/{gid}")));
            if let Some(d) = g.get("displayName") {
                o.insert("display".into(), d.clone());
            }
            o.insert("type".into(), json!("direct"));
            Some(Value::Object(o))
        })
        .collect();
    (!list.is_empty()).then_some(Value::Array(list))
}

/// Gives User `id` a new version: its `groups` changed through a Group.
/// (Groups have no `groups` attribute, so a nested Group is unchanged.)
pub(crate) fn touch(state: &mut State, id: &str, now: &str) {
    if state.kind_of(id) != Some(Kind::User) {
        return;
    }
    let version = state.new_version();
    if let Some(entry) = state.users.by_id.get_mut(id) {
        set_modified(&mut entry.resource, now, version);
    }
}

/// Sets `meta.lastModified` and `meta.version`.
pub(crate) fn set_modified(resource: &mut Value, now: &str, version: String) {
    if let Some(Value::Object(meta)) = resource.get_mut("meta") {
        meta.insert("lastModified".into(), json!(now));
        meta.insert("version".into(), Value::String(version));
    }
}

/// Gives every direct User member of Group `group_id` a new version (their
/// `groups.display` changed with the Group's name).
pub(crate) fn touch_members(state: &mut State, group_id: &str, now: &str) {
    let ids: Vec<String> = state
        .groups
        .by_id
        .get(group_id)
        .map(|e| member_ids(&e.resource).into_iter().collect())
        .unwrap_or_default();
    for id in ids {
        touch(state, &id, now);
    }
}
