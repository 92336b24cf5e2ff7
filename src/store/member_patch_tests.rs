//! The member PATCH fast path stores what the general path stores: the
//! same requests applied to two identical Groups, one each way, leave the
//! same members (as a set), attributes and memberships.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::super::{Store, StoreConfig};
use crate::scim::patch::PatchRequest;
use crate::scim::projection::Projection;
use bytes::Bytes;
use http::Request;
use serde_json::{json, Value};

const BASE: &str = "http://localhost";

fn call(store: &Store, method: &str, path: &str, body: Value) -> Value {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/scim+json")
        .body(Bytes::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let resp = store.handle_at(&req, BASE, path);
    let out: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    assert!(resp.status().is_success(), "{method} {path}: {out}");
    out
}

fn user(store: &Store, name: &str) -> String {
    let u = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
    call(store, "POST", "/Users", u)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn group(store: &Store, name: &str, members: &[String]) -> String {
    let g = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>(),
    });
    call(store, "POST", "/Groups", g)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn get(store: &Store, path: &str) -> Value {
    call(store, "GET", path, Value::Null)
}

/// A Group without what differs between the two: id, name, meta, and the
/// members' order.
fn comparable(mut g: Value) -> Value {
    let o = g.as_object_mut().unwrap();
    for k in ["id", "displayName", "meta"] {
        o.remove(k);
    }
    if let Some(Value::Array(ms)) = o.get_mut("members") {
        ms.sort_by_key(|m| m["value"].as_str().unwrap_or_default().to_string());
    }
    g
}

fn ops(list: Value) -> PatchRequest {
    PatchRequest::parse(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": list,
    }))
    .unwrap()
}

#[test]
fn the_fast_path_stores_what_the_general_path_stores() {
    let store = Store::new(StoreConfig::default());
    let users: Vec<String> = (0..16).map(|i| user(&store, &format!("u{i}"))).collect();
    let nested = group(&store, "nested", &[]);
    let fast = group(&store, "fast", &users[..8]);
    let slow = group(&store, "slow", &users[..8]);
    let none = Projection::default();
    let add = |m: &str| json!({"op": "add", "path": "members", "value": [{"value": m}]});
    let remove = |m: &str| json!({"op": "remove", "path": format!("members[value eq \"{m}\"]")});
    let steps = [
        ops(json!([remove(&users[0])])),
        ops(json!([{"op": "add", "path": "members",
                    "value": [{"value": users[8], "display": "Eight"},
                              {"value": users[9], "type": "User"},
                              {"value": nested, "type": "Group"}]}])),
        ops(json!([
            remove(&users[3]),
            add(&users[10]),
            remove(&users[7])
        ])),
        ops(json!([
            remove(&users[9]),
            remove(&users[8]),
            remove(&users[1])
        ])),
        ops(json!([
            remove(&users[2]),
            remove(&users[4]),
            remove(&users[5]),
            remove(&users[6]),
            remove(&users[10]),
            remove(&nested)
        ])),
        ops(json!([add(&users[11]), add(&users[12])])),
        ops(json!([remove(&users[11])])),
    ];
    for (i, step) in steps.iter().enumerate() {
        let before = get(&store, &format!("/Groups/{fast}"));
        let reply = store
            .modify_members(&fast, step, None, BASE, &none)
            .unwrap()
            .unwrap_or_else(|| panic!("step {i} did not take the fast path"));
        store
            .modify_general(super::Kind::Group, &slow, step, None, BASE, &none)
            .unwrap();
        let f = get(&store, &format!("/Groups/{fast}"));
        let s = get(&store, &format!("/Groups/{slow}"));
        assert_eq!(
            reply.body.as_ref(),
            Some(&f),
            "step {i}: the reply is the stored Group"
        );
        assert_eq!(comparable(f.clone()), comparable(s), "step {i}");
        assert_ne!(f["meta"]["version"], before["meta"]["version"], "step {i}");
        assert_eq!(
            reply.etag.as_ref(),
            f["meta"]["version"].as_str().map(str::to_string).as_ref()
        );
        // Every User is in both Groups or in neither.
        for u in &users {
            let groups = get(&store, &format!("/Users/{u}"))["groups"].clone();
            let ids: Vec<&str> = groups
                .as_array()
                .map(|gs| gs.iter().filter_map(|g| g["value"].as_str()).collect())
                .unwrap_or_default();
            assert_eq!(
                ids.contains(&fast.as_str()),
                ids.contains(&slow.as_str()),
                "step {i}: {u}"
            );
        }
    }
    let last = get(&store, &format!("/Groups/{fast}"));
    assert_eq!(last["members"].as_array().map(Vec::len), Some(1));
    assert_eq!(last["members"][0]["value"], users[12].as_str());
}

#[test]
fn requests_whose_outcome_is_uncertain_take_the_general_path() {
    let store = Store::new(StoreConfig::default());
    let a = user(&store, "a");
    let b = user(&store, "b");
    let g = group(&store, "g", std::slice::from_ref(&a));
    let none = Projection::default();
    let uncertain = [
        // Already a member; not a member; no such id; the Group itself.
        json!([{"op": "add", "path": "members", "value": [{"value": a}]}]),
        json!([{"op": "remove", "path": format!("members[value eq \"{b}\"]")}]),
        json!([{"op": "add", "path": "members", "value": [{"value": "nobody"}]}]),
        json!([{"op": "add", "path": "members", "value": [{"value": g}]}]),
        // A wrong type, an unknown sub-attribute, one member twice.
        json!([{"op": "add", "path": "members", "value": [{"value": b, "type": "Group"}]}]),
        json!([{"op": "add", "path": "members", "value": [{"value": b, "x": "y"}]}]),
        json!([{"op": "add", "path": "members", "value": [{"value": b}]},
               {"op": "remove", "path": format!("members[value eq \"{b}\"]")}]),
        // Another attribute, another filter.
        json!([{"op": "replace", "path": "displayName", "value": "h"}]),
        json!([{"op": "remove", "path": format!("members[value ne \"{a}\"]")}]),
        json!([{"op": "remove", "path": "members"}]),
    ];
    for list in uncertain {
        let r = store
            .modify_members(&g, &ops(list.clone()), None, BASE, &none)
            .unwrap();
        assert!(r.is_none(), "{list}");
    }
    // A stale If-Match is refused as on the general path (412).
    let stale = store.modify_members(
        &g,
        &ops(json!([{"op": "add", "path": "members", "value": [{"value": b}]}])),
        Some("W/\"0\""),
        BASE,
        &none,
    );
    assert_eq!(stale.unwrap_err().status(), 412);
}

/// One request through the store's HTTP mapping: status, `ETag`, body.
fn send(store: &Store, method: &str, uri: &str, body: Value) -> (u16, Option<String>, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/scim+json")
        .body(Bytes::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let path = uri.split('?').next().unwrap();
    let resp = store.handle_at(&req, BASE, path);
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    let body = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    (resp.status().as_u16(), etag, body)
}

#[test]
fn a_member_patch_that_asks_for_nothing_is_answered_204_and_others_200() {
    let store = Store::new(StoreConfig::default());
    let users: Vec<String> = (0..4).map(|i| user(&store, &format!("p{i}"))).collect();
    let g = group(&store, "g", &users[..1]);
    let path = format!("/Groups/{g}");
    let patch = |list: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list});
    let add = |m: &str| json!([{"op": "add", "path": "members", "value": [{"value": m}]}]);

    // Member changes, fast path and general path, with the core URN too:
    // 204, no body, the new version as ETag, and the change stored.
    let member_only = [
        add(&users[1]),
        json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", users[1])}]),
        json!([{"op": "add",
                "path": "urn:ietf:params:scim:schemas:core:2.0:Group:members",
                "value": [{"value": users[2]}]}]),
        // Already a member: the general path, still a member change.
        add(&users[2]),
    ];
    for list in member_only {
        let (status, etag, body) = send(&store, "PATCH", &path, patch(list.clone()));
        assert_eq!(status, 204, "{list}: {body}");
        assert_eq!(body, Value::Null, "{list}");
        let now = get(&store, &path);
        assert_eq!(etag.as_deref(), now["meta"]["version"].as_str(), "{list}");
    }
    let members = get(&store, &path)["members"].clone();
    let ids: Vec<&str> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{members}");
    assert!(ids.contains(&users[0].as_str()) && ids.contains(&users[2].as_str()));

    // Asking for attributes: 200 with them (members excluded here).
    let (status, _, body) = send(
        &store,
        "PATCH",
        &format!("{path}?excludedAttributes=members"),
        patch(add(&users[3])),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], g.as_str());
    assert!(body.get("members").is_none(), "{body}");
    let (status, _, body) = send(
        &store,
        "PATCH",
        &format!("{path}?attributes=members"),
        patch(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", users[3])}])),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["members"].as_array().map(Vec::len), Some(2), "{body}");

    // Another attribute, or a User: 200 with the resource.
    let (status, _, body) = send(
        &store,
        "PATCH",
        &path,
        patch(json!([{"op": "replace", "path": "displayName", "value": "h"}])),
    );
    assert_eq!(
        (status, body["displayName"].as_str()),
        (200, Some("h")),
        "{body}"
    );
    let (status, _, body) = send(
        &store,
        "PATCH",
        &path,
        patch(
            json!([{"op": "replace", "path": "displayName", "value": "i"},
                     {"op": "add", "path": "members", "value": [{"value": users[3]}]}]),
        ),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["members"].as_array().map(Vec::len), Some(3), "{body}");
    let (status, _, body) = send(
        &store,
        "PATCH",
        &format!("/Users/{}", users[0]),
        patch(json!([{"op": "replace", "path": "displayName", "value": "Zero"}])),
    );
    assert_eq!(
        (status, body["displayName"].as_str()),
        (200, Some("Zero")),
        "{body}"
    );

    // Inside Bulk a member PATCH keeps its operation answer: 200 with the
    // location and version.
    let (status, _, body) = send(
        &store,
        "POST",
        "/Bulk",
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
               "Operations": [{"method": "PATCH", "path": path, "data": patch(json!([
                   {"op": "remove", "path": format!("members[value eq \"{}\"]", users[3])}]))}]}),
    );
    assert_eq!(status, 200, "{body}");
    let op = &body["Operations"][0];
    assert_eq!(op["status"], "200", "{body}");
    assert_eq!(op["location"], format!("{BASE}/Groups/{g}"), "{body}");
    assert_eq!(
        op["version"],
        get(&store, &path)["meta"]["version"],
        "{body}"
    );
}
