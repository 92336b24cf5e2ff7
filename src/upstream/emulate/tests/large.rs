//! The emulations over large resources and listings, which run off the
//! reactor (`crate::offload`): the same answers as inline.
use super::*;

fn member(id: &str, i: usize) -> Value {
    json!({"value": id, "display": format!("User number {i}")})
}

/// `n` Users (the store checks that members exist).
fn users(store: &Store, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            create(
                store,
                "/Users",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("m{i}")}),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_patch_of_a_large_group_is_applied_off_the_reactor() {
    let store = legacy_store();
    let ids = users(&store, 2001);
    let members: Vec<Value> = ids[..2000]
        .iter()
        .enumerate()
        .map(|(i, id)| member(id, i))
        .collect();
    let g = create(
        &store,
        "/Groups",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "big", "members": members}),
    );
    let calls = AtomicUsize::new(0);
    let send = |r| std::future::ready(Ok(call(&store, &calls, r)));
    let e = emulation(EmulationSettings {
        patch: Support::No,
        ..EmulationSettings::default()
    });
    let path = format!("/Groups/{g}");
    let read = forward(
        &ctx(&e),
        request(Method::GET, &path, None, Value::Null),
        &send,
    )
    .await
    .unwrap();
    assert!(crate::offload::worth_it(read.body().len()), "large enough");
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "remove", "path": format!("members[value eq \"{}\"]", ids[1])},
            {"op": "remove", "path": format!("members[value eq \"{}\"]", ids[2])},
            {"op": "add", "path": "members", "value": [member(&ids[2000], 2000), member(&ids[3], 3)]}
        ]
    });
    let r = forward(&ctx(&e), request(Method::PATCH, &path, None, patch), &send)
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.body());
    let out = body(&r);
    let values: Vec<&str> = out["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(values.len(), 1999);
    assert!(!values.contains(&ids[1].as_str()));
    assert_eq!(values[1998], ids[2000]);
    // A remove of a value that is not there: the whole PATCH fails.
    let missing = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": "members[value eq \"nobody\"]"}]
    });
    let err = forward(
        &ctx(&e),
        request(Method::PATCH, &path, None, missing),
        &send,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.scim().scim_type(),
        Some(crate::scim::ScimType::NoTarget)
    );
}

#[tokio::test]
async fn a_long_listing_is_filtered_off_the_reactor() {
    let store = legacy_store();
    for i in 0..150 {
        create(
            &store,
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("u{i:03}"), "active": i % 3 == 0}),
        );
    }
    let calls = AtomicUsize::new(0);
    let send = |r| std::future::ready(Ok(call(&store, &calls, r)));
    let e = emulation(EmulationSettings {
        filter: Support::No,
        ..EmulationSettings::default()
    });
    let q = "filter=active%20eq%20true&sortBy=userName&sortOrder=descending&count=2";
    let r = forward(
        &ctx(&e),
        request(Method::GET, "/Users", Some(q), Value::Null),
        &send,
    )
    .await
    .unwrap();
    let out = body(&r);
    assert_eq!(out["totalResults"], json!(50), "{out}");
    assert_eq!(out["Resources"][0]["userName"], json!("u147"));
    assert_eq!(out["Resources"][1]["userName"], json!("u144"));
}
