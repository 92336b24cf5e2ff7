//! The response cache: bounded in bytes, not multiplied by junk query
//! parameters, and keyed by the public base a client's `Host` selects.
use super::metric;
use crate::support::echo::EchoUpstream;
use crate::support::gateway::{token_for, TestGateway};

/// A tenant with a 256 KiB cache (entries up to 32 KiB).
const BUDGET: usize = 256 * 1024;

fn filter(i: usize) -> String {
    format!("filter=userName%20eq%20%22user{i}%22")
}

#[tokio::test]
async fn junk_query_parameters_are_not_cached() {
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .http("echo", &echo.url(), "")
        .tenant_with(
            "junkq",
            &["junkq.localhost"],
            "echo",
            "[tenants.cache]\nttl = \"60s\"\n",
        )
        .spawn();
    let client = gw.client();
    let get = |query: String| {
        let req = client
            .get(format!("{}/Users?{query}", gw.base("junkq.localhost")))
            .bearer_auth(token_for("junkq"));
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.headers().get("x-cache").is_some()
        }
    };
    assert!(!get(format!("{}&count=5", filter(1))).await);
    // Any other parameter bypasses the cache: its answer could differ,
    // and it must not mint entries.
    for i in 0..150 {
        assert!(!get(format!("{}&count=5&junk{i}=x", filter(1))).await);
    }
    assert!(
        !get(format!("{}&count=5&junk0=x", filter(1))).await,
        "a junk parameter is never a hit"
    );
    assert!(
        !get(format!("{0}&{0}", filter(1))).await,
        "repeated: bypass"
    );
    assert!(!get(format!("{0}&{0}", filter(1))).await);
    assert!(
        echo.hits() >= 1 + 150 + 1 + 2,
        "every bypass reached the upstream"
    );
    // SCIM parameters are cached, in any order.
    let before = echo.hits();
    assert!(
        get(format!("count=5&{}", filter(1))).await,
        "same query, other order"
    );
    assert_eq!(echo.hits(), before);
    let metrics = gw.metrics().await;
    assert!(
        metric(
            &metrics,
            r#"scim_gateway_cache_requests_total{tenant="junkq",result="bypass"}"#
        ) >= 153.0,
        "{metrics}"
    );
    let held = metric(&metrics, r#"scim_gateway_cache_bytes{tenant="junkq"}"#);
    assert!(held > 0.0 && held < 16.0 * 1024.0, "one entry held: {held}");
}

#[tokio::test]
async fn the_cache_stays_within_its_byte_budget() {
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .http("echo", &echo.url(), "")
        .tenant_with(
            "budget",
            &["budget.localhost"],
            "echo",
            &format!("[tenants.cache]\nttl = \"60s\"\nmax_bytes = {BUDGET}\n"),
        )
        .spawn();
    let client = gw.client();
    // The echo repeats the request's headers: about 10 KiB per answer.
    let pad = "p".repeat(10 * 1024);
    let get = |i: usize| {
        let req = client
            .get(format!(
                "{}/Users?{}",
                gw.base("budget.localhost"),
                filter(i)
            ))
            .bearer_auth(token_for("budget"))
            // (User-Agent: one of the headers the upstream may see.)
            .header("user-agent", &pad);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
            let hit = r.headers().get("x-cache").is_some();
            let size = r.bytes().await.unwrap().len();
            (hit, size)
        }
    };
    // 60 distinct queries: about 600 KiB of answers for a 256 KiB budget.
    let mut size = 0;
    for i in 0..60 {
        let (hit, n) = get(i).await;
        assert!(!hit);
        size = n;
    }
    assert!(size > 10 * 1024, "answers of {size} bytes");
    // What is still there fits the budget (each hit is one entry).
    let mut hits = 0;
    for i in 0..60 {
        hits += usize::from(get(i).await.0);
    }
    assert!(hits >= 1, "the cache still works");
    assert!(
        hits * size <= BUDGET,
        "{hits} hits of {size} bytes exceed the {BUDGET}-byte budget"
    );
    let metrics = gw.metrics().await;
    let held = metric(&metrics, r#"scim_gateway_cache_bytes{tenant="budget"}"#);
    assert!(
        held > 0.0 && held <= BUDGET as f64,
        "held {held} of {BUDGET}"
    );
}

#[tokio::test]
async fn another_host_never_gets_an_answer_cached_for_a_different_public_base() {
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .http("echo", &echo.url(), "")
        .tenant_with(
            "byhost",
            &["byhost.localhost"],
            "echo",
            "[tenants.cache]\nttl = \"60s\"\n",
        )
        .spawn();
    // Path routing on the shared host: the public base comes from `Host`
    // (here with and without the port; both name the listener).
    let client = gw.client_builder().http1_only().build().unwrap();
    let url = format!(
        "{}/tenants/byhost/scim/v2/Users/echo",
        gw.origin("gw.localhost")
    );
    let get = |host: Option<&'static str>| {
        let mut req = client.get(&url).bearer_auth(token_for("byhost"));
        if let Some(host) = host {
            req = req.header("host", host);
        }
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
            let hit = r.headers().get("x-cache").is_some();
            let body: serde_json::Value = r.json().await.unwrap();
            (
                hit,
                body["meta"]["location"].as_str().unwrap_or("").to_string(),
            )
        }
    };
    let (_, portless) = get(Some("gw.localhost")).await;
    assert!(
        portless.starts_with("https://gw.localhost/tenants/"),
        "{portless}"
    );
    let (hit, location) = get(None).await;
    assert!(!hit, "another public base is another entry");
    let origin = gw.origin("gw.localhost");
    assert!(location.starts_with(&format!("{origin}/")), "{location}");
    // Each base still gets its own hits.
    assert_eq!(get(None).await, (true, location));
    assert_eq!(get(Some("gw.localhost")).await, (true, portless));
    assert_eq!(echo.hits(), 2);
}
