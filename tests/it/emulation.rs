//! Bulk and filter emulation through a real gateway over real sockets, in
//! front of the built-in store on a socket (declared `bulk = false`,
//! `filter = false`, so the gateway does both itself).
use crate::support::gateway::{token_for, TestGateway};
use crate::support::store::TestStore;
use serde_json::{json, Value};

#[tokio::test]
async fn bulk_and_filters_are_emulated_end_to_end() {
    let store = TestStore::spawn();
    let gw = TestGateway::builder()
        .http(
            "emulated",
            &store.base_url(),
            "[upstreams.emulated.capabilities]\nbulk = false\nfilter = false\nfilter_page_size = 2\n",
        )
        .tenant("emu", &["emu.localhost"], "emulated")
        .spawn();
    let base = gw.base("emu.localhost");
    let client = gw.client();
    let bulk = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a",
             "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice"}},
            {"method": "POST", "path": "/Users", "bulkId": "b",
             "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob"}},
            {"method": "POST", "path": "/Users", "bulkId": "c",
             "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "carol"}},
            {"method": "POST", "path": "/Groups", "bulkId": "g",
             "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "team",
                      "members": [{"value": "bulkId:a"}, {"value": "bulkId:c"}]}}
        ]
    });
    let resp = client
        .post(format!("{base}/Bulk"))
        .bearer_auth(token_for("emu"))
        .header("content-type", "application/scim+json")
        .json(&bulk)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let out: Value = resp.json().await.unwrap();
    let ops = out["Operations"].as_array().unwrap();
    assert!(ops.iter().all(|o| o["status"] == "201"), "{out}");
    let location = ops[3]["location"].as_str().unwrap();
    assert!(
        location.starts_with(&base),
        "rewritten to the gateway: {location}"
    );

    // Three users, listed two per upstream page; the gateway filters.
    let list: Value = client
        .get(format!("{base}/Users"))
        .query(&[
            ("filter", "userName sw \"a\" or userName ew \"l\""),
            ("sortBy", "userName"),
        ])
        .bearer_auth(token_for("emu"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["totalResults"], json!(2), "{list}");
    assert_eq!(list["Resources"][0]["userName"], json!("alice"));
    assert_eq!(list["Resources"][1]["userName"], json!("carol"));
    assert_eq!(store.store().len(), 4);

    let spc: Value = client
        .get(format!("{base}/ServiceProviderConfig"))
        .bearer_auth(token_for("emu"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The tenant-facing document (the pipeline's schema stage answers it).
    assert_eq!(spc["bulk"]["supported"], json!(true));
    assert_eq!(spc["filter"]["supported"], json!(true));
}
