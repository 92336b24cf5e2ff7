//! Ids translated between a resource's key (what the IdP knows) and its
//! id at one upstream (`ids::IdMap`), in the tenant's view: on the way to
//! an upstream, the request's references (a Group's `members`, a PATCH's
//! member values and `members[value eq "..."]` paths); on the way back,
//! the answer's `id`, `meta.location`, `members` and `groups` (`value`
//! and `$ref`), in a resource or a ListResponse's `Resources`.
//!
//! Filters too (a list's `filter` query parameter, a search's body):
//! `id`, `members.value`, `members[value ...]` and `groups.value`
//! compared with `eq` or `ne` to a string; a Bulk request's operations
//! (path and data) and a Bulk response's (`location` and `response`).
use super::ids::{kind, IdMap};
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::path::AttrPath;
use serde_json::{Map, Value};

/// Which way.
#[derive(Debug, Clone, Copy)]
pub enum Way<'a> {
    /// Keys → the ids at this upstream.
    ToUpstream(&'a str),
    /// The ids at this upstream → keys.
    ToKey(&'a str),
}

impl Way<'_> {
    /// One id of a resource of `kind`.
    pub fn id(&self, map: &IdMap, kind: &str, id: &str) -> Option<String> {
        let out = match *self {
            Way::ToUpstream(u) => map.to_upstream(kind, id, u),
            Way::ToKey(u) => map.to_key(kind, u, id),
        };
        (out != id).then(|| out.to_string())
    }

    /// A member's id: of its `type` when given, else a User's, else a
    /// Group's.
    fn member(&self, map: &IdMap, member_type: Option<&str>, id: &str) -> Option<String> {
        match member_type {
            Some(t) if t.eq_ignore_ascii_case("group") => self.id(map, "groups", id),
            Some(t) if t.eq_ignore_ascii_case("user") => self.id(map, "users", id),
            _ => self
                .id(map, "users", id)
                .or_else(|| self.id(map, "groups", id)),
        }
    }
}

/// Whether translating for `upstream` can change anything.
pub fn needed(map: &IdMap, upstream: &str) -> bool {
    map.has_upstream(upstream)
}

/// The request body (POST, PUT, PATCH) to `endpoint`, translated in place;
/// `true` when something changed.
pub fn request(map: &IdMap, way: Way<'_>, endpoint: &str, body: &mut Value) -> bool {
    let Some(o) = body.as_object_mut() else {
        return false;
    };
    let mut changed = false;
    // A BulkRequest: each operation's path and data.
    if endpoint.eq_ignore_ascii_case("Bulk") {
        if let Some(Value::Array(ops)) = get_mut(o, "Operations") {
            for op in ops.iter_mut().filter_map(Value::as_object_mut) {
                let path = get(op, "path").and_then(Value::as_str).map(str::to_string);
                let Some(path) = path else { continue };
                let target = path.trim_start_matches('/');
                let (ty, id) = target.split_once('/').unwrap_or((target, ""));
                let ty = ty.to_string();
                if !id.is_empty() && !id.starts_with("bulkId:") {
                    if let Ok(decoded) = crate::scim::route::decode_segment(id) {
                        if let Some(new) = way.id(map, &kind(&ty), &decoded) {
                            set(op, "path", Value::String(format!("/{ty}/{}", encode(&new))));
                            changed = true;
                        }
                    }
                }
                if let Some(data) = get_mut(op, "data") {
                    changed |= request(map, way, &ty, data);
                }
            }
        }
        return changed;
    }
    // A PatchOp.
    if let Some(Value::Array(ops)) = get_mut(o, "Operations") {
        for op in ops.iter_mut().filter_map(Value::as_object_mut) {
            let path = get(op, "path").and_then(Value::as_str).map(str::to_string);
            if let Some(path) = &path {
                if let Some(p) = member_filter_path(map, way, path) {
                    set(op, "path", Value::String(p));
                    changed = true;
                }
            }
            let on_members = path.as_deref().map(is_members_path);
            let on_manager = path.as_deref().and_then(manager_path);
            match (on_members, on_manager, get_mut(op, "value")) {
                (Some(true), _, Some(v)) => changed |= members(map, way, v),
                // `...:manager` with `{"value": id}` or the id itself;
                // `...:manager.value` with the id.
                (_, Some(whole), Some(v)) => changed |= manager_value(map, way, v, whole),
                (None, _, Some(v @ Value::Object(_))) => {
                    if let Some(Value::Object(o)) = Some(&mut *v) {
                        if let Some(m) = get_mut(o, "members") {
                            changed |= members(map, way, m);
                        }
                    }
                    changed |= manager(map, way, v);
                }
                _ => {}
            }
        }
        return changed;
    }
    // A search's filter.
    if let Some(Value::String(f)) = get_mut(o, "filter") {
        if let Some(new) = filter(map, way, endpoint, f) {
            *f = new;
            changed = true;
        }
    }
    if let Some(m) = get_mut(o, "members") {
        changed |= members(map, way, m);
    }
    changed |= manager(map, way, body);
    changed
}

/// The enterprise extension's schema URN.
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A User's `manager` (in the enterprise extension's object, or written
/// fully qualified at the top), whose `value` is a User's id and `$ref`
/// its location.
fn manager(map: &IdMap, way: Way<'_>, body: &mut Value) -> bool {
    let Some(o) = body.as_object_mut() else {
        return false;
    };
    let mut changed = false;
    if let Some(Value::Object(ext)) = get_mut(o, ENTERPRISE) {
        if let Some(Value::Object(m)) = get_mut(ext, "manager") {
            changed |= reference(map, way, "users", m);
        }
    }
    let qualified = format!("{ENTERPRISE}:manager");
    if let Some(Value::Object(m)) = get_mut(o, &qualified) {
        changed |= reference(map, way, "users", m);
    }
    changed
}

/// `Some(true)` for a PATCH path naming the manager (`manager`, fully
/// qualified or not), `Some(false)` for its `value`.
fn manager_path(path: &str) -> Option<bool> {
    let p = path.trim();
    let p = match p.get(..ENTERPRISE.len()) {
        Some(head) if head.eq_ignore_ascii_case(ENTERPRISE) => {
            p.get(ENTERPRISE.len()..)?.strip_prefix(':')?
        }
        _ => p,
    };
    if p.eq_ignore_ascii_case("manager") {
        Some(true)
    } else if p.eq_ignore_ascii_case("manager.value") {
        Some(false)
    } else {
        None
    }
}

/// A PATCH value for the manager: the id itself, or (`whole`) an object
/// with it as `value`.
fn manager_value(map: &IdMap, way: Way<'_>, v: &mut Value, whole: bool) -> bool {
    match v {
        Value::String(id) => match way.id(map, "users", id) {
            Some(new) => {
                *id = new;
                true
            }
            None => false,
        },
        Value::Object(m) if whole => reference(map, way, "users", m),
        _ => false,
    }
}

/// A raw query string with its `filter` translated (`None`: unchanged).
/// Other parameters are kept as they were written.
pub fn query(map: &IdMap, way: Way<'_>, endpoint: &str, q: &str) -> Option<String> {
    let mut changed = false;
    let parts: Vec<String> = q
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if !crate::scim::query::decode(k).eq_ignore_ascii_case("filter") {
                return pair.to_string();
            }
            match filter(map, way, endpoint, &crate::scim::query::decode(v)) {
                Some(new) => {
                    changed = true;
                    format!("{k}={}", crate::scim::query::encode_component(&new))
                }
                None => pair.to_string(),
            }
        })
        .collect();
    changed.then(|| parts.join("&"))
}

/// A filter's ids translated (`None`: unchanged, or not a filter).
pub fn filter(map: &IdMap, way: Way<'_>, endpoint: &str, text: &str) -> Option<String> {
    let mut f = Filter::parse(text).ok()?;
    walk_filter(map, way, &kind(endpoint), &mut f, None).then(|| f.to_string())
}

/// `inside`: the multi-valued attribute a value path's inner filter is
/// about (`members`), whose `value` is an id.
fn walk_filter(
    map: &IdMap,
    way: Way<'_>,
    kind: &str,
    f: &mut Filter,
    inside: Option<&str>,
) -> bool {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            let x = walk_filter(map, way, kind, a, inside);
            walk_filter(map, way, kind, b, inside) | x
        }
        Filter::Not(a) => walk_filter(map, way, kind, a, inside),
        Filter::Present(_) => false,
        Filter::ValuePath { path, filter } => {
            let outer = plain(path).to_ascii_lowercase();
            walk_filter(map, way, kind, filter, Some(&outer))
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq | CompareOp::Ne,
            value: CompValue::String(s),
        } => {
            let attr = plain(path).to_ascii_lowercase();
            let sub = path.sub_attr.as_deref().map(str::to_ascii_lowercase);
            let new = match (inside, attr.as_str(), sub.as_deref()) {
                (None, "id", None) => way.id(map, kind, s),
                (None, "members", Some("value")) | (Some("members"), "value", None) => {
                    way.member(map, None, s)
                }
                (None, "groups", Some("value")) | (Some("groups"), "value", None) => {
                    way.id(map, "groups", s)
                }
                _ => None,
            };
            match new {
                Some(new) => {
                    *s = new;
                    true
                }
                None => false,
            }
        }
        Filter::Compare { .. } => false,
    }
}

/// A path's attribute name, without its schema URN.
fn plain(path: &AttrPath) -> &str {
    path.attr.as_str()
}

/// An answer from (or for) `endpoint`, translated in place; `true` when
/// something changed.
pub fn answer(map: &IdMap, way: Way<'_>, endpoint: &str, body: &mut Value) -> bool {
    let Some(o) = body.as_object_mut() else {
        return false;
    };
    if let Some(Value::Array(items)) = get_mut(o, "Resources") {
        let mut changed = false;
        for item in items.iter_mut() {
            changed |= resource(map, way, &kind(endpoint), item);
        }
        return changed;
    }
    // A BulkResponse: each operation's location and response.
    if endpoint.eq_ignore_ascii_case("Bulk") {
        let mut changed = false;
        if let Some(Value::Array(ops)) = get_mut(o, "Operations") {
            for op in ops.iter_mut().filter_map(Value::as_object_mut) {
                let loc = get(op, "location")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let Some(mut loc) = loc else { continue };
                let ty = loc.rsplit('/').nth(1).unwrap_or_default().to_string();
                if last_segment(map, way, &kind(&ty), &mut loc) {
                    set(op, "location", Value::String(loc));
                    changed = true;
                }
                if let Some(r) = get_mut(op, "response") {
                    changed |= resource(map, way, &kind(&ty), r);
                }
            }
        }
        return changed;
    }
    resource(map, way, &kind(endpoint), body)
}

fn resource(map: &IdMap, way: Way<'_>, kind: &str, body: &mut Value) -> bool {
    let Some(o) = body.as_object_mut() else {
        return false;
    };
    let mut changed = false;
    if let Some(Value::String(id)) = get_mut(o, "id") {
        if let Some(new) = way.id(map, kind, id) {
            *id = new;
            changed = true;
        }
    }
    if let Some(Value::Object(meta)) = get_mut(o, "meta") {
        if let Some(Value::String(loc)) = get_mut(meta, "location") {
            changed |= last_segment(map, way, kind, loc);
        }
    }
    if let Some(m) = get_mut(o, "members") {
        changed |= members(map, way, m);
    }
    if let Some(Value::Array(groups)) = get_mut(o, "groups") {
        for g in groups.iter_mut().filter_map(Value::as_object_mut) {
            changed |= reference(map, way, "groups", g);
        }
    }
    changed |= manager(map, way, body);
    changed
}

/// A `Location` header's value translated (`None`: unchanged).
pub fn location(map: &IdMap, way: Way<'_>, endpoint: &str, loc: &str) -> Option<String> {
    let mut s = loc.to_string();
    last_segment(map, way, &kind(endpoint), &mut s).then_some(s)
}

fn last_segment(map: &IdMap, way: Way<'_>, kind: &str, loc: &mut String) -> bool {
    let Some(cut) = loc.rfind('/') else {
        return false;
    };
    let Ok(id) = urlencoding_decode(&loc[cut + 1..]) else {
        return false;
    };
    match way.id(map, kind, &id) {
        Some(new) => {
            loc.truncate(cut + 1);
            loc.push_str(&encode(&new));
            true
        }
        None => false,
    }
}

fn members(map: &IdMap, way: Way<'_>, v: &mut Value) -> bool {
    let Value::Array(items) = v else {
        return false;
    };
    let mut changed = false;
    for m in items.iter_mut().filter_map(Value::as_object_mut) {
        let t = get(m, "type").and_then(Value::as_str).map(str::to_string);
        let Some(Value::String(id)) = get_mut(m, "value") else {
            continue;
        };
        if let Some(new) = way.member(map, t.as_deref(), id) {
            *id = new;
            changed = true;
            if let Some(Value::String(r)) = get_mut(m, "$ref") {
                let kind = if r.contains("/Groups/") {
                    "groups"
                } else {
                    "users"
                };
                last_segment(map, way, kind, r);
            }
        }
    }
    changed
}

fn reference(map: &IdMap, way: Way<'_>, kind: &str, o: &mut Map<String, Value>) -> bool {
    let mut changed = false;
    if let Some(Value::String(id)) = get_mut(o, "value") {
        if let Some(new) = way.id(map, kind, id) {
            *id = new;
            changed = true;
        }
    }
    if let Some(Value::String(r)) = get_mut(o, "$ref") {
        changed |= last_segment(map, way, kind, r);
    }
    changed
}

/// Whether a PATCH path names `members` (short or URN-qualified).
fn is_members_path(path: &str) -> bool {
    let p = path.trim();
    let short = p.rsplit(':').next().unwrap_or(p);
    short.eq_ignore_ascii_case("members")
}

/// `members[value eq "X"]` (any case, optional sub-attribute after it)
/// with X translated; `None` when the path is not of that form or
/// nothing changed.
fn member_filter_path(map: &IdMap, way: Way<'_>, path: &str) -> Option<String> {
    let open = path.find('[')?;
    let close = path.rfind(']')?;
    if close < open || !is_members_path(&path[..open]) {
        return None;
    }
    let inner = path[open + 1..close].trim();
    let mut words = inner.splitn(3, char::is_whitespace);
    let (attr, op, rest) = (words.next()?, words.next()?, words.next()?.trim());
    if !attr.eq_ignore_ascii_case("value") || !op.eq_ignore_ascii_case("eq") {
        return None;
    }
    let quoted: String = serde_json::from_str(rest).ok()?;
    let new = way.member(map, None, &quoted)?;
    let lit = serde_json::to_string(&new).ok()?;
    Some(format!(
        "{}[{} {} {}]{}",
        &path[..open],
        attr,
        op,
        lit,
        &path[close + 1..]
    ))
}

fn get<'a>(o: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn get_mut<'a>(o: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    o.iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn set(o: &mut Map<String, Value>, name: &str, v: Value) {
    if let Some(slot) = get_mut(o, name) {
        *slot = v;
    }
}

fn urlencoding_decode(s: &str) -> Result<String, ()> {
    crate::scim::route::decode_segment(s)
        .map(|c| c.into_owned())
        .map_err(|_| ())
}

/// A path segment percent-encoded (RFC 3986 unreserved kept).
pub fn encode(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for &b in id.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map() -> IdMap {
        let mut m = IdMap::in_memory();
        m.put("users", "u1", "new", "U-1").unwrap();
        m.put("groups", "g1", "new", "G-1").unwrap();
        m
    }

    #[test]
    fn a_group_and_its_patches_go_to_the_upstream_in_its_ids() {
        let m = map();
        let to = Way::ToUpstream("new");
        let mut g = json!({"displayName": "Ops", "members": [{"value": "u1"}, {"value": "u9"}]});
        assert!(request(&m, to, "Groups", &mut g));
        assert_eq!(g["members"][0]["value"], "U-1");
        assert_eq!(g["members"][1]["value"], "u9", "unknown ids pass");
        let mut p = json!({"Operations": [
            {"op": "remove", "path": "members[value eq \"u1\"]"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:members", "value": [{"value": "u1"}]},
            {"op": "add", "value": {"members": [{"value": "g1", "type": "Group"}]}},
            {"op": "replace", "path": "displayName", "value": "u1"},
        ]});
        assert!(request(&m, to, "Groups", &mut p));
        assert_eq!(p["Operations"][0]["path"], "members[value eq \"U-1\"]");
        assert_eq!(p["Operations"][1]["value"][0]["value"], "U-1");
        assert_eq!(p["Operations"][2]["value"]["members"][0]["value"], "G-1");
        assert_eq!(p["Operations"][3]["value"], "u1", "not an id");
    }

    #[test]
    fn answers_come_back_in_keys() {
        let m = map();
        let back = Way::ToKey("new");
        let mut g = json!({
            "id": "G-1",
            "meta": {"location": "https://gw/scim/v2/Groups/G-1"},
            "members": [{"value": "U-1", "$ref": "https://gw/scim/v2/Users/U-1"}],
        });
        assert!(answer(&m, back, "Groups", &mut g));
        assert_eq!(g["id"], "g1");
        assert_eq!(g["meta"]["location"], "https://gw/scim/v2/Groups/g1");
        assert_eq!(g["members"][0]["value"], "u1");
        assert_eq!(g["members"][0]["$ref"], "https://gw/scim/v2/Users/u1");
        let mut list = json!({"Resources": [{"id": "U-1", "groups": [{"value": "G-1"}]}]});
        assert!(answer(&m, back, "Users", &mut list));
        assert_eq!(list["Resources"][0]["id"], "u1");
        assert_eq!(list["Resources"][0]["groups"][0]["value"], "g1");
        assert_eq!(
            location(&m, back, "Users", "https://gw/Users/U-1").as_deref(),
            Some("https://gw/Users/u1")
        );
        assert_eq!(
            query(&m, Way::ToUpstream("new"), "Groups", "filter=id+eq+%22g1%22+and+members%5Bvalue+eq+%22u1%22%5D&count=5&attributes=id").as_deref(),
            Some("filter=id%20eq%20%22G-1%22%20and%20members%5Bvalue%20eq%20%22U-1%22%5D&count=5&attributes=id")
        );
        assert_eq!(
            filter(
                &m,
                Way::ToUpstream("new"),
                "Users",
                "userName eq \"u1\" or id ne \"u1\""
            )
            .as_deref(),
            Some("userName eq \"u1\" or id ne \"U-1\"")
        );
        assert!(query(
            &m,
            Way::ToUpstream("new"),
            "Users",
            "filter=userName%20eq%20%22u1%22"
        )
        .is_none());
        // A manager, in a body, a PATCH and an answer.
        let mut u = json!({"userName": "x", ENTERPRISE: {"manager": {"value": "u1", "$ref": "https://gw/Users/u1"}}});
        assert!(request(&m, Way::ToUpstream("new"), "Users", &mut u));
        assert_eq!(u[ENTERPRISE]["manager"]["value"], "U-1");
        assert_eq!(u[ENTERPRISE]["manager"]["$ref"], "https://gw/Users/U-1");
        let mut p = json!({"Operations": [
            {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": "u1"},
            {"op": "replace", "path": "manager.value", "value": "u1"},
            {"op": "replace", "path": format!("{ENTERPRISE}:manager"), "value": {"value": "u1"}},
            {"op": "replace", "value": {ENTERPRISE: {"manager": {"value": "u1"}}}},
        ]});
        assert!(request(&m, Way::ToUpstream("new"), "Users", &mut p));
        assert_eq!(p["Operations"][0]["value"], "U-1");
        assert_eq!(p["Operations"][1]["value"], "U-1");
        assert_eq!(p["Operations"][2]["value"]["value"], "U-1");
        assert_eq!(
            p["Operations"][3]["value"][ENTERPRISE]["manager"]["value"],
            "U-1"
        );
        assert!(answer(&m, back, "Users", &mut u));
        assert_eq!(u[ENTERPRISE]["manager"]["value"], "u1");
        for path in [
            "managerx",
            "é".repeat(40).as_str(),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:Usermanager",
        ] {
            assert_eq!(manager_path(path), None, "{path}");
        }
        // A Bulk request and its answer.
        let mut bulk = json!({"Operations": [
            {"method": "PATCH", "path": "/Groups/g1", "data": {"Operations": [
                {"op": "add", "path": "members", "value": [{"value": "u1"}]}]}},
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": {"userName": "u1"}},
            {"method": "DELETE", "path": "/Users/bulkId:x"},
        ]});
        assert!(request(&m, Way::ToUpstream("new"), "Bulk", &mut bulk));
        assert_eq!(bulk["Operations"][0]["path"], "/Groups/G-1");
        assert_eq!(
            bulk["Operations"][0]["data"]["Operations"][0]["value"][0]["value"],
            "U-1"
        );
        assert_eq!(bulk["Operations"][1]["data"]["userName"], "u1", "not an id");
        assert_eq!(bulk["Operations"][2]["path"], "/Users/bulkId:x");
        let mut answered = json!({"Operations": [
            {"method": "PATCH", "location": "https://gw/Groups/G-1", "status": "200",
             "response": {"id": "G-1", "members": [{"value": "U-1"}]}}]});
        assert!(answer(&m, back, "Bulk", &mut answered));
        assert_eq!(
            answered["Operations"][0]["location"],
            "https://gw/Groups/g1"
        );
        assert_eq!(
            answered["Operations"][0]["response"]["members"][0]["value"],
            "u1"
        );
        // Ids of the other upstream are not this one's.
        let mut u = json!({"id": "U-1"});
        assert!(!answer(&m, Way::ToKey("old"), "Users", &mut u));
    }
}
