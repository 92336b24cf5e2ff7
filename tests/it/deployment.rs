//! A real deployment, end to end: Debian's HAProxy (TCP, PROXY protocol
//! v2) in front of three gateway processes that share one Redis, the
//! Kafka-compatible broker tansu as the events sink, and the built-in store
//! as the upstream over HTTP. IdP-like writers, each from its own address,
//! write through the balancer and read back after every acknowledged write,
//! while one replica is SIGKILLed and restarted and Redis is restarted once.
//!
//! Afterwards: every acknowledged write is in some replica's audit log with
//! the writer's address; its event reached Kafka; per resource, the event
//! with the highest `resourceversion` carries the upstream's final state;
//! no read after an acknowledged write saw an older value; and a rate
//! shared by the three replicas held within 10%, before and after the
//! Redis restart.
use crate::support::gateway::token_for;
use crate::support::haproxy::{HaProxy, Mode, Proxy};
use crate::support::kafka_topic::{create_topic, TopicReader};
use crate::support::process::GatewayProcess;
use crate::support::redis::free_port;
use crate::support::store::TestStore;
use crate::support::tansu::Tansu;
use scim_gateway::authn::static_token::hash_token_hex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOPIC: &str = "scim-events";
const WRITERS: usize = 6;
const WRITES: usize = 20;
/// The shared rate of the `limited` tenant, per second (and its burst).
const RATE: u32 = 20;

/// A redis-server on `port` without persistence: restarted on the same
/// port, it comes back empty, as after a crash.
struct Redis {
    port: u16,
    child: std::process::Child,
}

impl Redis {
    fn start(port: u16) -> Redis {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is required (tests/run installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { port, child }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = Redis::start(self.port);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(dir: &Path, n: usize, port: u16, redis: &str, kafka: &str, store: &str) -> PathBuf {
    let text = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
plaintext = true
request_timeout = "10s"
shutdown_timeout = "2s"
auth_failure_limit = 0

# Only HAProxy (127.0.0.1) may connect, and it names each client.
[server.proxy_protocol]
allow = ["127.0.0.1/32"]

[admin]
listen = "127.0.0.1:0"

[audit]
dir = "audit-{n}"

[events]
poll_interval = "20ms"

[events.kafka]
brokers = ["{kafka}"]
topic = "{TOPIC}"
message_timeout = "10s"

[limits]
backend = "redis"
redis_url = "{redis}"
replicas = 3
timeout = "200ms"

[upstreams.store]
kind = "http"
url = "{store}"

[[tenants]]
id = "acme"
hosts = ["acme.localhost"]
upstream = "store"
[[tenants.tokens]]
name = "idp"
hash = "{acme}"
[tenants.cache]
ttl = "60s"

[[tenants]]
id = "limited"
hosts = ["limited.localhost"]
upstream = "store"
[[tenants.tokens]]
name = "idp"
hash = "{limited}"
[tenants.limits]
rate = {RATE}
burst = {RATE}
"#,
        acme = hash_token_hex(&token_for("acme")),
        limited = hash_token_hex(&token_for("limited")),
    );
    let path = dir.join(format!("replica-{n}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A client whose connections come from `ip` (any 127/8 address is ours).
fn client_from(ip: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(ip))
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap()
}

/// One request through the balancer; `None` when it was not answered
/// (connection refused or reset: the replica died).
async fn send(
    client: &reqwest::Client,
    balancer: SocketAddr,
    tenant: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> Option<(u16, String, Value)> {
    let mut req = client
        .request(method, format!("http://{balancer}/scim/v2{path}"))
        .header("host", format!("{tenant}.localhost"))
        .bearer_auth(token_for(tenant))
        .header("content-type", "application/scim+json");
    if let Some(body) = body {
        req = req.body(body.to_string());
    }
    let r = req.send().await.ok()?;
    let status = r.status().as_u16();
    let id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = r.json().await.unwrap_or(Value::Null);
    Some((status, id, body))
}

/// What the writers saw: per acknowledged write, (resource id, value,
/// request id, writer address); and every stale read.
#[derive(Default)]
struct Seen {
    acknowledged: Vec<(String, String, String, Ipv4Addr)>,
    stale: Vec<String>,
    retries: usize,
}

/// A writer: renames its own user WRITES times, each until acknowledged
/// (an IdP retries what failed), and reads it back after every ack.
async fn writer(
    w: usize,
    phase: &'static str,
    id: String,
    balancer: SocketAddr,
    seen: Arc<Mutex<Seen>>,
) {
    let ip = Ipv4Addr::new(127, 0, 0, 10 + u8::try_from(w).unwrap());
    let client = client_from(ip);
    let path = format!("/Users/{id}");
    for i in 0..WRITES {
        let value = format!("w{w}{phase}-{i:02}");
        let patch = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": value}]
        });
        let mut attempts = 0;
        let request_id = loop {
            attempts += 1;
            assert!(attempts < 100, "writer {w} could not write {value}");
            match send(
                &client,
                balancer,
                "acme",
                reqwest::Method::PATCH,
                &path,
                Some(&patch),
            )
            .await
            {
                Some((200, request_id, _)) => break request_id,
                _ => {
                    seen.lock().unwrap().retries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        seen.lock()
            .unwrap()
            .acknowledged
            .push((id.clone(), value.clone(), request_id, ip));
        // Read it back through the balancer: any replica must show it.
        loop {
            match send(&client, balancer, "acme", reqwest::Method::GET, &path, None).await {
                Some((200, _, body)) => {
                    if body["displayName"] != value.as_str() {
                        seen.lock()
                            .unwrap()
                            .stale
                            .push(format!("{value} read as {}", body["displayName"]));
                    }
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

fn audit_records(dir: &Path) -> Vec<Value> {
    let mut records = Vec::new();
    for n in 0..3 {
        let Ok(entries) = std::fs::read_dir(dir.join(format!("audit-{n}"))) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "jsonl") {
                for line in std::fs::read_to_string(&path).unwrap().lines() {
                    if let Ok(v) = serde_json::from_str::<Value>(line) {
                        records.push(v);
                    }
                }
            }
        }
    }
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_behind_haproxy_survive_a_killed_replica_and_a_redis_restart() {
    let store = TestStore::spawn();
    let mut redis = Redis::start(free_port());
    let tansu = Tansu::start().expect("tansu (the Kafka broker) is required");
    create_topic(&tansu, TOPIC, 3).await;
    let dir = std::env::temp_dir().join(format!("scimgw-deployment-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let configs: Vec<PathBuf> = (0..3)
        .map(|n| {
            config(
                &dir,
                n,
                ports[n],
                &redis.url(),
                &tansu.bootstrap(),
                &store.base_url(),
            )
        })
        .collect();
    let mut replicas: Vec<GatewayProcess> =
        configs.iter().map(|c| GatewayProcess::spawn(c)).collect();
    let backends: Vec<SocketAddr> = ports
        .iter()
        .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
        .collect();
    let haproxy = HaProxy::start(&backends, Mode::Tcp, Proxy::V2);
    let balancer = SocketAddr::from(([127, 0, 0, 1], haproxy.port));

    // One user per writer.
    let setup = client_from(Ipv4Addr::new(127, 0, 0, 9));
    let mut ids = Vec::new();
    for w in 0..WRITERS {
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": format!("writer{w}@example.com"),
            "displayName": "created"
        });
        let (status, _, body) = send(
            &setup,
            balancer,
            "acme",
            reqwest::Method::POST,
            "/Users",
            Some(&user),
        )
        .await
        .unwrap();
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }

    // The writers, while a replica dies and comes back.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut writers = tokio::task::JoinSet::new();
    for (w, id) in ids.iter().enumerate() {
        writers.spawn(writer(w, "a", id.clone(), balancer, seen.clone()));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    replicas[1].kill();
    tokio::time::sleep(Duration::from_millis(800)).await;
    replicas[1] = GatewayProcess::spawn(&configs[1]);
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }

    // A rate shared by the three replicas: RATE per second plus a burst of
    // RATE, whichever replica each request reaches.
    let (ok, limited, allowed, fallbacks) = shared_rate(balancer, &replicas).await;
    let off = (f64::from(ok) - allowed).abs() / allowed;
    assert!(limited > 0, "nothing was limited");
    assert!(
        off <= 0.10,
        "{ok} allowed against {allowed:.0} expected ({:.0}% off; {fallbacks} limit decisions fell back)",
        off * 100.0
    );

    // Redis restarted (empty, as after a crash) while the writers go on.
    let mut writers = tokio::task::JoinSet::new();
    for (w, id) in ids.iter().enumerate() {
        writers.spawn(writer(w, "b", id.clone(), balancer, seen.clone()));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart();
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(seen.acknowledged.len(), 2 * WRITERS * WRITES);
    assert!(seen.stale.is_empty(), "stale reads: {:?}", seen.stale);

    // Every acknowledged write is audited, with the writer's address.
    let records = audit_records(&dir);
    let by_request: HashMap<&str, &Value> = records
        .iter()
        .filter_map(|r| Some((r["request_id"].as_str()?, r)))
        .collect();
    for (_, value, request_id, ip) in &seen.acknowledged {
        let record = by_request.get(request_id.as_str()).unwrap_or_else(|| {
            panic!("the acknowledged write {value} ({request_id}) is not audited")
        });
        assert_eq!(record["outcome"]["status"], 200, "{record}");
        assert_eq!(record["client_ip"], ip.to_string(), "{record}");
    }

    // Every acknowledged write's event reached Kafka, and per resource the
    // highest resourceversion carries the upstream's final state.
    let mut reader = TopicReader::new(&tansu, TOPIC, 3);
    let wanted: Vec<(String, String)> = seen
        .acknowledged
        .iter()
        .map(|(id, value, _, _)| (id.clone(), value.clone()))
        .collect();
    let all_there = |records: &[crate::support::kafka_topic::KafkaRecord]| {
        wanted.iter().all(|(id, value)| {
            records.iter().any(|r| {
                r.event["subject"] == id.as_str()
                    && r.event["data"]["displayName"] == value.as_str()
            })
        })
    };
    assert!(
        reader.read_until(Duration::from_secs(60), all_there).await,
        "events missing from Kafka"
    );
    for id in &ids {
        let newest = reader
            .records
            .iter()
            .filter(|r| r.event["subject"] == id.as_str())
            .max_by_key(|r| {
                r.event["resourceversion"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap();
        assert_eq!(newest.key, format!("acme/{id}"));
        let upstream: Value = reqwest::get(format!("{}/Users/{id}", store.base_url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(newest.event["data"]["displayName"], upstream["displayName"]);
        assert_eq!(
            upstream["displayName"],
            format!(
                "w{}b-{:02}",
                ids.iter().position(|i| i == id).unwrap(),
                WRITES - 1
            )
        );
    }

    // After the Redis restart (empty: the rates' state is gone with it),
    // the replicas share the rate through Redis again at once: the first
    // command on each replica's dead connection is tried again on a new
    // one instead of holding Redis off and deciding locally.
    let (after_ok, _, after_allowed, after_fallbacks) = shared_rate(balancer, &replicas).await;
    let after_off = (f64::from(after_ok) - after_allowed).abs() / after_allowed;
    assert!(
        after_off <= 0.10,
        "after the Redis restart {after_ok} allowed against {after_allowed:.0} expected ({:.0}% off; {after_fallbacks} limit decisions fell back so far)",
        after_off * 100.0
    );
    eprintln!(
        "deployment: {} writes acknowledged ({} retried), {} audit records, {} Kafka records, shared rate {ok} of {allowed:.0} ({:.1}% off, {fallbacks} fallbacks), {limited} limited; after the Redis restart {after_ok} of {after_allowed:.0} ({after_fallbacks} fallbacks)",
        seen.acknowledged.len(),
        seen.retries,
        records.len(),
        reader.records.len(),
        off * 100.0
    );
    drop(haproxy);
    drop(replicas);
}

/// Six clients hammer the `limited` tenant through the balancer for 3 s:
/// (allowed, limited, what the shared rate allows, limit decisions the
/// replicas took locally because Redis did not decide).
async fn shared_rate(balancer: SocketAddr, replicas: &[GatewayProcess]) -> (u32, u32, f64, f64) {
    let started = Instant::now();
    let mut hammer = tokio::task::JoinSet::new();
    for t in 0..6u8 {
        hammer.spawn(async move {
            let client = client_from(Ipv4Addr::new(127, 0, 1, t + 1));
            let (mut ok, mut limited) = (0u32, 0u32);
            while started.elapsed() < Duration::from_secs(3) {
                match send(
                    &client,
                    balancer,
                    "limited",
                    reqwest::Method::GET,
                    "/Users?count=1",
                    None,
                )
                .await
                {
                    Some((200, _, _)) => ok += 1,
                    Some((429, _, _)) => limited += 1,
                    other => panic!("{:?}", other.map(|o| o.0)),
                }
            }
            (ok, limited)
        });
    }
    let (mut ok, mut limited) = (0, 0);
    while let Some(done) = hammer.join_next().await {
        let (o, l) = done.unwrap();
        ok += o;
        limited += l;
    }
    let allowed = f64::from(RATE) * (1.0 + started.elapsed().as_secs_f64());
    let mut fallbacks = 0.0;
    for gw in replicas {
        let text = reqwest::get(format!("http://{}/metrics", gw.admin.unwrap()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        fallbacks += text
            .lines()
            .filter(|l| l.starts_with("scim_gateway_limit_fallbacks_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    (ok, limited, allowed, fallbacks)
}
