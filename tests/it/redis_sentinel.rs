//! Redis Sentinel for the shared state (docs/redis.md): one master, one
//! replica and three sentinels (real `redis-server` processes); the
//! gateway finds the master through the sentinels, keeps deciding (on its
//! local share, never hanging) while the master is gone, and decides
//! through the promoted replica again within a bound. The same with
//! everything in TLS (servers, replication, sentinels, the gateway with a
//! client certificate from the test PKI).
use super::redis_tls::{config, counter, get, pki, put, tempdir};
use crate::support::echo::EchoUpstream;
use crate::support::process::GatewayProcess;
use crate::support::redis::{RedisServer, RedisTlsFiles};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const KEY: &str = "scimgw:t:acme";

async fn conn(
    port: u16,
    tls: Option<&redis::TlsCertificates>,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(Duration::from_secs(2));
    match tls {
        None => redis::Client::open(format!("redis://127.0.0.1:{port}")),
        Some(certs) => {
            redis::Client::build_with_tls(format!("rediss://127.0.0.1:{port}"), certs.clone())
        }
    }?
    .get_multiplexed_async_connection_with_config(&config)
    .await
}

/// `cmd` on the server at `port`, tried again for a second (a server
/// mid-failover may drop a connection of the test's own).
async fn query<T: redis::FromRedisValue>(
    port: u16,
    tls: Option<&redis::TlsCertificates>,
    cmd: &redis::Cmd,
) -> T {
    let mut last = None;
    for _ in 0..10 {
        let answer = async { cmd.query_async(&mut conn(port, tls).await?).await };
        match answer.await {
            Ok(v) => return v,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{port}: {last:?}")
}

async fn master_info(
    sentinel: u16,
    tls: Option<&redis::TlsCertificates>,
) -> HashMap<String, String> {
    let mut cmd = redis::cmd("SENTINEL");
    cmd.arg("master").arg("scimgw");
    query(sentinel, tls, &cmd).await
}

async fn get_key(port: u16, tls: Option<&redis::TlsCertificates>) -> Option<String> {
    query(port, tls, redis::cmd("GET").arg(KEY)).await
}

#[tokio::test]
async fn sentinel_follows_a_failover_and_shared_limits_resume_within_a_bound() {
    failover(false).await;
}

#[tokio::test]
async fn sentinel_over_tls_follows_a_failover_too() {
    failover(true).await;
}

async fn failover(tls: bool) {
    let dir = tempdir(if tls { "sentinel-tls" } else { "sentinel" });
    let pki = tls.then(|| pki(&dir));
    let files = pki.as_ref().map(|p| RedisTlsFiles {
        ca: &p.ca,
        cert: &p.server_cert,
        key: &p.server_key,
        auth_clients: true,
        client: Some((&p.client_cert, &p.client_key)),
    });
    let certs = pki.as_ref().map(|p| redis::TlsCertificates {
        client_tls: Some(redis::ClientTlsConfig {
            client_cert: std::fs::read(&p.client_cert).unwrap(),
            client_key: std::fs::read(&p.client_key).unwrap(),
        }),
        root_cert: Some(std::fs::read(&p.ca).unwrap()),
    });
    let certs = certs.as_ref();
    let mut master = match &files {
        None => RedisServer::start(),
        Some(f) => RedisServer::start_tls(f),
    };
    let replica = match &files {
        None => RedisServer::start_replica_of(master.port),
        Some(f) => {
            let of = [
                "--replicaof".into(),
                "127.0.0.1".into(),
                master.port.to_string(),
            ];
            RedisServer::start_tls_with(f, &of)
        }
    };
    let sentinels: Vec<RedisServer> = (0..3)
        .map(|_| match &files {
            None => RedisServer::start_sentinel(&dir, "scimgw", master.port),
            Some(f) => RedisServer::start_tls_sentinel(&dir, "scimgw", master.port, f),
        })
        .collect();
    // Each sentinel must know the replica and the two others before the
    // master goes, or there is nothing to promote and no quorum.
    let deadline = Instant::now() + Duration::from_secs(15);
    for s in &sentinels {
        loop {
            let info = master_info(s.port, certs).await;
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
    let scheme = if tls { "rediss" } else { "redis" };
    let addrs: Vec<String> = sentinels
        .iter()
        .map(|s| format!("\"{scheme}://127.0.0.1:{}\"", s.port))
        .collect();
    let mut limits = format!(
        "[limits]\nbackend = \"redis\"\nredis_url = \"{scheme}://scimgw/0\"\nreplicas = 2\n\
         timeout = \"200ms\"\n\n[limits.redis_sentinel]\nsentinels = [{}]\npoll = \"500ms\"\n",
        addrs.join(", ")
    );
    if let Some(p) = &pki {
        limits.push_str(&format!(
            "\n[limits.redis_tls]\nca_file = \"{}\"\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"\n",
            p.ca.display(),
            p.client_cert.display(),
            p.client_key.display()
        ));
    }
    let gw = GatewayProcess::spawn(&config(&dir, "gw", &limits, &echo.url()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // Through the master the sentinels named: decided by Redis (the first
    // connection may take longer than one decision's timeout on a loaded
    // host; it is made in the background meanwhile).
    let fallbacks = "scim_gateway_limit_fallbacks_total";
    let deadline = Instant::now() + Duration::from_secs(5);
    while get_key(master.port, certs).await.is_none() {
        let status = get(&client, &gw).await;
        assert!(matches!(status, 200 | 429), "{status}\n{}", gw.log_tail());
        assert!(
            Instant::now() < deadline,
            "never through Redis\n{}",
            gw.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let counted = counter(&client, &gw, fallbacks).await;
    for _ in 0..3 {
        let status = get(&client, &gw).await;
        assert!(matches!(status, 200 | 429), "{status}\n{}", gw.log_tail());
    }
    assert_eq!(
        counter(&client, &gw, fallbacks).await,
        counted,
        "{}",
        gw.log_tail()
    );

    // The master dies; the replica holds the replicated state, which only
    // the gateway can change once the replica is promoted.
    let deadline = Instant::now() + Duration::from_secs(5);
    let before = loop {
        match get_key(replica.port, certs).await {
            Some(v) if Some(&v) == get_key(master.port, certs).await.as_ref() => break Some(v),
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
        // A new value (the old one may expire meanwhile: not a write).
        let now = get_key(replica.port, certs).await;
        if now.is_some() && now != before {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(15),
            "the gateway did not follow the failover\n{}",
            gw.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("shared limits through the promoted replica {followed:?} after the master died (tls: {tls})");
    assert_eq!(
        counter(&client, &gw, "scim_gateway_redis_master_changes_total").await,
        1.0
    );
    assert!(gw.log_count("Redis master moved") >= 1, "{}", gw.log_tail());

    // From now on Redis decides again: no more fallbacks, neither for the
    // limits nor for the write-order leases.
    let order_fallbacks = "scim_gateway_write_order_fallback_total";
    let counted = counter(&client, &gw, fallbacks).await;
    let ordered = counter(&client, &gw, order_fallbacks).await;
    let mut written = 0;
    for _ in 0..3 {
        // A second apart: the tenant's rate (1/s) lets each through.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let status = put(&client, &gw).await;
        assert!(status < 500, "{status}");
        // Past the limits: this write took its turn and lease.
        written += usize::from((200..300).contains(&status));
    }
    assert!(written >= 1, "no write got past the limits");
    let log = gw.log_tail();
    assert_eq!(counter(&client, &gw, fallbacks).await, counted, "{log}");
    assert_eq!(
        counter(&client, &gw, order_fallbacks).await,
        ordered,
        "{log}"
    );
}

/// A stand-in sentinel that names `addr` as the master of any service
/// (a stale or lying sentinel), and says OK to anything else.
async fn fake_sentinel(addr: u16) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    // One command: *N, then N bulk strings.
                    let mut line = String::new();
                    if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let n: usize = line.trim()[1..].parse().unwrap_or(0);
                    let mut args = Vec::new();
                    for _ in 0..n {
                        line.clear();
                        stream.read_line(&mut line).await.unwrap();
                        let len: usize = line.trim()[1..].parse().unwrap();
                        let mut arg = vec![0; len + 2];
                        stream.read_exact(&mut arg).await.unwrap();
                        args.push(String::from_utf8_lossy(&arg[..len]).to_string());
                    }
                    let reply = if args[0].eq_ignore_ascii_case("SENTINEL") {
                        let port = addr.to_string();
                        format!("*2\r\n$9\r\n127.0.0.1\r\n${}\r\n{port}\r\n", port.len())
                    } else {
                        "+OK\r\n".to_string()
                    };
                    stream.get_mut().write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn a_sentinel_naming_a_replica_is_not_followed() {
    use scim_gateway::redis_conn::{RedisLink, RedisSettings, SentinelSettings, SharedRedis};
    let master = RedisServer::start();
    let replica = RedisServer::start_replica_of(master.port);
    let shared = |sentinel: u16| {
        let settings = RedisSettings {
            url: "redis://scimgw/0".into(),
            replicas: 1,
            timeout: Duration::from_millis(500),
            prefix: "t".into(),
        };
        let link = RedisLink {
            sentinel: Some(SentinelSettings {
                master_name: "scimgw".into(),
                sentinels: vec![format!("redis://127.0.0.1:{sentinel}")],
                poll: Duration::from_secs(1),
            }),
            ..RedisLink::default()
        };
        SharedRedis::new(settings, link).unwrap()
    };
    // Named a replica: no connection, so no write can go there.
    let lying = shared(fake_sentinel(replica.port).await);
    let refused = lying.connection().await.err().unwrap().to_string();
    assert!(refused.contains("not a master"), "{refused}");
    assert_eq!(lying.master_addr(), None);
    // Named the master: used.
    let honest = shared(fake_sentinel(master.port).await);
    let mut conn = honest.connection().await.ok().unwrap();
    let pong: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
    assert_eq!(pong, "PONG");
    assert_eq!(
        honest.master_addr(),
        Some(format!("127.0.0.1:{}", master.port))
    );
}
