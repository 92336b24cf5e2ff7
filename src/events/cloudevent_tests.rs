#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use serde_json::json;

fn ty(method: WriteMethod, rt: &str, req: Value) -> String {
    event_type(method, rt, Some(&req), None)
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

#[test]
fn user_writes_have_their_types() {
    assert_eq!(
        ty(WriteMethod::Post, "User", json!({"userName": "a"})),
        "scim.user.created"
    );
    assert_eq!(
        ty(WriteMethod::Put, "Users", json!({"userName": "a"})),
        "scim.user.updated"
    );
    assert_eq!(
        event_type(WriteMethod::Delete, "User", None, None),
        "scim.user.deleted"
    );
    let rename = patch(json!([{"op": "replace", "path": "userName", "value": "b"}]));
    assert_eq!(ty(WriteMethod::Patch, "User", rename), "scim.user.updated");
}

#[test]
fn deactivation_is_detected_in_put_and_every_patch_form() {
    assert_eq!(
        ty(
            WriteMethod::Put,
            "User",
            json!({"userName": "a", "Active": false})
        ),
        "scim.user.deactivated"
    );
    for p in [
        patch(json!([{"op": "replace", "path": "active", "value": false}])),
        patch(json!([{"op": "Replace", "path": "ACTIVE", "value": "False"}])),
        patch(
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:active", "value": false}]),
        ),
        patch(json!([{"op": "replace", "value": {"active": false}}])),
    ] {
        assert_eq!(
            ty(WriteMethod::Patch, "User", p.clone()),
            "scim.user.deactivated",
            "{p}"
        );
    }
    // Re-activation, removal and other attributes are updates.
    for p in [
        patch(json!([{"op": "replace", "path": "active", "value": true}])),
        patch(json!([{"op": "remove", "path": "active"}])),
        patch(
            json!([{"op": "replace", "path": "emails[type eq \"work\"].active", "value": false}]),
        ),
    ] {
        assert_eq!(
            ty(WriteMethod::Patch, "User", p.clone()),
            "scim.user.updated",
            "{p}"
        );
    }
}

#[test]
fn a_resource_still_active_after_the_write_is_not_deactivated() {
    let p = patch(json!([
        {"op": "replace", "path": "active", "value": false},
        {"op": "replace", "path": "active", "value": true}
    ]));
    let after = json!({"id": "u1", "active": true});
    assert_eq!(
        event_type(WriteMethod::Patch, "User", Some(&p), Some(&after)),
        "scim.user.updated"
    );
}

#[test]
fn group_writes_and_membership_changes() {
    assert_eq!(
        ty(WriteMethod::Post, "Group", json!({"displayName": "g"})),
        "scim.group.created"
    );
    assert_eq!(
        ty(
            WriteMethod::Put,
            "Groups",
            json!({"displayName": "g", "members": []})
        ),
        "scim.group.updated"
    );
    assert_eq!(
        event_type(WriteMethod::Delete, "Group", None, None),
        "scim.group.deleted"
    );
    for p in [
        patch(json!([{"op": "add", "path": "members", "value": [{"value": "u1"}]}])),
        patch(json!([{"op": "remove", "path": "members[value eq \"u1\"]"}])),
        patch(json!([{"op": "replace", "value": {"members": []}}])),
        patch(
            json!([{"op": "replace", "path": "displayName", "value": "x"},
                     {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:members", "value": []}]),
        ),
    ] {
        assert_eq!(
            ty(WriteMethod::Patch, "Group", p.clone()),
            "scim.group.membership.changed",
            "{p}"
        );
    }
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "x"}]));
    assert_eq!(
        ty(WriteMethod::Patch, "Group", rename),
        "scim.group.updated"
    );
    // "active" means nothing special on a Group.
    let p = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    assert_eq!(ty(WriteMethod::Patch, "Group", p), "scim.group.updated");
}

#[test]
fn other_resource_types_get_generic_types() {
    assert_eq!(
        ty(WriteMethod::Post, "Device", json!({})),
        "scim.device.created"
    );
    let p = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    assert_eq!(ty(WriteMethod::Patch, "Device", p), "scim.device.updated");
    assert_eq!(
        event_type(WriteMethod::Delete, "Mobile Phone", None, None),
        "scim.mobile_phone.deleted"
    );
}

fn input<'a>(
    method: WriteMethod,
    req: Option<&'a Value>,
    resp: Option<&'a Value>,
    data: EventData,
) -> ChangeInput<'a> {
    ChangeInput {
        id: "evt_1",
        time: "2026-11-23T12:00:00.000Z",
        tenant: "acme",
        method,
        resource_type: "User",
        resource_id: "u1",
        request_body: req,
        response_body: resp,
        data,
    }
}

#[test]
fn the_event_has_every_cloudevents_attribute() {
    let req = json!({"userName": "alice", "password": "hunter2"});
    let resp = json!({"id": "u1", "userName": "alice", "meta": {"resourceType": "User"}});
    let mut e = build_event(&input(
        WriteMethod::Post,
        Some(&req),
        Some(&resp),
        EventData::Resource,
    ));
    set_sequence(&mut e, 42);
    assert_eq!(e["specversion"], "1.0");
    assert_eq!(e["id"], "evt_1");
    assert_eq!(e["source"], "/tenants/acme");
    assert_eq!(e["type"], "scim.user.created");
    assert_eq!(e["subject"], "u1");
    assert_eq!(e["time"], "2026-11-23T12:00:00.000Z");
    assert_eq!(e["datacontenttype"], "application/json");
    assert_eq!(e["tenant"], "acme");
    assert_eq!(e["resourcetype"], "User");
    assert_eq!(e["sequence"], "00000000000000000042");
    assert_eq!(e["data"], resp);
    assert_eq!(event_tenant(&e), Some("acme"));
}

#[test]
fn changes_data_holds_only_touched_attributes_with_values_after_the_write() {
    let p = patch(json!([
        {"op": "replace", "path": "name.givenName", "value": "Al"},
        {"op": "remove", "path": "nickName"},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"},
        {"op": "replace", "path": "password", "value": "secret!"}
    ]));
    let resp = json!({
        "id": "u1", "userName": "alice", "name": {"givenName": "Al", "familyName": "B"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D", "manager": {"value": "m"}}
    });
    let e = build_event(&input(
        WriteMethod::Patch,
        Some(&p),
        Some(&resp),
        EventData::Changes,
    ));
    assert_eq!(
        e["data"],
        json!({
            "id": "u1",
            "name": {"givenName": "Al", "familyName": "B"},
            "nickName": null,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
        })
    );
}

#[test]
fn without_a_response_body_the_request_values_are_used_and_password_never_leaks() {
    let p = patch(json!([
        {"op": "replace", "value": {"active": false, "password": "pw", "displayName": "A"}},
        {"op": "add", "path": "emails[type eq \"work\"].value", "value": "a@x"}
    ]));
    let e = build_event(&input(
        WriteMethod::Patch,
        Some(&p),
        None,
        EventData::Resource,
    ));
    assert_eq!(e["type"], "scim.user.deactivated");
    assert_eq!(
        e["data"],
        json!({"id": "u1", "active": false, "displayName": "A"})
    );
    assert!(!e.to_string().contains("pw\""));
}

#[test]
fn delete_data_is_just_the_id() {
    let e = build_event(&input(WriteMethod::Delete, None, None, EventData::Resource));
    assert_eq!(e["type"], "scim.user.deleted");
    assert_eq!(e["data"], json!({"id": "u1"}));
}

#[test]
fn resource_data_never_carries_a_password() {
    let resp = json!({"id": "u1", "userName": "a", "Password": "x"});
    let e = build_event(&input(
        WriteMethod::Put,
        Some(&resp),
        Some(&resp),
        EventData::Resource,
    ));
    assert_eq!(e["data"], json!({"id": "u1", "userName": "a"}));
}

#[test]
fn event_ids_are_fresh_and_safe_for_signing() {
    let a = new_event_id();
    let b = new_event_id();
    assert_ne!(a, b);
    assert!(a.starts_with("evt_") && a.len() == 36, "{a}");
    assert!(
        a.bytes()
            .skip(4)
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
        "{a}"
    );
    assert!(!a.contains('.'));
}

#[test]
fn event_ids_stay_unique_across_buffer_refills_and_threads() {
    // Several refills of the per-thread buffer on each of four threads.
    let per_thread = 4 * super::ID_BYTES_PER_FILL / 16 + 7;
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| (0..per_thread).map(|_| new_event_id()).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an id was handed out twice");
    // No id is made of the wiped (zeroed) bytes of a used slot.
    assert!(ids
        .iter()
        .all(|id| id != "evt_00000000000000000000000000000000"));
}

#[test]
fn write_methods_parse_in_any_case() {
    assert_eq!(WriteMethod::parse("patch"), Some(WriteMethod::Patch));
    assert_eq!(WriteMethod::parse("GET"), None);
    let d: EventData = serde_json::from_value(json!("changes")).unwrap();
    assert_eq!(d, EventData::Changes);
}

#[test]
fn an_event_built_from_a_given_answer_is_the_one_built_from_a_lent_one() {
    let resource = json!({"id": "u1", "userName": "a", "password": "p", "active": false});
    let no_id = json!({"userName": "a", "PassWord": "p"});
    let put = json!({"userName": "a", "active": false});
    let patch = json!({"Operations": [{"op": "replace", "path": "active", "value": false}]});
    let text = json!("not an object");
    let methods = [
        (WriteMethod::Post, Some(&put)),
        (WriteMethod::Put, Some(&put)),
        (WriteMethod::Patch, Some(&patch)),
        (WriteMethod::Delete, None),
    ];
    for (method, request) in methods {
        for data in [EventData::Resource, EventData::Changes] {
            for answer in [Some(&resource), Some(&no_id), Some(&text), None] {
                let lent = build_event(&input(method, request, answer, data));
                let given = build_event_owned(&input(method, request, None, data), answer.cloned());
                assert_eq!(
                    serde_json::to_string(&given).unwrap(),
                    serde_json::to_string(&lent).unwrap(),
                    "{method:?} {data:?} {answer:?}"
                );
            }
        }
    }
}
