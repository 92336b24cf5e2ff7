//! Client identity behind a real HAProxy: the gateway (the built binary)
//! sees each client's own address, not the balancer's, in the audit
//! record's `client_ip`, the access log, the upstream's `X-Forwarded-For`
//! and failure damping (one client locked out, the other not), with PROXY
//! protocol v1 and v2 (`mode tcp`) and with `trusted_proxies` behind
//! `mode http` + `option forwardfor`. And the refusals: a direct
//! connection to a PROXY listener from outside the allow-list, a PROXY
//! header from a client that is not the balancer, a connection from the
//! balancer's address without a header, a spoofed `X-Forwarded-For` from
//! an untrusted peer.
//!
//! All on 127.0.0.0/8: HAProxy connects from 127.0.0.1, and the clients
//! bind distinct source addresses (127.0.0.7, 127.0.0.8), which Linux
//! routes over the loopback.
use crate::support::audit_log::read_records;
use crate::support::audited::temp_dir;
use crate::support::echo::EchoUpstream;
use crate::support::gateway::{token_for, TestGateway};
use crate::support::haproxy::{HaProxy, Mode, Proxy};
use crate::support::process::GatewayProcess;
use scim_gateway::authn::static_token::hash_token_hex;
use serde_json::{json, Value};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const A: [u8; 4] = [127, 0, 0, 7];
const B: [u8; 4] = [127, 0, 0, 8];
/// Failed authentications per client before 429.
const FAILURE_LIMIT: usize = 3;

fn config(dir: &Path, upstream: &str, identity: &str) -> std::path::PathBuf {
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
plaintext = true
auth_failure_limit = {FAILURE_LIMIT}
auth_failure_window = "10m"
header_read_timeout = "2s"
{identity}

[admin]
listen = "127.0.0.1:0"

[audit]
dir = "audit"
fsync_interval = "50ms"

[upstreams.echo]
kind = "http"
url = "{upstream}"
request_timeout = "5s"

[[tenants]]
id = "acme"
hosts = ["acme.localhost"]
upstream = "echo"
[[tenants.tokens]]
name = "idp"
hash = "{hash}"
"#,
        hash = hash_token_hex(&token_for("acme"))
    );
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A client whose connections leave from `source`.
fn client_from(source: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(source))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A write through `to` as `token`: (status, answer); the answer is the
/// echo upstream's account of what it received.
async fn write(
    c: &reqwest::Client,
    to: SocketAddr,
    token: &str,
    id: &str,
    xff: Option<&str>,
) -> (u16, Value) {
    let mut req = c
        .post(format!("http://{to}/scim/v2/Users"))
        .header("host", "acme.localhost")
        .header("x-request-id", id)
        .header("content-type", "application/scim+json")
        .bearer_auth(token)
        .body(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": id})
                .to_string(),
        );
    if let Some(xff) = xff {
        req = req.header("x-forwarded-for", xff);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The audit records of request `id` (the answer waited for the
/// journal; the file is read until they are there, at most 10 s).
fn audited(dir: &Path, id: &str) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let records: Vec<Value> = read_records(&dir.join("audit"))
            .into_iter()
            .filter(|r| r["request_id"] == id)
            .collect();
        if !records.is_empty() || std::time::Instant::now() >= deadline {
            return records;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The access log line of request `id` (written before the answer, but
/// read from the process's stdout by a thread of the test: waited for).
fn access_line(gw: &GatewayProcess, id: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let lines = gw.log_lines(&format!("\"request_id\":\"{id}\""));
        if let Some(line) = lines.iter().find(|l| l.contains("\"target\":\"access\"")) {
            return serde_json::from_str(line).unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no access log line for {id}:\n{}",
            gw.log_tail()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Client A writes (its address in the audit, the access log and the
/// upstream's X-Forwarded-For, whatever it claims itself), then fails
/// authentication until damped; client B, behind the same balancer, is
/// not damped.
async fn clients_are_themselves(gw: &GatewayProcess, dir: &Path, front: SocketAddr, tag: &str) {
    let (a, b) = (client_from(A), client_from(B));
    let id = format!("{tag}-a-write");
    let (status, echoed) = write(&a, front, &token_for("acme"), &id, Some("127.0.0.99")).await;
    assert!(
        (200..300).contains(&status),
        "{status}: {echoed}\n{}",
        gw.log_tail()
    );
    let records = audited(dir, &id);
    assert!(!records.is_empty(), "no audit record for {id}");
    for r in &records {
        assert_eq!(r["client_ip"], "127.0.0.7", "{r}");
    }
    let line = access_line(gw, &id);
    assert_eq!(line["peer"], "127.0.0.7", "{line}");
    assert_eq!(
        line["via"], "127.0.0.1",
        "the balancer, logged beside the client: {line}"
    );
    // Upstream: the chain the gateway vouches for, never the claim.
    assert_eq!(
        echoed["headers"]["x-forwarded-for"], "127.0.0.7, 127.0.0.1",
        "{echoed}"
    );

    // A guesses tokens: 401 until its budget is spent, then 429.
    let mut statuses = Vec::new();
    for i in 0..=FAILURE_LIMIT {
        let id = format!("{tag}-a-bad-{i}");
        statuses.push(
            write(&a, front, "wrong-token-0123456789", &id, None)
                .await
                .0,
        );
    }
    assert_eq!(statuses.last(), Some(&429), "A is damped: {statuses:?}");
    assert!(
        statuses[..FAILURE_LIMIT].iter().all(|s| *s == 401),
        "{statuses:?}"
    );
    let failed = audited(dir, &format!("{tag}-a-bad-0"));
    assert_eq!(
        failed.first().map(|r| r["client_ip"].clone()),
        Some(json!("127.0.0.7")),
        "{failed:?}"
    );
    // B, behind the same balancer: its own budget, untouched.
    let id = format!("{tag}-b-bad");
    assert_eq!(
        write(&b, front, "wrong-token-0123456789", &id, None)
            .await
            .0,
        401
    );
    assert_eq!(audited(dir, &id)[0]["client_ip"], "127.0.0.8");
    let id = format!("{tag}-b-write");
    let (status, _) = write(&b, front, &token_for("acme"), &id, None).await;
    assert!(
        (200..300).contains(&status),
        "B is not locked out: {status}"
    );
    assert_eq!(access_line(gw, &id)["peer"], "127.0.0.8");
}

/// Sends `bytes` on a fresh connection from `source` to `to`; what comes
/// back before the gateway closes it.
async fn raw_exchange(source: [u8; 4], to: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    let mut stream = socket.connect(to).await.unwrap();
    // The gateway may have closed already: a failed write is an answer too.
    let _ = stream.write_all(bytes).await;
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the gateway neither answered nor closed");
    got
}

/// `scim_gateway_connections_refused_total{reason=...}` on the admin
/// listener.
async fn refused(gw: &GatewayProcess, reason: &str) -> u64 {
    let page = reqwest::get(format!("http://{}/metrics", gw.admin.unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    page.lines()
        .filter(|l| {
            l.starts_with("scim_gateway_connections_refused_total")
                && l.contains(&format!("reason=\"{reason}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

async fn behind_proxy_protocol(proxy: Proxy, tag: &str) {
    let echo = EchoUpstream::spawn();
    let dir = temp_dir(tag);
    let path = config(
        &dir,
        &echo.url(),
        "[server.proxy_protocol]\nallow = [\"127.0.0.1/32\"]",
    );
    let gw = GatewayProcess::spawn(&path);
    let haproxy = HaProxy::start(&[gw.public], Mode::Tcp, proxy);
    clients_are_themselves(&gw, &dir, haproxy.addr(), tag).await;

    // Straight to the gateway from a client: not the balancer, closed
    // unread, whether it speaks HTTP or forges a PROXY header naming
    // someone else.
    let request =
        b"GET /scim/v2/Users HTTP/1.1\r\nhost: acme.localhost\r\nconnection: close\r\n\r\n";
    assert_eq!(raw_exchange(A, gw.public, request).await, b"");
    let mut forged = b"PROXY TCP4 127.0.0.99 127.0.0.1 4000 443\r\n".to_vec();
    forged.extend_from_slice(request);
    assert_eq!(raw_exchange(A, gw.public, &forged).await, b"");
    assert!(refused(&gw, "proxy_not_allowed").await >= 2);
    // From the balancer's own address but without a header: refused too
    // (no fallback to the socket address).
    assert_eq!(raw_exchange([127, 0, 0, 1], gw.public, request).await, b"");
    assert!(refused(&gw, "proxy_header").await >= 1);
    // The allow-listed address with a valid header of its own is served
    // as the client it names: that is what the allow-list vouches for.
    let answer = raw_exchange([127, 0, 0, 1], gw.public, &forged).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 401"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while gw.log_count("\"peer\":\"127.0.0.99\"") == 0 {
        assert!(std::time::Instant::now() < deadline, "{}", gw.log_tail());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_protocol_v1_behind_haproxy_names_each_client() {
    behind_proxy_protocol(Proxy::V1, "pp1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_protocol_v2_behind_haproxy_names_each_client() {
    behind_proxy_protocol(Proxy::V2, "pp2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxies_behind_haproxy_forwardfor_name_each_client_and_spoofing_fails() {
    let echo = EchoUpstream::spawn();
    let dir = temp_dir("xff");
    let path = config(&dir, &echo.url(), "trusted_proxies = [\"127.0.0.1/32\"]");
    let gw = GatewayProcess::spawn(&path);
    let haproxy = HaProxy::start(&[gw.public], Mode::Http, Proxy::None);
    clients_are_themselves(&gw, &dir, haproxy.addr(), "xff").await;

    // Straight to the gateway from an untrusted peer: its
    // X-Forwarded-For is ignored, it is the client, and the upstream
    // hears nothing of its claim.
    let c = client_from([127, 0, 0, 9]);
    let (status, echoed) = write(
        &c,
        gw.public,
        &token_for("acme"),
        "xff-direct",
        Some("127.0.0.7"),
    )
    .await;
    assert!((200..300).contains(&status), "{status}");
    assert_eq!(audited(&dir, "xff-direct")[0]["client_ip"], "127.0.0.9");
    let line = access_line(&gw, "xff-direct");
    assert_eq!(line["peer"], "127.0.0.9");
    assert!(line.get("via").is_none(), "{line}");
    assert_eq!(echoed["headers"]["x-forwarded-for"], "127.0.0.9");
    // And it is not A: A's damping does not touch it, its own failures
    // do not touch A's budget elsewhere.
    assert_eq!(
        write(
            &c,
            gw.public,
            "wrong-token-0123456789",
            "xff-direct-bad",
            Some("127.0.0.7")
        )
        .await
        .0,
        401
    );
}

/// PROXY protocol on a TLS listener: the header comes before the TLS
/// handshake (HAProxy in `mode tcp` passes the TLS bytes through), and
/// the certificate is still chosen by SNI behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_protocol_comes_before_the_tls_handshake() {
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .server("[server.proxy_protocol]\nallow = [\"127.0.0.1\"]")
        .http("echo", &echo.url(), "")
        .tenant("acme", &["acme.localhost"], "echo")
        .spawn();
    let haproxy = HaProxy::start(&[gw.bound.public], Mode::Tcp, Proxy::V2);
    let client = |source: [u8; 4], to: SocketAddr| {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(gw.ca_pem().as_bytes()).unwrap())
            .tls_built_in_root_certs(false)
            .resolve("acme.localhost", to)
            .local_address(IpAddr::from(source))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let resp = client(A, haproxy.addr())
        .get(format!(
            "https://acme.localhost:{}/scim/v2/Users/x",
            haproxy.port
        ))
        .bearer_auth(token_for("acme"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let echoed: Value = resp.json().await.unwrap();
    assert_eq!(
        echoed["headers"]["x-forwarded-for"], "127.0.0.7, 127.0.0.1",
        "{echoed}"
    );
    assert_eq!(echoed["headers"]["x-forwarded-proto"], "https", "{echoed}");
    // Straight to the gateway over TLS: refused before the handshake.
    let direct = client(A, gw.bound.public)
        .get(format!(
            "https://acme.localhost:{}/scim/v2/Users/x",
            gw.bound.public.port()
        ))
        .bearer_auth(token_for("acme"))
        .send()
        .await;
    assert!(direct.is_err(), "{direct:?}");
}

/// `check-config` (the built binary) names every bad range by key and
/// index, and passes the same file once they are fixed.
#[test]
fn check_config_reports_bad_ranges() {
    let dir = temp_dir("identity-check");
    let bad = "trusted_proxies = [\"10.0.0.0/8\", \"10.0.0.300\"]\n[server.proxy_protocol]\nallow = [\"10.1.2.3/8\", \"0.0.0.0/0\"]";
    let path = config(&dir, "http://127.0.0.1:9/scim/v2", bad);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    for expected in [
        "server.trusted_proxies[1]: \"10.0.0.300\" is not an address range",
        "server.proxy_protocol.allow[0]: \"10.1.2.3/8\" is not an address range: the address has bits set beyond the /8 prefix (did you mean \"10.0.0.0/8\"?)",
        "server.proxy_protocol.allow: covers every address",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    let good =
        "trusted_proxies = [\"10.0.0.0/8\"]\n[server.proxy_protocol]\nallow = [\"10.1.0.0/16\"]";
    let path = config(&dir, "http://127.0.0.1:9/scim/v2", good);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
