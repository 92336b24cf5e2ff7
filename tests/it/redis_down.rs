//! The Redis-down policy (docs/redis.md) with a hung Redis (SIGSTOP:
//! connections open, nothing answers), the hardest case for a timeout:
//! limits fall back to each replica's share and writes to the local order,
//! each request waits at most one `timeout` for Redis (then the hold-off
//! answers at once), nothing fails, both fallbacks are counted, and once
//! Redis answers again it decides again within the hold-off.
use super::redis_tls::{config, counter, get, put, tempdir};
use crate::support::echo::EchoUpstream;
use crate::support::process::GatewayProcess;
use crate::support::redis::RedisServer;
use std::time::{Duration, Instant};

/// A Redis, an echo upstream and one gateway process sharing limits and
/// write order through that Redis with the given decision `timeout`.
struct Rig {
    redis: RedisServer,
    gw: GatewayProcess,
    client: reqwest::Client,
    _echo: EchoUpstream,
}

impl Rig {
    fn start(name: &str, timeout: &str) -> Rig {
        let dir = tempdir(name);
        let redis = RedisServer::start();
        let echo = EchoUpstream::spawn();
        let limits = format!(
            "[limits]\nbackend = \"redis\"\nredis_url = \"{}\"\nreplicas = 2\ntimeout = \"{timeout}\"\n",
            redis.url()
        );
        let gw = GatewayProcess::spawn(&config(&dir, "gw", &limits, &echo.url()));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Rig {
            redis,
            gw,
            client,
            _echo: echo,
        }
    }
}

#[tokio::test]
async fn a_hung_redis_costs_one_timeout_then_falls_back_and_is_asked_again_when_back() {
    let rig = Rig::start("redis-down", "200ms");
    let (redis, gw, client) = (&rig.redis, &rig.gw, &rig.client);
    assert_eq!(get(client, gw).await, 200);
    assert!(put(client, gw).await < 500);
    let limit_fallbacks = "scim_gateway_limit_fallbacks_total";
    let order_fallbacks = "scim_gateway_write_order_fallback_total";
    assert_eq!(counter(client, gw, limit_fallbacks).await, 0.0);
    assert_eq!(counter(client, gw, order_fallbacks).await, 0.0);

    redis.pause();
    let mut slow = 0;
    for i in 0..10 {
        let asked = Instant::now();
        let status = if i % 2 == 0 {
            get(client, gw).await
        } else {
            put(client, gw).await
        };
        let took = asked.elapsed();
        assert!(
            matches!(status, 200 | 429) || (i % 2 == 1 && status < 500),
            "{status}"
        );
        assert!(took < Duration::from_secs(1), "bounded: {took:?}");
        if took >= Duration::from_millis(150) {
            slow += 1;
        }
    }
    // The first request pays the timeout; the hold-off answers the rest at
    // once (one more may pay if the second's hold-off ended meanwhile).
    assert!(
        (1..=2).contains(&slow),
        "{slow} of 10 requests waited for Redis"
    );
    assert!(counter(client, gw, limit_fallbacks).await >= 1.0);
    assert!(counter(client, gw, order_fallbacks).await >= 1.0);

    redis.resume();
    let back = Instant::now();
    loop {
        let before = counter(client, gw, limit_fallbacks).await;
        let status = get(client, gw).await;
        assert!(matches!(status, 200 | 429), "{status}");
        if counter(client, gw, limit_fallbacks).await == before {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(3),
            "Redis decides again after the hold-off\n{}",
            gw.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A Redis restarted empty at the same address (a crash without
/// persistence): under steady traffic the gateway uses it again within a
/// few hold-offs, and its limit decisions stop falling back.
#[tokio::test]
async fn a_restarted_redis_is_used_again_within_seconds() {
    let mut rig = Rig::start("redis-restart", "200ms");
    let (redis, gw, client) = (&mut rig.redis, &rig.gw, &rig.client);
    let fallbacks = "scim_gateway_limit_fallbacks_total";
    assert_eq!(get(client, gw).await, 200);
    assert_eq!(counter(client, gw, fallbacks).await, 0.0);
    // Six clients at once, all the time, as an IdP's sync would.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (client, stop, gw_public) = (client.clone(), stop.clone(), gw.public);
        load.spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = client
                    .get(format!("http://{gw_public}/scim/v2/Users?count=1"))
                    .header("host", "acme.localhost")
                    .bearer_auth(crate::support::gateway::token_for("acme"))
                    .send()
                    .await;
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart();
    let restarted = Instant::now();
    // Recovered once the fallbacks stop growing for longer than a hold-off.
    let (mut last, mut still_since) = (counter(client, gw, fallbacks).await, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = counter(client, gw, fallbacks).await;
        if now != last {
            (last, still_since) = (now, Instant::now());
        } else if still_since.elapsed() > Duration::from_millis(1500) {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(8),
            "8 s after the restart the limits still fall back ({now} so far)"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    while load.join_next().await.is_some() {}
    eprintln!(
        "redis restart: used again after {:?} ({last} fallbacks)",
        still_since - restarted
    );
}

/// Redis restarted while the gateway was idle: its pooled connection is
/// dead, and only the next command finds out. That command is tried again
/// at once on a new connection, so the restart costs no decision at all:
/// not a limit taken locally, not a write out of the shared order, and no
/// hold-off that would let every replica grant a fresh local burst.
#[tokio::test]
async fn an_idle_connection_to_a_restarted_redis_costs_no_fallback() {
    let mut rig = Rig::start("redis-idle-restart", "500ms");
    let (redis, gw, client) = (&mut rig.redis, &rig.gw, &rig.client);
    let limit_fallbacks = "scim_gateway_limit_fallbacks_total";
    let order_fallbacks = "scim_gateway_write_order_fallback_total";
    for round in 0..3 {
        assert!(matches!(get(client, gw).await, 200 | 429));
        assert!(put(client, gw).await < 500);
        // The write's lease is given back after its answer: let that end
        // (a release cut by the restart would be a failure of Redis).
        tokio::time::sleep(Duration::from_millis(300)).await;
        redis.restart();
        for _ in 0..5 {
            assert!(matches!(get(client, gw).await, 200 | 429));
            assert!(put(client, gw).await < 500);
        }
        assert_eq!(
            counter(client, gw, limit_fallbacks).await,
            0.0,
            "round {round}: a limit decided locally after the restart\n{}",
            gw.log_tail()
        );
        assert_eq!(
            counter(client, gw, order_fallbacks).await,
            0.0,
            "round {round}: a write left the shared order after the restart\n{}",
            gw.log_tail()
        );
    }
}
