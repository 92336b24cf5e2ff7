//! The race test (issue 7): 50 concurrent PATCH member additions to one
//! group, through the gateway, in front of an upstream WITHOUT PATCH (the
//! built-in store on a socket, PATCH switched off: 501, and
//! `patch.supported: false`). The gateway discovers that, emulates each
//! PATCH as GET + apply + PUT with If-Match, and no addition is lost.
//!
//! Two variants: one gateway (the pipeline's write ordering serializes the
//! PATCHes of the group, and If-Match is a second guard), and two gateways
//! in front of the same store (separate processes in production; here two
//! gateway instances, each with its own write ordering, so across them
//! only If-Match + re-read on 412 keeps the additions).
use crate::support::gateway::{token_for, TestGateway};
use crate::support::store::TestStore;
use scim_gateway::store::StoreConfig;
use serde_json::{json, Value};

const MEMBERS: usize = 50;

/// `name` keeps the metrics of parallel tests apart (one recorder per
/// test process).
fn gateway(store: &TestStore, name: &str, attempts: usize) -> TestGateway {
    TestGateway::builder()
        .http(
            name,
            &store.base_url(),
            &format!("[upstreams.{name}.capabilities]\npatch_attempts = {attempts}\n"),
        )
        .tenant("race", &["race.localhost"], name)
        .spawn()
}

async fn post(gw: &TestGateway, path: &str, body: Value) -> Value {
    let resp = gw
        .client()
        .post(format!("{}{path}", gw.base("race.localhost")))
        .bearer_auth(token_for("race"))
        .header("content-type", "application/scim+json")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

/// Creates the group and the users; returns (group id, user ids).
async fn set_up(gw: &TestGateway) -> (String, Vec<String>) {
    let group = post(
        gw,
        "/Groups",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "racers"}),
    )
    .await;
    let mut users = Vec::new();
    for i in 0..MEMBERS {
        let user = post(
            gw,
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("racer{i}")}),
        )
        .await;
        users.push(user["id"].as_str().unwrap().to_string());
    }
    (group["id"].as_str().unwrap().to_string(), users)
}

async fn add_member(gw: &TestGateway, group: &str, user: &str) -> u16 {
    gw.client()
        .patch(format!("{}/Groups/{group}", gw.base("race.localhost")))
        .bearer_auth(token_for("race"))
        .header("content-type", "application/scim+json")
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]
        }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn members_of(gw: &TestGateway, group: &str) -> usize {
    let g: Value = gw
        .client()
        .get(format!("{}/Groups/{group}", gw.base("race.localhost")))
        .bearer_auth(token_for("race"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    g["members"].as_array().map_or(0, Vec::len)
}

fn legacy_store() -> TestStore {
    TestStore::spawn_with(StoreConfig {
        patch: false,
        ..StoreConfig::default()
    })
}

#[tokio::test]
async fn fifty_concurrent_member_additions_through_one_gateway_all_land() {
    let store = legacy_store();
    let gw = gateway(&store, "legacy_one", 3);
    let (group, users) = set_up(&gw).await;
    let gw = std::sync::Arc::new(gw);
    let tasks: Vec<_> = users
        .iter()
        .map(|u| {
            let (gw, group, u) = (gw.clone(), group.clone(), u.clone());
            tokio::spawn(async move { add_member(&gw, &group, &u).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(members_of(&gw, &group).await, MEMBERS);
    let metrics = gw.metrics().await;
    let emulated = metrics
        .lines()
        .find(|l| {
            l.starts_with("scim_gateway_emulated_total")
                && l.contains("upstream=\"legacy_one\"")
                && l.contains("capability=\"patch\"")
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(emulated.ends_with(&format!(" {MEMBERS}")), "{emulated}");
}

#[tokio::test]
async fn fifty_concurrent_additions_through_two_gateways_hold_by_if_match() {
    let store = legacy_store();
    // Each gateway orders its own writes; across the two only If-Match
    // (the store's versions) and the re-read on 412 protect the group.
    let (a, b) = (
        std::sync::Arc::new(gateway(&store, "legacy_two", 20)),
        std::sync::Arc::new(gateway(&store, "legacy_two", 20)),
    );
    let (group, users) = set_up(&a).await;
    let tasks: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let gw = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (group, u) = (group.clone(), u.clone());
            tokio::spawn(async move { add_member(&gw, &group, &u).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(members_of(&b, &group).await, MEMBERS);
}
