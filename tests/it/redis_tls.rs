//! `rediss://` for the shared state (docs/redis.md): a real Redis that
//! speaks TLS only and requires a client certificate, the gateway trusting
//! the operator's private CA (the project's test PKI) and presenting its
//! certificate; a wrong CA or a missing certificate falls back to local
//! shares at once, logged and counted; the URL's password never shows.
use crate::support::echo::EchoUpstream;
use crate::support::gateway::token_for;
use crate::support::pki::{write_ca, write_leaf, ClientSpec, TestCa};
use crate::support::process::GatewayProcess;
use crate::support::redis::{RedisServer, RedisTlsFiles};
use scim_gateway::authn::static_token::hash_token_hex;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The operator's CA, Redis's server certificate, the gateway's client
/// certificate, and a CA that signed none of them.
pub(crate) struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub other_ca: PathBuf,
}

pub(crate) fn pki(dir: &Path) -> Pki {
    let ca = TestCa::root("redis test ca");
    let server = ca.server("127.0.0.1");
    let client = ca.client(&ClientSpec {
        cn: "scim-gateway",
        ..ClientSpec::default()
    });
    let p = Pki {
        ca: write_ca(&ca, &dir.join("ca.pem")),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client-key.pem"),
        other_ca: write_ca(&TestCa::root("another ca"), &dir.join("other-ca.pem")),
    };
    write_leaf(&server, &p.server_cert, &p.server_key);
    write_leaf(&client, &p.client_cert, &p.client_key);
    p
}

/// A gateway config whose `[limits]` is `limits`; a tenant with a rate of
/// 1/s and a burst of 4, shared by 2 replicas.
pub(crate) fn config(dir: &Path, name: &str, limits: &str, echo: &str) -> PathBuf {
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
plaintext = true
auth_failure_limit = 0

[admin]
listen = "127.0.0.1:0"

[audit]
dir = "audit-{name}"

{limits}

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
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) async fn get(client: &reqwest::Client, gw: &GatewayProcess) -> u16 {
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

/// A write (one resource: it takes a write-order turn and lease).
pub(crate) async fn put(client: &reqwest::Client, gw: &GatewayProcess) -> u16 {
    client
        .put(format!("http://{}/scim/v2/Users/u1", gw.public))
        .header("host", "acme.localhost")
        .header("content-type", "application/scim+json")
        .bearer_auth(token_for("acme"))
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u1"}"#)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The value of a counter on the admin listener (0 when never counted).
pub(crate) async fn counter(client: &reqwest::Client, gw: &GatewayProcess, name: &str) -> f64 {
    let text = client
        .get(format!("http://{}/metrics", gw.admin.unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn tls_limits(url: &str, ca: &Path, cert: Option<(&Path, &Path)>) -> String {
    let mut text = format!(
        "[limits]\nbackend = \"redis\"\nredis_url = \"{url}\"\nreplicas = 2\ntimeout = \"500ms\"\n\n\
         [limits.redis_tls]\nca_file = \"{}\"\n",
        ca.display()
    );
    if let Some((cert, key)) = cert {
        text.push_str(&format!(
            "client_cert_file = \"{}\"\nclient_key_file = \"{}\"\n",
            cert.display(),
            key.display()
        ));
    }
    text
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A connection of the test's own, over TLS with `certs`.
async fn connect(
    port: u16,
    certs: redis::TlsCertificates,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let client = redis::Client::build_with_tls(format!("rediss://127.0.0.1:{port}/0"), certs)?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(Duration::from_secs(2));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

#[tokio::test]
async fn rediss_with_a_private_ca_and_a_client_certificate_shares_limits() {
    let dir = tempdir("tls-ok");
    let pki = pki(&dir);
    let redis = RedisServer::start_tls(&RedisTlsFiles {
        ca: &pki.ca,
        cert: &pki.server_cert,
        key: &pki.server_key,
        auth_clients: true,
        client: None,
    });
    // The server really requires a client certificate.
    let ca_pem = std::fs::read(&pki.ca).unwrap();
    let without = redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(ca_pem.clone()),
    };
    let refused = async {
        let mut conn = connect(redis.port, without).await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    assert!(refused.await.is_err(), "no client certificate, no Redis");

    let echo = EchoUpstream::spawn();
    let url = format!("rediss://127.0.0.1:{}/0", redis.port);
    let limits = tls_limits(&url, &pki.ca, Some((&pki.client_cert, &pki.client_key)));
    let a = GatewayProcess::spawn(&config(&dir, "a", &limits, &echo.url()));
    let b = GatewayProcess::spawn(&config(&dir, "b", &limits, &echo.url()));
    let client = client();
    let started = Instant::now();
    let mut ok = 0;
    for i in 0..12 {
        match get(&client, if i % 2 == 0 { &a } else { &b }).await {
            200 => ok += 1,
            429 => {}
            other => panic!("unexpected {other}\n{}", a.log_tail()),
        }
    }
    let refills = started.elapsed().as_secs() as usize + 1;
    assert!(
        (4..=4 + refills).contains(&ok),
        "{ok} allowed by two replicas sharing a burst of 4 through rediss://\n{}",
        a.log_tail()
    );
    for gw in [&a, &b] {
        let fallbacks = counter(&client, gw, "scim_gateway_limit_fallbacks_total").await;
        assert_eq!(fallbacks, 0.0, "every decision by Redis\n{}", gw.log_tail());
    }
    // The limiter's state is in this Redis, written over TLS.
    let with = redis::TlsCertificates {
        client_tls: Some(redis::ClientTlsConfig {
            client_cert: std::fs::read(&pki.client_cert).unwrap(),
            client_key: std::fs::read(&pki.client_key).unwrap(),
        }),
        root_cert: Some(ca_pem),
    };
    let mut conn = connect(redis.port, with).await.unwrap();
    let tat: Option<String> = redis::cmd("GET")
        .arg("scimgw:t:acme")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(tat.is_some(), "the tenant's rate lives in Redis");
}

#[tokio::test]
async fn a_wrong_ca_or_no_client_certificate_falls_back_at_once_and_logs_no_password() {
    let dir = tempdir("tls-bad");
    let pki = pki(&dir);
    let redis = RedisServer::start_tls(&RedisTlsFiles {
        ca: &pki.ca,
        cert: &pki.server_cert,
        key: &pki.server_key,
        auth_clients: true,
        client: None,
    });
    let echo = EchoUpstream::spawn();
    let url = format!("rediss://:hunter2@127.0.0.1:{}/0", redis.port);
    let client_cert = Some((pki.client_cert.as_path(), pki.client_key.as_path()));
    let wrong_ca = tls_limits(&url, &pki.other_ca, client_cert);
    let no_cert = tls_limits(&url, &pki.ca, None);
    // Each logs why, as rustls says it (not as a timeout).
    let gateways = [
        (
            GatewayProcess::spawn(&config(&dir, "wrong-ca", &wrong_ca, &echo.url())),
            "UnknownIssuer",
        ),
        (
            GatewayProcess::spawn(&config(&dir, "no-cert", &no_cert, &echo.url())),
            "CertificateRequired",
        ),
    ];
    let client = client();
    for (gw, why) in &gateways {
        let mut ok = 0;
        for _ in 0..6 {
            let asked = Instant::now();
            match get(&client, gw).await {
                200 => ok += 1,
                429 => {}
                other => panic!("unexpected {other}\n{}", gw.log_tail()),
            }
            // One decision: at most the 500 ms timeout, never a hang.
            assert!(asked.elapsed() < Duration::from_secs(2), "no request hangs");
        }
        // Its local share: a burst of 2 (4 / 2 replicas), plus refills.
        assert!((2..=4).contains(&ok), "{ok} allowed on the local share");
        let fallbacks = counter(&client, gw, "scim_gateway_limit_fallbacks_total").await;
        assert!(fallbacks >= 1.0, "the fallback is counted");
        assert!(
            gw.log_count("shared limits unavailable") >= 1,
            "the fallback is logged\n{}",
            gw.log_tail()
        );
        assert!(
            gw.log_count(why) >= 1,
            "the cause is logged\n{}",
            gw.log_tail()
        );
        assert_eq!(gw.log_count("hunter2"), 0, "{}", gw.log_tail());
    }
}

#[test]
fn check_config_names_the_file_and_never_the_password() {
    let dir = tempdir("tls-check");
    let pki = pki(&dir);
    std::fs::write(dir.join("garbage-key.pem"), "not a key\n").unwrap();
    let cases = [
        (
            tls_limits(
                "rediss://:hunter2@127.0.0.1:1/0",
                &dir.join("missing-ca.pem"),
                None,
            ),
            vec!["limits.redis_tls.ca_file", "missing-ca.pem"],
        ),
        (
            tls_limits(
                "rediss://:hunter2@127.0.0.1:1/0",
                &pki.ca,
                Some((&pki.client_cert, &dir.join("garbage-key.pem"))),
            ),
            vec!["limits.redis_tls.client_key_file", "garbage-key.pem"],
        ),
        (
            tls_limits("redis://:hunter2@127.0.0.1:1/0", &pki.ca, None),
            vec!["limits.redis_tls", "rediss://"],
        ),
        (
            "[limits]\nbackend = \"redis\"\nredis_url = \"redis://:hunter2@127.0.0.1:notaport/0\"\n"
                .into(),
            vec!["limits.redis_url", "<redacted>"],
        ),
    ];
    for (i, (limits, expected)) in cases.iter().enumerate() {
        let path = config(&dir, &format!("check-{i}"), limits, "http://127.0.0.1:1");
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
        assert!(
            !out.status.success(),
            "case {i} passed check-config:\n{text}"
        );
        for e in expected {
            assert!(text.contains(e), "case {i}: {e:?} missing from:\n{text}");
        }
        assert!(
            !text.contains("hunter2"),
            "case {i} shows the password:\n{text}"
        );
    }
}

pub(crate) fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "scimgw-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
