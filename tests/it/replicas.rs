//! Replicas sharing one Redis (`[limits] backend = "redis"`): a write
//! through any replica makes every replica's cached answers of the type
//! stale before the write is answered, so no replica serves the old body
//! or the old ETag afterwards; without Redis each replica keeps its own
//! (stale) entry, which is what the shared generations fix. Redis away:
//! reads bypass the cache, writes still answer.
use crate::support::gateway::{token_for, TestGateway};
use crate::support::redis::RedisServer;
use crate::support::store::TestStore;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use std::io::{Read, Write};

/// One replica: the store as upstream, the tenant caching for a minute,
/// and (with `redis`) the shared backend.
fn replica(store: &TestStore, redis: Option<&str>) -> TestGateway {
    let limits = redis.map_or(String::new(), |url| {
        format!("[limits]\nbackend = \"redis\"\nredis_url = \"{url}\"\nreplicas = 2\ntimeout = \"200ms\"\n")
    });
    TestGateway::builder()
        .plaintext()
        .http("store", &store.base_url(), "")
        .raw_upstream(&limits)
        .tenant_with(
            "acme",
            &["acme.localhost"],
            "store",
            "[tenants.cache]\nttl = \"60s\"\n",
        )
        .spawn()
}

async fn send(gw: &TestGateway, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut req = gw
        .client()
        .request(
            method,
            format!(
                "http://acme.localhost:{}/scim/v2{path}",
                gw.bound.public.port()
            ),
        )
        .bearer_auth(token_for("acme"))
        .header("content-type", "application/scim+json");
    if let Some(body) = body {
        req = req.body(body.to_string());
    }
    req.send().await.unwrap()
}

/// `(display name, ETag, served from the cache)` of a GET.
async fn read(gw: &TestGateway, path: &str) -> (String, String, bool) {
    let r = send(gw, Method::GET, path, None).await;
    assert_eq!(r.status(), 200);
    let hit = r.headers().get("x-cache").is_some();
    let etag = r
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body: Value = r.json().await.unwrap();
    (body["displayName"].as_str().unwrap().to_string(), etag, hit)
}

async fn create(gw: &TestGateway, user: &str) -> String {
    let r = send(
        gw,
        Method::POST,
        "/Users",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user,
            "displayName": "before"
        })),
    )
    .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    format!("/Users/{}", body["id"].as_str().unwrap())
}

async fn rename(gw: &TestGateway, path: &str, name: &str) {
    let r = send(
        gw,
        Method::PATCH,
        path,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": name}]
        })),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// A Redis command over a plain socket (no client state in the test).
fn redis_command(redis: &RedisServer, command: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", redis.port)).unwrap();
    s.write_all(format!("{command}\r\n").as_bytes()).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn a_write_through_one_replica_is_never_served_stale_by_another() {
    let store = TestStore::spawn();
    let redis = RedisServer::start();
    let (a, b) = (
        replica(&store, Some(&redis.url())),
        replica(&store, Some(&redis.url())),
    );
    let user = create(&a, "coherent").await;
    // B caches the user.
    let (name, etag_before, hit) = read(&b, &user).await;
    assert_eq!((name.as_str(), hit), ("before", false));
    assert!(
        read(&b, &user).await.2,
        "B serves its second GET from its cache"
    );
    // A renames it; once A has answered, B must not serve the old body.
    rename(&a, &user, "after").await;
    let (name, etag_after, hit) = read(&b, &user).await;
    assert_eq!(name, "after", "B served a stale body after A's write");
    assert!(!hit);
    assert_ne!(etag_before, etag_after, "B served the old ETag");
    // And B caches the new answer again.
    assert!(read(&b, &user).await.2);
    // Writes through B invalidate A's entries the same way.
    assert_eq!(read(&a, &user).await.0, "after");
    assert!(read(&a, &user).await.2);
    rename(&b, &user, "third").await;
    let (name, _, hit) = read(&a, &user).await;
    assert_eq!((name.as_str(), hit), ("third", false));
    // A list of the type is invalidated too (it may contain the user).
    let list = send(
        &b,
        Method::GET,
        "/Users?filter=userName%20eq%20%22coherent%22",
        None,
    )
    .await;
    assert_eq!(list.status(), 200);
    rename(&a, &user, "fourth").await;
    let list = send(
        &b,
        Method::GET,
        "/Users?filter=userName%20eq%20%22coherent%22",
        None,
    )
    .await;
    assert!(list.headers().get("x-cache").is_none());
    let list: Value = list.json().await.unwrap();
    assert_eq!(list["Resources"][0]["displayName"], "fourth");
}

#[tokio::test]
async fn without_shared_generations_each_replica_keeps_its_stale_entry() {
    // The contrast that shows what the shared generations fix: the same
    // sequence with per-process caches serves the old answer.
    let store = TestStore::spawn();
    let (a, b) = (replica(&store, None), replica(&store, None));
    let user = create(&a, "incoherent").await;
    read(&b, &user).await;
    rename(&a, &user, "after").await;
    let (name, _, hit) = read(&b, &user).await;
    assert_eq!((name.as_str(), hit), ("before", true));
}

#[tokio::test]
async fn a_lost_redis_hash_starts_a_new_epoch_not_old_generations() {
    let store = TestStore::spawn();
    let redis = RedisServer::start();
    let (a, b) = (
        replica(&store, Some(&redis.url())),
        replica(&store, Some(&redis.url())),
    );
    let user = create(&a, "epoch").await;
    // B caches the user at generation 0 of the type.
    read(&b, &user).await;
    assert!(read(&b, &user).await.2);
    // Redis loses everything (a restart without persistence), and the
    // user changes before anyone bumps again: the restarted counters are
    // 0 once more, but the epoch is new, so B's entry is unreachable.
    assert!(redis_command(&redis, "FLUSHALL").starts_with("+OK"));
    let outside = reqwest::Client::new()
        .patch(format!("{}{user}", store.base_url()))
        .header("content-type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": "outside"}]
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 200);
    let (name, _, hit) = read(&b, &user).await;
    assert_eq!((name.as_str(), hit), ("outside", false));
}

#[tokio::test]
async fn redis_away_reads_bypass_the_cache_and_writes_still_answer() {
    let store = TestStore::spawn();
    let mut redis = RedisServer::start();
    let (a, b) = (
        replica(&store, Some(&redis.url())),
        replica(&store, Some(&redis.url())),
    );
    let user = create(&a, "away").await;
    read(&b, &user).await;
    assert!(read(&b, &user).await.2);
    redis.stop();
    // B cannot see the generations: it answers from the upstream.
    let (_, _, hit) = read(&b, &user).await;
    assert!(
        !hit,
        "a replica that cannot read the generations served its cache"
    );
    // A write still answers (its invalidation is retried in the
    // background), within the Redis timeout, and reads stay correct.
    let started = std::time::Instant::now();
    rename(&a, &user, "after").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let (name, _, hit) = read(&b, &user).await;
    assert_eq!((name.as_str(), hit), ("after", false));
    let metrics = b.metrics().await;
    assert!(
        metrics.contains(r#"scim_gateway_cache_requests_total{tenant="acme",result="bypass"}"#),
        "{metrics}"
    );
}
