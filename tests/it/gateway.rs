//! The gateway over real sockets: real TLS, real upstreams (the built-in
//! store in-process and over HTTP, an echo server), a real HTTP client.
use crate::support::echo::EchoUpstream;
use crate::support::gateway::{token_for, TestGateway};
use crate::support::http::user;
use crate::support::store::TestStore;
use serde_json::{json, Value};
use std::time::Duration;

const ACME: &str = "acme.localhost";
const GLOBEX: &str = "globex.localhost";

fn two_tenants() -> TestGateway {
    TestGateway::builder()
        .builtin("store")
        .builtin("globex-store")
        .tenant("acme", &[ACME], "store")
        .tenant("globex", &[GLOBEX], "globex-store")
        .spawn()
}

async fn error_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    assert!(resp.headers().get("content-type").is_some_and(|c| c
        .to_str()
        .unwrap_or("")
        .starts_with("application/scim+json")));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{body}"
    );
    assert_eq!(body["status"], status.to_string());
    (status, body)
}

#[tokio::test]
async fn host_and_path_routing_with_locations_rewritten() {
    let gw = two_tenants();
    let c = gw.client();
    let created = c
        .post(format!("{}/Users", gw.base(ACME)))
        .bearer_auth(token_for("acme"))
        .json(&user("routed"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    let body: Value = created.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(location, format!("{}/Users/{id}", gw.base(ACME)));
    assert_eq!(body["meta"]["location"], location.as_str());

    // The same tenant by path prefix on another host name.
    let by_path = format!("{}/tenants/acme/scim/v2", gw.origin("gw.localhost"));
    let list: Value = c
        .get(format!("{by_path}/Users"))
        .bearer_auth(token_for("acme"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["totalResults"], 1);
    assert_eq!(
        list["Resources"][0]["meta"]["location"],
        format!("{by_path}/Users/{id}").as_str()
    );

    // Tenant isolation: globex sees nothing of acme's, and acme's token is
    // no good there.
    let other: Value = c
        .get(format!("{}/Users", gw.base(GLOBEX)))
        .bearer_auth(token_for("globex"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(other["totalResults"], 0);
    let cross = c
        .get(format!("{}/Users", gw.base(GLOBEX)))
        .bearer_auth(token_for("acme"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(cross).await.0, 401);

    // Discovery through the gateway: schema URNs keep their colons.
    let schema = c
        .get(format!(
            "{}/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            gw.base(ACME)
        ))
        .bearer_auth(token_for("acme"))
        .send()
        .await
        .unwrap();
    assert_eq!(schema.status(), 200);
    let schema: Value = schema.json().await.unwrap();
    assert_eq!(
        schema["meta"]["location"],
        format!(
            "{}/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            gw.base(ACME)
        )
        .as_str()
    );
}

#[tokio::test]
async fn unknown_tenants_and_bad_credentials() {
    let gw = two_tenants();
    let c = gw.client();
    let (status, body) = error_of(
        c.get(format!(
            "{}/tenants/nope/scim/v2/Users",
            gw.origin("gw.localhost")
        ))
        .bearer_auth("x")
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert!(body["detail"].as_str().unwrap().contains("nope"));

    let missing = c
        .get(format!("{}/Users", gw.base(ACME)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"acme\""
    );
    assert_eq!(error_of(missing).await.0, 401);
    let wrong = c
        .get(format!("{}/Users", gw.base(ACME)))
        .bearer_auth("not-the-token-0123456789abcdef")
        .send()
        .await
        .unwrap();
    assert!(wrong.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let (_, body) = error_of(wrong).await;
    assert!(!body.to_string().contains("not-the-token"));

    // Host and SNI must agree (421; over HTTP/1.1, where the Host header
    // is the request's only authority).
    let h1 = gw.client_builder().http1_only().build().unwrap();
    let misdirected = h1
        .get(format!("{}/Users", gw.base(ACME)))
        .header("host", format!("{GLOBEX}:{}", gw.bound.public.port()))
        .bearer_auth(token_for("globex"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(misdirected).await.0, 421);
    // Over HTTP/2 a Host header that names another host than :authority
    // makes the request malformed (RFC 9113 §8.3.1): 400.
    let two_hosts = c
        .get(format!("{}/Users", gw.base(ACME)))
        .header("host", format!("{GLOBEX}:{}", gw.bound.public.port()))
        .bearer_auth(token_for("globex"))
        .send()
        .await
        .unwrap();
    assert_eq!(two_hosts.version(), reqwest::Version::HTTP_2);
    assert_eq!(error_of(two_hosts).await.0, 400);

    let metrics = reqwest::get(gw.admin_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("scim_gateway_auth_failures_total"),
        "{metrics}"
    );
    assert!(metrics.contains("reason=\"invalid_token\""));
    assert_eq!(
        reqwest::get(gw.admin_url("/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn credentials_are_swapped_on_the_way_upstream() {
    let echo = EchoUpstream::spawn();
    std::env::set_var("SCIMGW_IT_UPSTREAM_TOKEN", "upstream-secret-token");
    let gw = TestGateway::builder()
        .http(
            "legacy",
            &echo.url(),
            "[upstreams.legacy.auth]\nkind = \"bearer\"\ntoken_env = \"SCIMGW_IT_UPSTREAM_TOKEN\"",
        )
        .tenant("acme", &[ACME], "legacy")
        .spawn();
    let resp = gw
        .client()
        .get(format!(
            "{}/Users?filter=userName%20eq%20%22x%22&cursor=",
            gw.base(ACME)
        ))
        .bearer_auth(token_for("acme"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "trace-42");
    assert_eq!(
        resp.headers()["location"],
        format!("{}/Users/echo", gw.base(ACME)).as_str()
    );
    let seen: Value = resp.json().await.unwrap();
    let h = &seen["headers"];
    assert_eq!(h["authorization"], "Bearer upstream-secret-token");
    assert!(
        !seen.to_string().contains(&token_for("acme")),
        "the client's token never goes upstream"
    );
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(
        h["x-forwarded-host"],
        format!("{ACME}:{}", gw.bound.public.port()).as_str()
    );
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-request-id"], "trace-42");
    assert_eq!(
        seen["uri"],
        "/scim/v2/Users?filter=userName%20eq%20%22x%22&cursor="
    );
    assert_eq!(
        seen["meta"]["location"],
        format!("{}/Users/echo", gw.base(ACME)).as_str()
    );
}

#[tokio::test]
async fn upstream_down_slow_and_oversized_bodies() {
    let echo = EchoUpstream::spawn();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = TestGateway::builder()
        .server("max_request_body_bytes = 4096")
        .http("echo", &echo.url(), "request_timeout = \"1s\"")
        .http("down", &format!("http://{closed}/scim/v2"), "")
        .tenant("acme", &[ACME], "echo")
        .tenant("globex", &[GLOBEX], "down")
        .spawn();
    let c = gw.client();
    let (status, body) = error_of(
        c.get(format!("{}/Users", gw.base(GLOBEX)))
            .bearer_auth(token_for("globex"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 502);
    assert!(
        !body["detail"].as_str().unwrap().contains("127.0.0.1"),
        "{body}"
    );
    let (status, _) = error_of(
        c.get(format!("{}/Users/slow", gw.base(ACME)))
            .bearer_auth(token_for("acme"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 504);
    let mut big = user("big");
    big["displayName"] = json!("x".repeat(8000));
    let (status, _) = error_of(
        c.post(format!("{}/Users", gw.base(ACME)))
            .bearer_auth(token_for("acme"))
            .json(&big)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn http2_and_http1_both_work() {
    let gw = two_tenants();
    for client in [
        gw.client_builder().http2_prior_knowledge().build().unwrap(),
        gw.client_builder().http1_only().build().unwrap(),
    ] {
        let resp = client
            .get(format!("{}/ServiceProviderConfig", gw.base(ACME)))
            .bearer_auth(token_for("acme"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{:?}", resp.version());
    }
    let resp = gw
        .client()
        .get(format!("{}/Users", gw.base(ACME)))
        .bearer_auth(token_for("acme"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2, "ALPN picks h2");
}

#[tokio::test]
async fn the_http_store_as_upstream_with_location_rewriting() {
    let store = TestStore::spawn();
    let gw = TestGateway::builder()
        .http("store", &store.base_url(), "")
        .tenant("acme", &[ACME], "store")
        .spawn();
    let c = gw.client();
    let created: Value = c
        .post(format!("{}/Users", gw.base(ACME)))
        .bearer_auth(token_for("acme"))
        .json(&user("overhttp"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        created["meta"]["location"],
        format!("{}/Users/{id}", gw.base(ACME)).as_str()
    );
    let bulk: Value = c
        .post(format!("{}/Bulk", gw.base(ACME)))
        .bearer_auth(token_for("acme"))
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b", "data": user("bulk1")}]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        bulk["Operations"][0]["location"]
            .as_str()
            .unwrap()
            .starts_with(&gw.base(ACME)),
        "{bulk}"
    );
}

#[tokio::test]
async fn a_config_edited_under_load_switches_with_zero_failures() {
    let gw = two_tenants();
    let c = gw.client();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let c = c.clone();
        let url = format!("{}/Users?count=1", gw.base(ACME));
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match c.get(&url).bearer_auth(token_for("acme")).send().await {
                    Ok(r) if r.status() == 200 => ok += 1,
                    _ => failed += 1,
                }
            }
            (ok, failed)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let path = gw.dir.join("gateway.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    // A good change (a third tenant), then a broken file, then good again.
    let third = format!(
        "{text}\n[[tenants]]\nid = \"initech\"\nhosts = [\"initech.localhost\"]\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"t\"\nhash = \"{}\"\n",
        scim_gateway::authn::static_token::hash_token_hex(&token_for("initech"))
    );
    std::fs::write(&path, &third).unwrap();
    for _ in 0..100 {
        if gw.config.load().tenant("initech").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        gw.config.load().tenant("initech").is_some(),
        "the good config was applied"
    );
    std::fs::write(&path, "[server]\nlisten = 5\n").unwrap();
    for _ in 0..100 {
        if gw.config.reload_outcomes().1 >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        gw.config.reload_outcomes().1,
        1,
        "the bad config was refused"
    );
    assert!(
        gw.config.load().tenant("initech").is_some(),
        "and the old one kept serving"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut failed) = (0, 0);
    for w in workers {
        let (o, f) = w.await.unwrap();
        ok += o;
        failed += f;
    }
    assert!(ok > 20, "requests flowed: {ok}");
    assert_eq!(failed, 0, "no request failed during reloads");
}

#[tokio::test]
async fn graceful_shutdown_finishes_a_request_in_flight() {
    let echo = EchoUpstream::spawn();
    let mut gw = TestGateway::builder()
        .server("shutdown_timeout = \"10s\"")
        .http("echo", &echo.url(), "request_timeout = \"10s\"")
        .tenant("acme", &[ACME], "echo")
        .spawn();
    let c = gw.client();
    let url = format!("{}/Users/slow", gw.base(ACME));
    let in_flight = tokio::spawn(async move {
        c.get(url)
            .bearer_auth(token_for("acme"))
            .send()
            .await
            .map(|r| r.status())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let port = gw.bound.public.port();
    gw.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // No new connections once draining.
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "listener closed"
    );
    let status = in_flight.await.unwrap().unwrap();
    assert_eq!(status, 200, "the in-flight request completed");
    tokio::task::spawn_blocking(move || gw.join())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_third_party_scim_server_as_upstream() {
    let upstream = tokio::task::spawn_blocking(crate::support::peers::spawn_scim2_server)
        .await
        .unwrap();
    let gw = TestGateway::builder()
        .http("py", &upstream.base_url(), "")
        .tenant("acme", &[ACME], "py")
        .spawn();
    let c = gw.client();
    let created = c
        .post(format!("{}/Users", gw.base(ACME)))
        .bearer_auth(token_for("acme"))
        .json(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "py-user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_string();
    let location = body["meta"]["location"].as_str().unwrap();
    assert!(location.starts_with(&gw.base(ACME)), "{location}");
    let got = c
        .get(format!("{}/Users/{id}", gw.base(ACME)))
        .bearer_auth(token_for("acme"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    let patched = c
        .patch(format!("{}/Users/{id}", gw.base(ACME)))
        .bearer_auth(token_for("acme"))
        .json(
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                      "Operations": [{"op": "replace", "path": "displayName", "value": "Py"}]}),
        )
        .send()
        .await
        .unwrap();
    assert!(patched.status().is_success(), "{}", patched.status());
    let deleted = c
        .delete(format!("{}/Users/{id}", gw.base(ACME)))
        .bearer_auth(token_for("acme"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    // A 405 of the upstream stays a 405.
    let not_allowed = c
        .delete(format!("{}/ServiceProviderConfig", gw.base(ACME)))
        .bearer_auth(token_for("acme"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_allowed.status(), 405);
    drop(upstream);
}

#[tokio::test]
async fn an_https_upstream_with_a_custom_ca_and_its_own_token() {
    // Gateway B (TLS, its own test CA) is the upstream of gateway A.
    let b = TestGateway::builder()
        .builtin("store")
        .tenant("inner", &["inner.localhost"], "store")
        .spawn();
    let token_file = b.dir.join("upstream-token");
    std::fs::write(&token_file, format!("{}\n", token_for("inner"))).unwrap();
    let url = format!(
        "https://localhost:{}/tenants/inner/scim/v2",
        b.bound.public.port()
    );
    let a = TestGateway::builder()
        .http(
            "inner",
            &url,
            &format!(
                "ca_file = \"{}\"\n[upstreams.inner.auth]\nkind = \"bearer\"\ntoken_file = \"{}\"",
                b.ca_file().display(),
                token_file.display()
            ),
        )
        .tenant("acme", &[ACME], "inner")
        .spawn();
    let created = a
        .client()
        .post(format!("{}/Users", a.base(ACME)))
        .bearer_auth(token_for("acme"))
        .json(&user("chained"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(
        body["meta"]["location"],
        format!("{}/Users/{id}", a.base(ACME)).as_str()
    );
    // B saw the user under its own tenant.
    let inner: Value = b
        .client()
        .get(format!(
            "{}/tenants/inner/scim/v2/Users/{id}",
            b.origin("gw.localhost")
        ))
        .bearer_auth(token_for("inner"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(inner["userName"], "chained");

    // Without the custom CA the upstream is not trusted: 502, nothing leaks.
    let untrusted = TestGateway::builder()
        .http("inner", &url, "")
        .tenant("acme", &[ACME], "inner")
        .spawn();
    let resp = untrusted
        .client()
        .get(format!("{}/Users", untrusted.base(ACME)))
        .bearer_auth(token_for("acme"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
}

#[tokio::test]
async fn a_body_that_never_arrives_is_408_not_504() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = TestGateway::builder()
        .plaintext()
        .server("request_timeout = \"1s\"")
        .builtin("store")
        .tenant("acme", &[ACME], "store")
        .spawn();
    let mut s = tokio::net::TcpStream::connect(gw.bound.public)
        .await
        .unwrap();
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nhost: {ACME}\r\nauthorization: Bearer {}\r\ncontent-type: application/scim+json\r\ncontent-length: 100\r\n\r\n{{\"userName\":",
        token_for("acme")
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("application/scim+json"), "{text}");
}
