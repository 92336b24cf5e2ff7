//! Change events from three replicas sharing one Redis: writes to one
//! resource spread over the replicas (one after another, then all at
//! once) reach the receiver out of order (three outboxes, three
//! dispatchers), and the receiver rule of docs/events.md (keep the highest
//! `resourceversion` per resource) still ends at the upstream's final
//! state. The per-replica `sequence` could not do that.
use crate::support::gateway::{token_for, TestGateway};
use crate::support::redis::RedisServer;
use crate::support::store::TestStore;
use crate::support::webhook::{secret, WebhookReceiver};
use serde_json::{json, Value};
use sha2::Digest;
use std::collections::HashMap;
use std::time::Duration;

fn replica(n: usize, store: &TestStore, redis: &str, receiver: &WebhookReceiver) -> TestGateway {
    let dir = std::env::temp_dir().join(format!(
        "scimgw-replica-events-{}-{}-{n}",
        std::process::id(),
        receiver.addr.port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let secret_file = dir.join("hook.secret");
    std::fs::write(&secret_file, secret(7)).unwrap();
    TestGateway::builder()
        .plaintext()
        .http("store", &store.base_url(), "")
        .raw_upstream(&format!(
            "[events]\npoll_interval = \"20ms\"\n[limits]\nbackend = \"redis\"\nredis_url = \"{redis}\"\nreplicas = 3\ntimeout = \"500ms\"\n"
        ))
        .tenant_with(
            "acme",
            &["acme.localhost"],
            "store",
            &format!(
                "[[tenants.webhooks]]\nname = \"main\"\nurl = \"{}\"\nsecret_file = [\"{}\"]\ninitial_backoff = \"20ms\"\nmax_backoff = \"100ms\"\n",
                receiver.url(),
                secret_file.display()
            ),
        )
        .spawn()
}

async fn send(gw: &TestGateway, method: reqwest::Method, path: &str, body: Value) -> Value {
    let r = gw
        .client()
        .request(
            method,
            format!(
                "http://acme.localhost:{}/scim/v2{path}",
                gw.bound.public.port()
            ),
        )
        .bearer_auth(token_for("acme"))
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

/// `GET key` over a plain socket: the bulk string's text.
fn redis_get(redis: &RedisServer, key: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    s.write_all(format!("GET {key}\r\n").as_bytes()).unwrap();
    let mut buf = [0u8; 128];
    let n = s.read(&mut buf).unwrap();
    let reply = String::from_utf8_lossy(&buf[..n]).into_owned();
    reply.lines().nth(1).unwrap_or_default().to_string()
}

fn rename(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": name}]
    })
}

#[tokio::test]
async fn events_of_one_resource_from_three_replicas_order_by_resourceversion() {
    let store = TestStore::spawn();
    let redis = RedisServer::start();
    let receiver = WebhookReceiver::spawn(&[&secret(7)]);
    let replicas: Vec<TestGateway> = (0..3)
        .map(|n| replica(n, &store, &redis.url(), &receiver))
        .collect();
    let created = send(
        &replicas[0],
        reqwest::Method::POST,
        "/Groups",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "n-create"}),
    )
    .await;
    let path = format!("/Groups/{}", created["id"].as_str().unwrap());
    // One after another, round-robin over the replicas.
    let sequential = 24;
    for i in 0..sequential {
        let name = format!("n{i:02}");
        send(
            &replicas[i % 3],
            reqwest::Method::PATCH,
            &path,
            rename(&name),
        )
        .await;
    }
    // All at once: the leases order them, in an order nobody chose.
    let concurrent = 24;
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..concurrent {
        let port = replicas[i % 3].bound.public.port();
        let client = replicas[i % 3].client();
        let (path, body) = (path.clone(), rename(&format!("c{i:02}")));
        writes.spawn(async move {
            client
                .patch(format!("http://acme.localhost:{port}/scim/v2{path}"))
                .bearer_auth(token_for("acme"))
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(status) = writes.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    let total = 1 + sequential + concurrent;
    let received = receiver
        .wait_for_distinct(total, Duration::from_secs(30))
        .await;
    let mut events: HashMap<String, Value> = HashMap::new();
    for r in received {
        events.insert(r.id.clone(), r.body);
    }
    let mut events: Vec<Value> = events.into_values().collect();
    assert_eq!(events.len(), total);
    let version = |e: &Value| e["resourceversion"].as_str().unwrap().to_string();
    let name = |e: &Value| e["data"]["displayName"].as_str().unwrap().to_string();
    events.sort_by_key(version);
    let versions: Vec<String> = events.iter().map(version).collect();
    let mut unique = versions.clone();
    unique.dedup();
    assert_eq!(unique.len(), total, "every write has its own version");
    assert!(versions.iter().all(|v| v.len() == 20));
    // In version order: the create, then the sequential writes in the
    // order they were made.
    let names: Vec<String> = events.iter().map(name).collect();
    assert_eq!(names[0], "n-create");
    let expected: Vec<String> = (0..sequential).map(|i| format!("n{i:02}")).collect();
    assert_eq!(names[1..=sequential], expected[..]);
    // The receiver rule ends at the upstream's state, whatever order the
    // three outboxes delivered in.
    let last = events.last().unwrap();
    let upstream: Value = reqwest::get(format!("{}{path}", store.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(name(last), upstream["displayName"].as_str().unwrap());
    let mut delivered = receiver.received();
    delivered.dedup_by(|a, b| a.id == b.id);
    let mut applied: Option<(String, String)> = None;
    for r in &delivered {
        let (v, n) = (version(&r.body), name(&r.body));
        if applied.as_ref().is_none_or(|(seen, _)| v > *seen) {
            applied = Some((v, n));
        }
    }
    assert_eq!(
        applied.unwrap().1,
        upstream["displayName"].as_str().unwrap()
    );
    // The versions came from Redis (one clock for every replica): it
    // holds the last one under the resource's key.
    let id = created["id"].as_str().unwrap();
    let digest = sha2::Sha256::digest(format!("Group\u{0}{id}").as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    let stored = redis_get(&redis, &format!("scimgw:ver:acme:{hex}"));
    assert_eq!(
        stored.parse::<u64>().unwrap(),
        version(last).parse::<u64>().unwrap()
    );
    // The per-replica sequence does not order them: in write order it
    // goes back (three outboxes, three counters).
    let sequences: Vec<u64> = events[1..=sequential]
        .iter()
        .map(|e| e["sequence"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(sequences.windows(2).any(|w| w[1] <= w[0]), "{sequences:?}");
}

#[tokio::test]
async fn redis_away_events_take_the_replica_clock_and_keep_growing() {
    let store = TestStore::spawn();
    let mut redis = RedisServer::start();
    let receiver = WebhookReceiver::spawn(&[&secret(7)]);
    let gw = replica(9, &store, &redis.url(), &receiver);
    let created = send(
        &gw,
        reqwest::Method::POST,
        "/Groups",
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g"}),
    )
    .await;
    let path = format!("/Groups/{}", created["id"].as_str().unwrap());
    redis.stop();
    send(&gw, reqwest::Method::PATCH, &path, rename("without redis")).await;
    let received = receiver.wait_for_distinct(2, Duration::from_secs(30)).await;
    let version = |name: &str| {
        received
            .iter()
            .find(|r| r.body["data"]["displayName"] == name)
            .map(|r| r.body["resourceversion"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert!(version("without redis") > version("g"));
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains(r#"scim_gateway_event_version_fallbacks_total{tenant="acme"}"#),
        "{metrics}"
    );
}
