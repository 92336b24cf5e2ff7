//! Write ordering across replicas: two gateway processes in front of one
//! upstream that notices overlapping writes. With `[limits] backend =
//! "redis"` the writes to one resource reach the upstream one at a time,
//! whichever replica they came through; without Redis each replica only
//! orders its own writes, so the two replicas overlap (at most two at
//! once: one per replica).
use crate::support::gateway::token_for;
use crate::support::process::GatewayProcess;
use crate::support::redis::RedisServer;
use crate::support::writes::WriteRecorder;
use scim_gateway::authn::static_token::hash_token_hex;
use std::time::Duration;

fn config(
    dir: &std::path::Path,
    n: usize,
    redis: Option<&str>,
    upstream: &str,
) -> std::path::PathBuf {
    let limits = redis.map_or(String::new(), |url| {
        format!("[limits]\nbackend = \"redis\"\nredis_url = \"{url}\"\nreplicas = 2\ntimeout = \"200ms\"\n")
    });
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
plaintext = true
auth_failure_limit = 0

[admin]
listen = "127.0.0.1:0"

# Each replica has its own audit log.
[audit]
dir = "audit-{n}"

{limits}
[upstreams.app]
kind = "http"
url = "{upstream}"

[[tenants]]
id = "acme"
hosts = ["acme.localhost"]
upstream = "app"
[[tenants.tokens]]
name = "idp"
hash = "{hash}"
"#,
        hash = hash_token_hex(&token_for("acme"))
    );
    let path = dir.join(format!("replica-{n}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

async fn metrics(gw: &GatewayProcess) -> String {
    reqwest::get(format!("http://{}/metrics", gw.admin.unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// 10 concurrent PATCHes of one group through each replica; every status.
async fn patch_through_both(a: &GatewayProcess, b: &GatewayProcess) -> Vec<u16> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let gw = if i % 2 == 0 { a.public } else { b.public };
        let client = client.clone();
        tasks.spawn(async move {
            client
                .patch(format!("http://{gw}/scim/v2/Groups/g1"))
                .header("host", "acme.localhost")
                .header("content-type", "application/scim+json")
                .bearer_auth(token_for("acme"))
                .body(format!(
                    r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"add","path":"members","value":[{{"value":"u{i}"}}]}}]}}"#
                ))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(s) = tasks.join_next().await {
        statuses.push(s.unwrap());
    }
    statuses
}

#[tokio::test]
async fn two_replicas_write_one_resource_one_at_a_time_through_redis() {
    let redis = RedisServer::start();
    let upstream = WriteRecorder::spawn(Duration::from_millis(25));
    let dir = std::env::temp_dir().join(format!("scimgw-order-{}", redis.port));
    std::fs::create_dir_all(&dir).unwrap();

    let a = GatewayProcess::spawn(&config(&dir, 1, Some(&redis.url()), &upstream.url()));
    let b = GatewayProcess::spawn(&config(&dir, 2, Some(&redis.url()), &upstream.url()));
    let statuses = patch_through_both(&a, &b).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(upstream.writes(), 20);
    assert_eq!(
        upstream.max_overlap(),
        1,
        "one write of the group at a time"
    );
    assert!(!metrics(&a)
        .await
        .contains("scim_gateway_write_order_fallback_total"));

    // Redis goes away: the writes still succeed, ordered per replica, and
    // the fallback is counted.
    let mut redis = redis;
    redis.stop();
    let statuses = patch_through_both(&a, &b).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(metrics(&a)
        .await
        .contains("scim_gateway_write_order_fallback_total"));
    drop((a, b));

    // Without Redis each replica orders only its own writes.
    upstream.reset();
    let a = GatewayProcess::spawn(&config(&dir, 3, None, &upstream.url()));
    let b = GatewayProcess::spawn(&config(&dir, 4, None, &upstream.url()));
    let statuses = patch_through_both(&a, &b).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        upstream.max_overlap(),
        2,
        "per replica only: the two replicas overlap"
    );
}

#[tokio::test]
async fn a_lease_left_by_a_crashed_replica_expires() {
    let redis = RedisServer::start();
    let upstream = WriteRecorder::spawn(Duration::from_millis(1));
    let dir = std::env::temp_dir().join(format!("scimgw-order-crash-{}", redis.port));
    std::fs::create_dir_all(&dir).unwrap();
    let gw = GatewayProcess::spawn(&config(&dir, 1, Some(&redis.url()), &upstream.url()));

    // A replica took the lease of /Groups/g1 and died: nobody releases it.
    let order = {
        let route = scim_gateway::scim::route::Route::parse(
            "/Groups/g1",
            &scim_gateway::scim::schema::SchemaRegistry::builtin(),
        )
        .unwrap();
        scim_gateway::limit::ordering::WriteOrder::key("acme", &http::Method::PATCH, &route)
            .unwrap()
    };
    let key = scim_gateway::limit::lease::lease_key("scimgw", &order);
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let set: Option<String> = redis::cmd("SET")
        .arg(&key)
        .arg("dead-replica")
        .arg("NX")
        .arg("PX")
        .arg(800)
        .query(&mut conn)
        .unwrap();
    assert_eq!(set.as_deref(), Some("OK"));

    let started = std::time::Instant::now();
    let client = reqwest::Client::new();
    let status = client
        .patch(format!("http://{}/scim/v2/Groups/g1", gw.public))
        .header("host", "acme.localhost")
        .header("content-type", "application/scim+json")
        .bearer_auth(token_for("acme"))
        .body(r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"u1"}]}]}"#)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(600),
        "waited for the lease: {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    // Another resource of the tenant is not held up.
    let started = std::time::Instant::now();
    let status = client
        .put(format!("http://{}/scim/v2/Users/u1", gw.public))
        .header("host", "acme.localhost")
        .header("content-type", "application/scim+json")
        .bearer_auth(token_for("acme"))
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u1"}"#)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_millis(500));
    // The gateway gave its own lease back.
    let left: Option<String> = redis::cmd("GET").arg(&key).query(&mut conn).unwrap();
    assert!(left.is_none(), "{left:?}");
}
