//! Rate limits and concurrency caps through the gateway, against a real
//! upstream: 429 with Retry-After, per tenant and per upstream, and
//! nothing refused reaches the upstream.
use crate::support::echo::EchoUpstream;
use crate::support::gateway::{token_for, TestGateway};
use std::time::Duration;

#[tokio::test]
async fn a_tenant_over_its_rate_gets_429_with_retry_after() {
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .http("echo", &echo.url(), "")
        .tenant_with(
            "ratey",
            &["ratey.localhost"],
            "echo",
            "[tenants.limits]\nrate = 1\nburst = 2\n",
        )
        .tenant("globex", &["globex.localhost"], "echo")
        .spawn();
    let client = gw.client();
    let get = |host: &'static str, tenant: &'static str| {
        let client = client.clone();
        let url = format!("{}/Users", gw.base(host));
        async move {
            client
                .get(url)
                .bearer_auth(token_for(tenant))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(get("ratey.localhost", "ratey").await.status(), 200);
    assert_eq!(get("ratey.localhost", "ratey").await.status(), 200);
    let refused = get("ratey.localhost", "ratey").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["status"], "429");
    assert_eq!(
        echo.hits(),
        2,
        "the refused request never reached the upstream"
    );
    // Another tenant is not limited by ratey's budget.
    for _ in 0..5 {
        assert_eq!(get("globex.localhost", "globex").await.status(), 200);
    }
    // After the wait, ratey may go on.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get("ratey.localhost", "ratey").await.status(), 200);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("scim_gateway_limited_total{tenant=\"ratey\",kind=\"tenant_rate\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_upstream_cap_protects_the_backend_across_tenants() {
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .http(
            "echo",
            &echo.url(),
            "request_timeout = \"10s\"\n[upstreams.echo.limits]\nmax_concurrent = 1\n",
        )
        .tenant("acme", &["acme.localhost"], "echo")
        .tenant("globex", &["globex.localhost"], "echo")
        .spawn();
    let client = gw.client();
    // acme holds the only slot with a slow request...
    let slow = {
        let client = client.clone();
        let url = format!("{}/Users/slow", gw.base("acme.localhost"));
        tokio::spawn(async move {
            client
                .get(url)
                .bearer_auth(token_for("acme"))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ... so globex, on the same backend, is refused at once.
    let started = std::time::Instant::now();
    let refused = client
        .get(format!("{}/Users", gw.base("globex.localhost")))
        .bearer_auth(token_for("globex"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(slow.await.unwrap(), 200);
    assert_eq!(echo.hits(), 1);
}
