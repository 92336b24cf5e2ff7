//! Redis Sentinel for the shared state (docs/redis.md): one master, one
//! replica and three sentinels (real `redis-server` processes); the
//! gateway finds the master through the sentinels, keeps deciding (on its
//! local share, never hanging) while the master is gone, and decides
//! through the promoted replica again within a bound.
use super::redis_tls::{config, counter, get, tempdir};
use crate::support::echo::EchoUpstream;
use crate::support::process::GatewayProcess;
use crate::support::redis::RedisServer;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const KEY: &str = "scimgw:t:acme";

async fn conn(port: u16) -> redis::aio::MultiplexedConnection {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(Duration::from_secs(2));
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .unwrap()
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap()
}

async fn master_info(sentinel: u16) -> HashMap<String, String> {
    redis::cmd("SENTINEL")
        .arg("master")
        .arg("scimgw")
        .query_async(&mut conn(sentinel).await)
        .await
        .unwrap()
}

async fn get_key(port: u16) -> Option<String> {
    redis::cmd("GET")
        .arg(KEY)
        .query_async(&mut conn(port).await)
        .await
        .unwrap()
}

#[tokio::test]
async fn sentinel_follows_a_failover_and_shared_limits_resume_within_a_bound() {
    let dir = tempdir("sentinel");
    let mut master = RedisServer::start();
    let replica = RedisServer::start_replica_of(master.port);
    let sentinels: Vec<RedisServer> = (0..3)
        .map(|_| RedisServer::start_sentinel(&dir, "scimgw", master.port))
        .collect();
    // Each sentinel must know the replica and the two others before the
    // master goes, or there is nothing to promote and no quorum.
    let deadline = Instant::now() + Duration::from_secs(15);
    for s in &sentinels {
        loop {
            let info = master_info(s.port).await;
            let n = |k: &str| info.get(k).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
            if n("num-slaves") >= 1 && n("num-other-sentinels") >= 2 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the sentinels did not meet: {info:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let echo = EchoUpstream::spawn();
    let addrs: Vec<String> = sentinels
        .iter()
        .map(|s| format!("\"redis://127.0.0.1:{}\"", s.port))
        .collect();
    let limits = format!(
        "[limits]\nbackend = \"redis\"\nredis_url = \"redis://scimgw/0\"\nreplicas = 2\n\
         timeout = \"200ms\"\n\n[limits.redis_sentinel]\nsentinels = [{}]\npoll = \"500ms\"\n",
        addrs.join(", ")
    );
    let gw = GatewayProcess::spawn(&config(&dir, "gw", &limits, &echo.url()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // Through the master the sentinels named: decided by Redis.
    for _ in 0..3 {
        let status = get(&client, &gw).await;
        assert!(matches!(status, 200 | 429), "{status}\n{}", gw.log_tail());
    }
    assert!(get_key(master.port).await.is_some(), "{}", gw.log_tail());
    let fallbacks = "scim_gateway_limit_fallbacks_total";
    assert_eq!(counter(&client, &gw, fallbacks).await, 0.0);

    // The master dies; the replica holds the replicated state, which only
    // the gateway can change once the replica is promoted.
    let deadline = Instant::now() + Duration::from_secs(5);
    let before = loop {
        match get_key(replica.port).await {
            Some(v) if Some(&v) == get_key(master.port).await.as_ref() => break Some(v),
            _ => assert!(Instant::now() < deadline, "not replicated"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    master.stop();
    let killed = Instant::now();
    let followed = loop {
        let asked = Instant::now();
        let status = get(&client, &gw).await;
        assert!(matches!(status, 200 | 429), "{status}\n{}", gw.log_tail());
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "each decision is bounded by the 200 ms timeout, never a hang"
        );
        if get_key(replica.port).await != before {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "the gateway did not follow the failover\n{}",
            gw.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("shared limits through the promoted replica {followed:?} after the master died");
    assert_eq!(
        counter(&client, &gw, "scim_gateway_redis_master_changes_total").await,
        1.0
    );
    assert!(gw.log_count("Redis master moved") >= 1, "{}", gw.log_tail());

    // From now on Redis decides again: no more fallbacks.
    let counted = counter(&client, &gw, fallbacks).await;
    for _ in 0..5 {
        let status = get(&client, &gw).await;
        assert!(matches!(status, 200 | 429), "{status}");
    }
    assert_eq!(
        counter(&client, &gw, fallbacks).await,
        counted,
        "{}",
        gw.log_tail()
    );
}
