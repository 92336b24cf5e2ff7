//! One limit for several replicas: two gateway processes share a tenant's
//! rate through a real Redis; when Redis goes away each enforces its
//! share locally (neither failing open nor blocking) and counts it.
use crate::support::echo::EchoUpstream;
use crate::support::gateway::token_for;
use crate::support::process::GatewayProcess;
use crate::support::redis::RedisServer;
use scim_gateway::authn::static_token::hash_token_hex;
use std::time::{Duration, Instant};

fn config(dir: &std::path::Path, n: usize, redis: &str, echo: &str) -> std::path::PathBuf {
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

[limits]
backend = "redis"
redis_url = "{redis}"
replicas = 2
timeout = "100ms"

[upstreams.echo]
kind = "http"
url = "{echo}"

[[tenants]]
id = "acme"
hosts = ["acme.localhost"]
upstream = "echo"
[[tenants.tokens]]
name = "idp"
hash = "{hash}"
[tenants.limits]
rate = 1
burst = 4
"#,
        hash = hash_token_hex(&token_for("acme"))
    );
    let path = dir.join(format!("replica-{n}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

async fn get(client: &reqwest::Client, gw: &GatewayProcess) -> u16 {
    client
        .get(format!("http://{}/scim/v2/Users", gw.public))
        .header("host", "acme.localhost")
        .bearer_auth(token_for("acme"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn two_replicas_enforce_one_limit_and_fall_back_to_their_share() {
    let mut redis = RedisServer::start();
    let echo = EchoUpstream::spawn();
    let dir = std::env::temp_dir().join(format!("scimgw-shared-{}", redis.port));
    std::fs::create_dir_all(&dir).unwrap();
    let a = GatewayProcess::spawn(&config(&dir, 1, &redis.url(), &echo.url()));
    let b = GatewayProcess::spawn(&config(&dir, 2, &redis.url(), &echo.url()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // 12 requests spread over both replicas: one budget of 4 (plus at
    // most one refill while they run), not 4 per replica.
    let started = Instant::now();
    let mut ok = 0;
    for i in 0..12 {
        let gw = if i % 2 == 0 { &a } else { &b };
        match get(&client, gw).await {
            200 => ok += 1,
            429 => {}
            other => panic!("unexpected {other}"),
        }
    }
    let refills = started.elapsed().as_secs() as usize + 1;
    assert!(
        (4..=4 + refills).contains(&ok),
        "{ok} allowed by two replicas sharing a burst of 4"
    );
    assert_eq!(echo.hits(), ok);

    // Redis goes away: each replica enforces half the limit (a burst of
    // 2 each), answers at once, and counts the fallback.
    redis.stop();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut ok = 0;
    for i in 0..12 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let asked = Instant::now();
        match get(&client, gw).await {
            200 => ok += 1,
            429 => {}
            other => panic!("unexpected {other} without Redis"),
        }
        assert!(asked.elapsed() < Duration::from_secs(2), "no request hangs");
    }
    assert!((2..=6).contains(&ok), "{ok} allowed on local shares");
    let metrics = client
        .get(format!("http://{}/metrics", a.admin.unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("scim_gateway_limit_fallbacks_total"),
        "the fallback is counted"
    );
}
