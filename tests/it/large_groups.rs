//! A large Group through the gateway to the built-in store over HTTP:
//! member PATCHes as the IdPs send them (no `attributes` parameters) are
//! answered 204, so no answer, event or audit record carries the whole
//! membership; a client that asks for attributes gets 200 with them; the
//! changes land, and each is journaled and delivered as a
//! `scim.group.membership.changed` event built from the request.
use crate::support::gateway::{token_for, TestGateway};
use crate::support::store::TestStore;
use crate::support::webhook::{secret, WebhookReceiver};
use bytes::Bytes;
use http::Request;
use scim_gateway::store::{Store, StoreConfig};
use serde_json::{json, Value};
use std::time::Duration;

const MEMBERS: usize = 2_000;
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A POST straight to the store (no socket): the new resource's id.
fn create(store: &Store, endpoint: &str, body: Value) -> String {
    let req = Request::builder()
        .method("POST")
        .uri(endpoint)
        .header("content-type", "application/scim+json")
        .body(Bytes::from(body.to_string()))
        .unwrap();
    let resp = store.handle_at(&req, "http://localhost/scim/v2", endpoint);
    assert_eq!(resp.status(), 201, "{:?}", resp.body());
    let created: Value = serde_json::from_slice(resp.body()).unwrap();
    created["id"].as_str().unwrap().to_string()
}

fn user(store: &Store, name: &str) -> String {
    create(
        store,
        "/Users",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}),
    )
}

fn ops(list: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": list})
}

#[tokio::test]
async fn member_patches_of_a_large_group_are_answered_204_journaled_and_delivered() {
    let store = TestStore::spawn_with(StoreConfig {
        max_resources: MEMBERS + 10,
        ..StoreConfig::default()
    });
    let members: Vec<Value> = (0..MEMBERS)
        .map(|i| json!({"value": user(store.store(), &format!("m{i}"))}))
        .collect();
    let gid = create(
        store.store(),
        "/Groups",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
               "displayName": "everyone", "members": members}),
    );
    let newcomer = user(store.store(), "newcomer");

    let key = secret(3);
    let receiver = WebhookReceiver::spawn(&[&key]);
    let dir = std::env::temp_dir().join(format!(
        "scimgw-large-groups-{}-{}",
        std::process::id(),
        receiver.addr.port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("hook.secret");
    std::fs::write(&secret_file, &key).unwrap();
    let gw = TestGateway::builder()
        .http("store", &store.base_url(), "")
        .raw_upstream("[events]\npoll_interval = \"20ms\"\n")
        .tenant_with(
            "acme",
            &["acme.localhost"],
            "store",
            &format!(
                "[[tenants.webhooks]]\nname = \"main\"\nurl = \"{}\"\nsecret_file = [\"{}\"]\n",
                receiver.url(),
                secret_file.display()
            ),
        )
        .spawn();
    let group = format!("{}/Groups/{gid}", gw.base("acme.localhost"));
    let patch = |query: &'static str, body: Value| {
        gw.client()
            .patch(format!("{group}{query}"))
            .bearer_auth(token_for("acme"))
            .header("content-type", "application/scim+json")
            .header("x-request-id", "req-large-group")
            .body(body.to_string())
            .send()
    };
    let get = |query: &'static str| {
        gw.client()
            .get(format!("{group}{query}"))
            .bearer_auth(token_for("acme"))
            .send()
    };

    // Add and remove one member, as Entra ID and Okta send them.
    let add = ops(json!([{"op": "add", "path": "members", "value": [{"value": newcomer}]}]));
    let added = patch("", add).await.unwrap();
    assert_eq!(added.status(), 204);
    let etag = added.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(added.bytes().await.unwrap().len(), 0);
    let seen = get("?excludedAttributes=members").await.unwrap();
    assert_eq!(seen.status(), 200);
    let seen: Value = seen.json().await.unwrap();
    assert!(seen.get("members").is_none(), "{seen}");
    assert_eq!(
        seen["meta"]["version"],
        etag.as_str(),
        "the ETag is the new version"
    );
    let all: Value = get("").await.unwrap().json().await.unwrap();
    assert_eq!(all["members"].as_array().unwrap().len(), MEMBERS + 1);

    let remove = ops(json!([{"op": "remove",
                             "path": format!("members[value eq \"{newcomer}\"]")}]));
    let removed = patch("", remove).await.unwrap();
    assert_eq!(removed.status(), 204);
    let all: Value = get("").await.unwrap().json().await.unwrap();
    assert_eq!(all["members"].as_array().unwrap().len(), MEMBERS);

    // Asked for attributes, the client gets 200 with what it asked for.
    let add = ops(json!([{"op": "add", "path": "members", "value": [{"value": newcomer}]}]));
    let projected = patch("?excludedAttributes=members", add).await.unwrap();
    assert_eq!(projected.status(), 200);
    let projected: Value = projected.json().await.unwrap();
    assert_eq!(projected["id"], gid.as_str());
    assert!(projected.get("members").is_none(), "{projected}");

    // Three membership events, none carrying the whole membership: the
    // 204s' data come from the requests.
    let received = receiver.wait_for_distinct(3, Duration::from_secs(20)).await;
    assert!(received
        .iter()
        .all(|r| r.body["type"] == "scim.group.membership.changed"
            && r.body["subject"] == gid.as_str()));
    assert_eq!(
        received[0].body["data"]["members"],
        json!([{"value": newcomer}])
    );
    assert!(
        received[1].body["data"].get("members").is_none(),
        "{:?}",
        received[1].body
    );
    assert!(received.iter().all(|r| r.body.to_string().len() < 4096));

    // Each PATCH journaled with the status the client got.
    let mut statuses = Vec::new();
    for entry in std::fs::read_dir(gw.dir.join("audit")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        for line in text.lines() {
            let record: Value = serde_json::from_str(line).unwrap();
            if record["request_id"] == "req-large-group" {
                statuses.push(record["outcome"]["status"].as_u64().unwrap());
            }
        }
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 204, 204]);
}
