//! One canonical request: the path and Host the gateway decides on are the
//! ones it forwards. Each test sends what a URL library would never send
//! (raw `..`, `%2e%2e`, odd case, a Host with a port that is not one),
//! over real TLS, to a real gateway with a real upstream that records what
//! it received.
use crate::support::echo::EchoUpstream;
use crate::support::gateway::{token_for, TestGateway};
use crate::support::raw::{request, RawResponse};
use scim_gateway::authn::static_token::hash_token_hex;

const ACME: &str = "acme.localhost";
const READER: &str = "reader-token-0123456789abcdef";
const WRITER: &str = "writer-token-0123456789abcdef";

/// `acme` by host in front of an echo upstream, with three credentials:
/// `test` (everything), `reader` (read Users only), `writer` (write Users
/// only).
fn gateway(upstream: &EchoUpstream) -> TestGateway {
    let tenant = format!(
        "[[tenants]]\nid = \"acme\"\nhosts = [\"{ACME}\"]\nupstream = \"echo\"\n\
         [tenants.schema]\nvalidate = false\n\
         [[tenants.tokens]]\nname = \"test\"\nhash = \"{}\"\n\
         [[tenants.tokens]]\nname = \"reader\"\nhash = \"{}\"\n\
         [[tenants.tokens]]\nname = \"writer\"\nhash = \"{}\"\n\
         [[tenants.grants]]\ncredentials = [\"static:test\"]\nresources = [\"*\"]\nmethods = [\"*\"]\n\
         [[tenants.grants]]\ncredentials = [\"static:reader\"]\nresources = [\"Users\"]\nmethods = [\"read\"]\n\
         [[tenants.grants]]\ncredentials = [\"static:writer\"]\nresources = [\"Users\"]\nmethods = [\"write\"]\n",
        hash_token_hex(&token_for("acme")),
        hash_token_hex(READER),
        hash_token_hex(WRITER),
    );
    TestGateway::builder()
        .http("echo", &format!("{}/t1", upstream.url()), "")
        .raw_tenant(&tenant, &[ACME])
        .spawn()
}

fn assert_invalid_path(r: &RawResponse, what: &str) {
    assert_eq!(
        r.status,
        400,
        "{what}: {:?}",
        String::from_utf8_lossy(&r.body)
    );
    let body = r.json();
    assert_eq!(body["scimType"], "invalidPath", "{what}: {body}");
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_never_reach_the_upstream() {
    let upstream = EchoUpstream::spawn();
    let gw = gateway(&upstream);
    let reader = READER;
    let cases = [
        ("GET", "/scim/v2/Users/../Groups", reader),
        ("GET", "/scim/v2/Users/%2e%2e/Groups", reader),
        ("DELETE", "/scim/v2/Users/%2e%2e/Groups/g1", WRITER),
        ("DELETE", "/scim/v2/Users/%2E%2E", WRITER),
        ("POST", "/scim/v2/Users/x/..", WRITER),
        ("GET", "/scim/v2/Users/..;/Groups", reader),
        ("GET", "/scim/v2/Users/.%2e/%2e%2e/t2/Users", reader),
        ("GET", "/scim/v2/Users/a%2fb", reader),
        ("GET", "/scim/v2/Users/a%5c..%5cGroups", reader),
        ("GET", "/scim/v2/Users//x", reader),
        ("GET", "/scim/v2/Users/a%00", reader),
        ("GET", "/scim/v2/./Users", reader),
    ];
    for (method, target, token) in cases {
        let body = (method == "POST").then_some("{\"userName\":\"x\"}");
        let r = request(&gw, ACME, method, target, ACME, token, body).await;
        assert_invalid_path(&r, target);
    }
    assert_eq!(upstream.hits(), 0, "nothing reached the upstream");

    // The same token is still refused on the type it has no grant for,
    // and served on the one it has; the upstream sees the canonical path
    // below its own base.
    let r = request(&gw, ACME, "GET", "/scim/v2/Groups", ACME, reader, None).await;
    assert_eq!(r.status, 403);
    let r = request(&gw, ACME, "GET", "/scim/v2/users/%41b", ACME, reader, None).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["uri"], "/scim/v2/t1/Users/Ab");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_is_matched_in_one_case_by_grants_and_upstream() {
    let upstream = EchoUpstream::spawn();
    let gw = gateway(&upstream);
    let search = "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:SearchRequest\"]}";
    // A write-only credential cannot read through a search, in any case.
    for target in [
        "/scim/v2/Users/.search",
        "/scim/v2/Users/.SEARCH",
        "/scim/v2/users/.Search",
    ] {
        let r = request(&gw, ACME, "POST", target, ACME, WRITER, Some(search)).await;
        assert_eq!(r.status, 403, "{target}: {:?}", r.json());
    }
    assert_eq!(upstream.hits(), 0);
    // A reader may, and the upstream gets the canonical spelling.
    let r = request(
        &gw,
        ACME,
        "POST",
        "/scim/v2/users/.SEARCH",
        ACME,
        READER,
        Some(search),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["uri"], "/scim/v2/t1/Users/.search");
    assert_eq!(r.json()["method"], "POST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_routed_tenant_cannot_leave_its_base() {
    let upstream = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .http("one", &format!("{}/t1", upstream.url()), "")
        .http("two", &format!("{}/t2", upstream.url()), "")
        .tenant("t1", &[], "one")
        .tenant("t2", &[], "two")
        .spawn();
    let token = token_for("t1");
    for target in [
        "/tenants/t1/scim/v2/Users/../../../../t2/scim/v2/Users",
        "/tenants/t1/scim/v2/Users/%2e%2e/%2e%2e/t2/Users",
        "/tenants/t1/scim/v2/%2e%2e/t2/Users",
        "/tenants/%2e%2e/t2/scim/v2/Users",
    ] {
        let r = request(
            &gw,
            "gw.localhost",
            "GET",
            target,
            "gw.localhost",
            &token,
            None,
        )
        .await;
        assert_invalid_path(&r, target);
    }
    assert_eq!(upstream.hits(), 0);
    let r = request(
        &gw,
        "gw.localhost",
        "GET",
        "/tenants/t1/scim/v2/Users/u1",
        "gw.localhost",
        &token,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["uri"], "/scim/v2/t1/Users/u1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_is_a_host_and_a_numeric_port() {
    let upstream = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .http("echo", &upstream.url(), "")
        .tenant("acme", &[ACME], "echo")
        .spawn();
    let token = token_for("acme");
    let port = gw.bound.public.port();
    for host in [
        format!("{ACME}:x@evil.example"),
        format!("{ACME}:{port}@evil.example"),
        format!("{ACME}:{port}/evil"),
        format!("{ACME}:"),
        format!("{ACME}:99999"),
        format!("user@{ACME}"),
    ] {
        let r = request(&gw, ACME, "GET", "/scim/v2/Users/u1", &host, &token, None).await;
        assert_eq!(r.status, 400, "{host}");
        assert!(!String::from_utf8_lossy(&r.body).contains("evil.example"));
    }
    assert_eq!(upstream.hits(), 0);
    // Path-routed tenants answer on the listener's names only (the test
    // certificate's), never on a host the client made up: every location
    // would point there.
    let r = request(
        &gw,
        "gw.localhost",
        "GET",
        "/tenants/acme/scim/v2/Users/u1",
        "evil.example",
        &token,
        None,
    )
    .await;
    assert_eq!(r.status, 421);
    assert_eq!(upstream.hits(), 0);
    // A good host: locations are the gateway's.
    let host = format!("{ACME}:{port}");
    let r = request(&gw, ACME, "GET", "/scim/v2/Users/u1", &host, &token, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["meta"]["location"],
        format!("https://{host}/scim/v2/Users/echo")
    );
    assert_eq!(
        r.header("location"),
        Some(format!("https://{host}/scim/v2/Users/echo").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emulated_bulk_operation_cannot_leave_the_base_either() {
    // The gateway runs each operation of an emulated Bulk as a request of
    // its own: an operation's path is a request path.
    let upstream = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .http(
            "emulated",
            &format!("{}/t1", upstream.url()),
            "[upstreams.emulated.capabilities]\nbulk = false\n",
        )
        .tenant_with(
            "acme",
            &[ACME],
            "emulated",
            "[tenants.schema]\nvalidate = false\n",
        )
        .spawn();
    let token = token_for("acme");
    for path in [
        "/Users/../../t2/Users/u1",
        "/Users/%2e%2e/%2e%2e/t2/Users/u1",
        "/Users/u1%2f..%2f..%2ft2",
    ] {
        let bulk = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [{"method": "DELETE", "path": path}]
        })
        .to_string();
        let r = request(
            &gw,
            ACME,
            "POST",
            "/scim/v2/Bulk",
            ACME,
            &token,
            Some(&bulk),
        )
        .await;
        let body = r.json();
        assert_eq!(r.status, 400, "{path}: {body}");
        assert_eq!(body["scimType"], "invalidPath", "{path}: {body}");
    }
    assert_eq!(upstream.hits(), 0, "no operation reached the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_in_any_case_is_a_read_for_the_cache() {
    // A search is a read: it must not invalidate the tenant's cached
    // answers (nor be audited as a write), whatever its spelling.
    let upstream = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .http("echo", &upstream.url(), "")
        .tenant_with(
            "acme",
            &[ACME],
            "echo",
            "[tenants.cache]\nttl = \"30s\"\n[tenants.schema]\nvalidate = false\n",
        )
        .spawn();
    let token = token_for("acme");
    let get = || request(&gw, ACME, "GET", "/scim/v2/Users/u1", ACME, &token, None);
    let first = get().await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-cache"), None, "a miss");
    let second = get().await;
    assert!(second.header("x-cache") == Some("hit"), "a cache hit");
    let search = "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:SearchRequest\"]}";
    for target in ["/scim/v2/Users/.SEARCH", "/scim/v2/users/.Search"] {
        let r = request(&gw, ACME, "POST", target, ACME, &token, Some(search)).await;
        assert_eq!(r.status, 200);
    }
    let third = get().await;
    assert!(
        third.header("x-cache") == Some("hit"),
        "the searches left the cached answer alone"
    );
}
