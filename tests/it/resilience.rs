//! Upstream resilience against a deliberately faulty upstream: safe
//! retries, the upstream's Retry-After, no retry of non-idempotent
//! writes, and the circuit breaker.
use crate::support::faulty::{Fault, FaultyUpstream};
use crate::support::gateway::{token_for, TestGateway};
use std::time::{Duration, Instant};

fn gateway(up: &FaultyUpstream, resilience: &str) -> TestGateway {
    gateway_named(up, "faulty", resilience)
}

/// `name`: the upstream's name, unique where a test reads its counters
/// (the metrics recorder is shared by every test in the process).
fn gateway_named(up: &FaultyUpstream, name: &str, resilience: &str) -> TestGateway {
    TestGateway::builder()
        .http(
            name,
            &up.url(),
            &format!("request_timeout = \"5s\"\n[upstreams.{name}.resilience]\n{resilience}"),
        )
        .tenant("acme", &["acme.localhost"], name)
        .spawn()
}

async fn call(gw: &TestGateway, method: reqwest::Method) -> reqwest::Response {
    let mut req = gw
        .client()
        .request(
            method.clone(),
            format!("{}/Users/f1", gw.base("acme.localhost")),
        )
        .bearer_auth(token_for("acme"));
    if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
        req = req
            .header("content-type", "application/scim+json")
            .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}"#);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn idempotent_requests_are_retried_through_transient_faults() {
    let up = FaultyUpstream::spawn();
    let gw = gateway(
        &up,
        "attempts = 4\nbackoff = \"10ms\"\nretry_budget = 1.0\n",
    );
    up.script(&[Fault::Status(503), Fault::Reset, Fault::Status(502)]);
    assert_eq!(call(&gw, reqwest::Method::GET).await.status(), 200);
    assert_eq!(up.hits(), 4, "three faults, then the answer");
    up.script(&[Fault::Status(504)]);
    assert_eq!(call(&gw, reqwest::Method::PUT).await.status(), 200);
    // A POST is not repeated: the upstream may have acted on it.
    let before = up.hits();
    up.script(&[Fault::Status(503)]);
    assert_eq!(call(&gw, reqwest::Method::POST).await.status(), 503);
    assert_eq!(up.hits(), before + 1);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("scim_gateway_upstream_retries_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_upstreams_retry_after_is_honoured_up_to_the_cap() {
    let up = FaultyUpstream::spawn();
    let gw = gateway_named(
        &up,
        "throttling",
        "retry_after_cap = \"2s\"\nretry_budget = 1.0\n",
    );
    up.script(&[Fault::TooMany(1)]);
    let started = Instant::now();
    assert_eq!(call(&gw, reqwest::Method::GET).await.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited as told"
    );
    // Beyond the cap, the 429 (with its Retry-After) goes to the client.
    up.script(&[Fault::TooMany(30)]);
    let resp = call(&gw, reqwest::Method::GET).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "30");
    // Both 429s received are counted, the retried one and the passed one.
    let metrics = gw.metrics().await;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("scim_gateway_upstream_throttled_total{upstream=\"throttling\"}"))
        .unwrap_or_else(|| panic!("no throttled counter:\n{metrics}"));
    assert!(line.ends_with(" 2"), "{line}");
}

#[tokio::test]
async fn a_failing_upstream_opens_the_circuit() {
    let up = FaultyUpstream::spawn();
    let gw = gateway(
        &up,
        "attempts = 1\nbreaker_failures = 3\nbreaker_open_for = \"500ms\"\n",
    );
    up.always(Some(Fault::Status(500)));
    for _ in 0..3 {
        assert_eq!(call(&gw, reqwest::Method::GET).await.status(), 500);
    }
    assert_eq!(up.hits(), 3);
    // Open: refused at once, the upstream untouched.
    let resp = call(&gw, reqwest::Method::GET).await;
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(up.hits(), 3);
    // After the pause one probe goes through; the upstream has recovered,
    // so the circuit closes.
    up.always(None);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(call(&gw, reqwest::Method::GET).await.status(), 200);
    assert_eq!(call(&gw, reqwest::Method::GET).await.status(), 200);
    assert_eq!(up.hits(), 5);
}

#[tokio::test]
async fn a_put_is_retried_through_several_faults_in_a_row() {
    let up = FaultyUpstream::spawn();
    let gw = gateway(&up, "attempts = 4\nbackoff = \"5ms\"\nretry_budget = 1.0\n");
    up.script(&[Fault::Status(502), Fault::Reset, Fault::Status(503)]);
    assert_eq!(call(&gw, reqwest::Method::PUT).await.status(), 200);
    assert_eq!(up.hits(), 4, "three faults, then the answer");
}

/// The half-open probe's client hangs up while the upstream still holds
/// the request: the probe's slot must be given back (a drop guard), so a
/// later request reaches the upstream. Before, the probe stayed "out"
/// forever and every later request got 503 until a reload.
#[tokio::test]
async fn a_probe_abandoned_by_its_client_does_not_keep_the_circuit_open() {
    let up = FaultyUpstream::spawn();
    // The upstream timeout is far beyond the test's bound: only the drop
    // guard can release the probe in time.
    let gw = TestGateway::builder()
        .server("request_timeout = \"60s\"")
        .http(
            "abandoned",
            &up.url(),
            "request_timeout = \"60s\"\n[upstreams.abandoned.resilience]\n\
             attempts = 1\nbreaker_failures = 3\nbreaker_open_for = \"300ms\"\n",
        )
        .tenant("acme", &["acme.localhost"], "abandoned")
        .spawn();
    up.always(Some(Fault::Status(500)));
    for _ in 0..3 {
        assert_eq!(call(&gw, reqwest::Method::GET).await.status(), 500);
    }
    assert_eq!(call(&gw, reqwest::Method::GET).await.status(), 503);
    assert_eq!(up.hits(), 3);

    // After the pause, the probe goes out and the upstream sits on it.
    up.always(Some(Fault::Hang(Duration::from_secs(120))));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let client = gw.client();
    let url = format!("{}/Users/f1", gw.base("acme.localhost"));
    let probe = tokio::spawn(
        client
            .get(url.clone())
            .bearer_auth(token_for("acme"))
            .send(),
    );
    let until = Instant::now() + Duration::from_secs(5);
    while up.hits() < 4 {
        assert!(
            Instant::now() < until,
            "the probe never reached the upstream"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The client hangs up: its connection closes mid-request.
    probe.abort();
    let _ = probe.await;
    up.always(None);

    // A later request (on a connection of its own) reaches the upstream,
    // well within the 60 s the abandoned probe could otherwise hold it.
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let status = gw
            .client()
            .get(url.clone())
            .bearer_auth(token_for("acme"))
            .send()
            .await
            .unwrap()
            .status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "only the open circuit may refuse");
        assert!(
            Instant::now() < until,
            "the circuit stayed open after its probe was abandoned"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(up.hits(), 5);
}
