//! The Okta Event Hook checks its secret first, from the headers alone: a
//! wrong secret spends none of the tenant's rate limit, has no body read,
//! and is damped, counted and audited like any failed authentication.
use crate::support::gateway::{token_for, TestGateway};
use crate::support::raw::RawClient;
use serde_json::Value;

// Tenant ids of their own: metrics are per process, shared by the tests.
const DAMPED: &str = "hook-damped";
const UNREAD: &str = "hook-unread";
const SECRET: &str = "Basic b2t0YTpzM2NyM3Q=";
const WRONG: &str = "Basic d3Jvbmc6Z3Vlc3M=";
const DELIVERY: &str = include_str!("../../../fixtures/okta-hooks/user-deactivate.json");

fn host(tenant: &str) -> String {
    format!("{tenant}.localhost")
}

/// A tenant with an Okta hook, a small rate limit (3 at once, then one
/// per 20 s) and damping after 5 failures.
fn spawn(tenant: &str) -> TestGateway {
    let dir = std::env::temp_dir().join(format!("scimgw-{tenant}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("okta.secret");
    std::fs::write(&secret, SECRET).unwrap();
    TestGateway::builder()
        .server("auth_failure_limit = 5\nauth_failure_window = \"1m\"")
        .builtin("store")
        .tenant_with(
            tenant,
            &[&host(tenant)],
            "store",
            &format!(
                "[tenants.limits]\nrate = 0.05\nburst = 3\n[tenants.okta_hook]\nsecret_file = \"{}\"\n",
                secret.display()
            ),
        )
        .spawn()
}

async fn deliver(gw: &TestGateway, secret: &str) -> reqwest::Response {
    gw.client()
        .post(format!("{}/hooks/okta", gw.origin(&host(DAMPED))))
        .header("authorization", secret)
        .header("content-type", "application/json")
        .body(DELIVERY)
        .send()
        .await
        .unwrap()
}

fn audit_records(gw: &TestGateway) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(gw.dir.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The value of the metric line that holds every one of `parts`.
fn metric(text: &str, parts: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#') && parts.iter().all(|p| l.contains(p)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn wrong_hook_secrets_spend_no_rate_limit_and_are_damped() {
    let gw = spawn(DAMPED);
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let resp = deliver(&gw, WRONG).await;
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            let body: Value = resp.json().await.unwrap();
            let detail = body["detail"].as_str().unwrap_or_default();
            assert!(detail.contains("failed authentications"), "{body}");
        }
    }
    assert_eq!(statuses, [[401; 5].as_slice(), &[429; 7]].concat());
    // The tenant's rate limit is untouched: its SCIM client gets in.
    let resp = gw
        .client()
        .get(format!("{}/Users", gw.base(&host(DAMPED))))
        .bearer_auth(token_for(DAMPED))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    // The right secret from the damped address still delivers.
    let resp = deliver(&gw, SECRET).await;
    assert_eq!(resp.status(), 200);
    // Counted and audited as failed authentications (each once).
    let metrics = gw.metrics().await;
    let failures = "scim_gateway_auth_failures_total";
    let tenant = format!("tenant=\"{DAMPED}\"");
    let secret = [failures, &tenant, "reason=\"okta_hook_secret\""];
    assert_eq!(metric(&metrics, &secret), 5.0, "{metrics}");
    let damped = [failures, &tenant, "reason=\"too_many_failures\""];
    assert_eq!(metric(&metrics, &damped), 7.0, "{metrics}");
    let refused: Vec<Value> = audit_records(&gw)
        .into_iter()
        .filter(|r| r["kind"] == "auth_failure")
        .collect();
    assert_eq!(refused.len(), 5, "{refused:?}");
    assert!(refused
        .iter()
        .all(|r| r.to_string().contains("okta_hook_secret") && r["tenant"] == DAMPED));
}

#[tokio::test]
async fn a_wrong_hook_secret_is_refused_without_its_body_being_read() {
    let gw = spawn(UNREAD);
    let mut client = RawClient::connect(&gw, &host(UNREAD)).await;
    // Announces half a megabyte (under the 1 MiB cap) and sends a few
    // bytes: a gateway that reads the body first waits for the rest.
    let head = format!(
        "POST /hooks/okta HTTP/1.1\r\nhost: {}:{}\r\nauthorization: {WRONG}\r\ncontent-type: application/json\r\ncontent-length: 500000\r\n\r\n{{\"data\":",
        host(UNREAD),
        gw.bound.public.port()
    );
    client.write(head.as_bytes()).await;
    let r = client
        .read_response()
        .await
        .unwrap_or_else(|e| panic!("no answer before the body: {e}"));
    assert_eq!(r.status, 401, "{r:?}");
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("secret"),
        "{body}"
    );
}
