//! The response cache through the gateway: hits spare the upstream, keys
//! are per tenant, and writes invalidate.
use crate::support::echo::EchoUpstream;
use crate::support::gateway::{token_for, TestGateway};

#[tokio::test]
async fn hits_spare_the_upstream_and_writes_invalidate() {
    let echo = EchoUpstream::spawn();
    let cached = "[tenants.cache]\nttl = \"30s\"\n";
    let gw = TestGateway::builder()
        .http("echo", &echo.url(), "")
        .tenant_with("cachet", &["cachet.localhost"], "echo", cached)
        .tenant_with("globex", &["globex.localhost"], "echo", cached)
        .spawn();
    let client = gw.client();
    let send = |method: reqwest::Method, host: &'static str, tenant: &'static str, path: &str| {
        let req = client
            .request(method, format!("{}{path}", gw.base(host)))
            .bearer_auth(token_for(tenant))
            .header("content-type", "application/scim+json")
            .body(r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}"#);
        async move { req.send().await.unwrap() }
    };
    let get = |host, tenant, path| send(reqwest::Method::GET, host, tenant, path);

    let first = get("cachet.localhost", "cachet", "/Users/echo").await;
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("x-cache").is_none());
    let first_body = first.text().await.unwrap();
    let second = get("cachet.localhost", "cachet", "/Users/echo").await;
    assert_eq!(second.headers()["x-cache"], "hit");
    assert_eq!(second.text().await.unwrap(), first_body, "the same answer");
    assert_eq!(echo.hits(), 1, "the hit spared the upstream");

    // Another tenant never gets cachet's entry.
    let other = get("globex.localhost", "globex", "/Users/echo").await;
    assert!(other.headers().get("x-cache").is_none());
    assert_eq!(echo.hits(), 2);

    // A write through cachet makes cachet's cached Users stale.
    let patched = send(
        reqwest::Method::PATCH,
        "cachet.localhost",
        "cachet",
        "/Users/echo",
    )
    .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(echo.hits(), 3);
    let after = get("cachet.localhost", "cachet", "/Users/echo").await;
    assert!(after.headers().get("x-cache").is_none(), "invalidated");
    assert_eq!(echo.hits(), 4);
    // globex's entry was not touched by cachet's write.
    let other = get("globex.localhost", "globex", "/Users/echo").await;
    assert_eq!(other.headers()["x-cache"], "hit");

    // Discovery is the gateway's own answer: it never reaches the upstream.
    let schemas = get("cachet.localhost", "cachet", "/Schemas").await;
    assert_eq!(schemas.status(), 200);
    assert!(schemas.headers().get("x-cache").is_none());
    assert_eq!(echo.hits(), 4);

    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("scim_gateway_cache_requests_total{tenant=\"cachet\",result=\"hit\"} 1"),
        "{metrics}"
    );
}
