//! The response cache through the gateway: hits spare the upstream, keys
//! are per tenant, and writes invalidate.
use crate::support::echo::EchoUpstream;
use crate::support::gateway::{token_for, TestGateway};
use crate::support::writes::WriteRecorder;
use std::time::Duration;

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

/// Without an audit journal a create runs in the connection's task, so a
/// client that hangs up cancels it; the cache invalidation is a drop guard
/// and still happens (the upstream may have applied the create).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_client_hung_up_still_invalidates() {
    // Creates stay 500 ms in the upstream; reads are answered at once.
    let upstream = WriteRecorder::spawn_holding(Duration::from_millis(500), true);
    let gw = TestGateway::builder()
        .http("slow", &upstream.url(), "")
        .raw_upstream("[audit]\nenabled = false\n")
        .tenant_with(
            "hangup",
            &["hangup.localhost"],
            "slow",
            "[tenants.cache]\nttl = \"30s\"\n",
        )
        .spawn();
    let client = gw.client();
    let get = || {
        client
            .get(format!("{}/Users/u1", gw.base("hangup.localhost")))
            .bearer_auth(token_for("hangup"))
            .send()
    };
    assert_eq!(get().await.unwrap().status(), 200);
    let cached = get().await.unwrap();
    assert_eq!(cached.headers()["x-cache"], "hit");

    let impatient = gw
        .client_builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let sent = impatient
        .post(format!("{}/Users", gw.base("hangup.localhost")))
        .bearer_auth(token_for("hangup"))
        .header("content-type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"late"}"#)
        .send()
        .await;
    assert!(sent.is_err(), "the client should have given up: {sent:?}");
    assert_eq!(
        upstream.wait_for_writes(1, Duration::from_secs(3)).await,
        1,
        "the create reached the upstream"
    );
    // The upstream answers after 500 ms; the gateway dropped the request
    // when the client left.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after = get().await.unwrap();
    assert_eq!(after.status(), 200);
    assert!(
        after.headers().get("x-cache").is_none(),
        "a create the upstream received left the cached Users in place"
    );
}
