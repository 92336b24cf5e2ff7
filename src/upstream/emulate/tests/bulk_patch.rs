//! A native Bulk in front of an upstream without PATCH: the gateway runs
//! it operation by operation so that its PATCH operations are emulated.
use super::*;

fn bulk_with_patch(u: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "PATCH", "path": format!("/Users/{u}"),
             "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                      "Operations": [{"op": "replace", "path": "displayName", "value": "Patched"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "b",
             "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "b"}}
        ]
    })
}

/// The upstream does Bulk but not PATCH (its /ServiceProviderConfig says
/// so, and it refuses PATCH operations inside Bulk with 501): on `"auto"`,
/// the PATCH operation is emulated and succeeds.
#[tokio::test]
async fn a_native_bulk_with_patch_operations_is_run_by_the_gateway_without_patch() {
    let store = legacy_store();
    let u = create(
        &store,
        "/Users",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a"}),
    );
    let calls = AtomicUsize::new(0);
    let send = |r| std::future::ready(Ok(call(&store, &calls, r)));
    let e = emulation(EmulationSettings::default());
    let r = forward(
        &ctx(&e),
        request(Method::POST, "/Bulk", None, bulk_with_patch(&u)),
        &send,
    )
    .await
    .unwrap();
    let out = body(&r);
    let statuses: Vec<&str> = out["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["200", "201"], "{out}");
    let read = call(
        &store,
        &calls,
        request(Method::GET, &format!("/Users/{u}"), None, Value::Null),
    );
    assert_eq!(body(&read)["displayName"], json!("Patched"));
}

/// With PATCH, the Bulk goes to the upstream as it is: one call.
#[tokio::test]
async fn a_native_bulk_with_patch_operations_passes_through_an_upstream_with_patch() {
    let store = Store::new(StoreConfig::default());
    let u = create(
        &store,
        "/Users",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a"}),
    );
    let calls = AtomicUsize::new(0);
    let send = |r| std::future::ready(Ok(call(&store, &calls, r)));
    let e = emulation(EmulationSettings::default());
    let r = forward(
        &ctx(&e),
        request(Method::POST, "/Bulk", None, bulk_with_patch(&u)),
        &send,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.body());
    // The discovery look, then the Bulk itself.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
