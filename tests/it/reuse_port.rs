//! `[server] reuse_port = true`: two gateway processes on one port, the
//! kernel spreading new connections over them; without it the second
//! process fails to start.
use crate::support::audited::temp_dir;
use crate::support::echo::EchoUpstream;
use crate::support::gateway::token_for;
use crate::support::process::GatewayProcess;
use crate::support::redis::free_port;
use scim_gateway::authn::static_token::hash_token_hex;
use std::time::{Duration, Instant};

fn config(
    dir: &std::path::Path,
    n: usize,
    port: u16,
    reuse: bool,
    echo: &str,
) -> std::path::PathBuf {
    let text = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
reuse_port = {reuse}
plaintext = true

[admin]
listen = "127.0.0.1:0"

[audit]
dir = "audit-{n}"

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
"#,
        hash = hash_token_hex(&token_for("acme"))
    );
    let path = dir.join(format!("reuse-{n}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Requests the process answered (its own `/metrics`).
async fn served(gw: &GatewayProcess) -> u64 {
    let text = reqwest::get(format!("http://{}/metrics", gw.admin.unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("scim_gateway_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test]
async fn two_processes_share_one_port_with_reuse_port() {
    let echo = EchoUpstream::spawn();
    let dir = temp_dir("reuse-port");
    let port = free_port();
    let a = GatewayProcess::spawn(&config(&dir, 0, port, true, &echo.url()));
    let b = GatewayProcess::spawn(&config(&dir, 1, port, true, &echo.url()));
    assert_eq!((a.public.port(), b.public.port()), (port, port));
    // Fresh connections (new source ports) until both have served some.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sent = 0;
    loop {
        let (by_a, by_b) = (served(&a).await, served(&b).await);
        if by_a > 0 && by_b > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {sent} connections: {by_a} and {by_b} served"
        );
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let r = client
            .get(format!("http://127.0.0.1:{port}/scim/v2/Users/x"))
            .header("host", "acme.localhost")
            .bearer_auth(token_for("acme"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        sent += 1;
        if sent % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[test]
fn without_reuse_port_a_second_process_cannot_bind() {
    let echo = EchoUpstream::spawn();
    let dir = temp_dir("no-reuse-port");
    let port = free_port();
    let _a = GatewayProcess::spawn(&config(&dir, 0, port, false, &echo.url()));
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .args(["run", "--config"])
        .arg(config(&dir, 1, port, false, &echo.url()))
        .output()
        .unwrap();
    assert!(!second.status.success());
    let text = String::from_utf8_lossy(&second.stderr).to_string()
        + &String::from_utf8_lossy(&second.stdout);
    assert!(text.to_ascii_lowercase().contains("address"), "{text}");
}
