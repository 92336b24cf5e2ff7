//! Several endpoints behind one upstream: least-outstanding balancing, a
//! failing endpoint ejected with no client error for idempotent requests
//! and brought back by its health checks, locations of every endpoint
//! rewritten to the gateway's, and 503 with Retry-After when none is left.
use crate::support::echo::EchoUpstream;
use crate::support::faulty::{Fault, FaultyUpstream};
use crate::support::gateway::{token_for, TestGateway};
use std::time::{Duration, Instant};

fn upstream(urls: &[String], extra: &str) -> String {
    let list: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
    format!(
        "[upstreams.app]\nkind = \"http\"\nurls = [{}]\nrequest_timeout = \"5s\"\n{extra}",
        list.join(", ")
    )
}

fn gateway(urls: &[String], extra: &str) -> TestGateway {
    TestGateway::builder()
        .raw_upstream(&upstream(urls, extra))
        .tenant("acme", &["acme.localhost"], "app")
        .spawn()
}

async fn call(gw: &TestGateway, client: &reqwest::Client, method: reqwest::Method) -> u16 {
    let mut req = client
        .request(
            method.clone(),
            format!("{}/Users/f1", gw.base("acme.localhost")),
        )
        .bearer_auth(token_for("acme"));
    if method == reqwest::Method::PUT {
        req = req
            .header("content-type", "application/scim+json")
            .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}"#);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn metrics(gw: &TestGateway) -> String {
    gw.metrics().await
}

#[tokio::test]
async fn a_slow_endpoint_gets_fewer_requests() {
    let slow = FaultyUpstream::spawn();
    slow.always(Some(Fault::Hang(Duration::from_millis(150))));
    let (a, b) = (FaultyUpstream::spawn(), FaultyUpstream::spawn());
    // A long health interval: one round of checks, at the first request.
    let gw = gateway(
        &[slow.url(), a.url(), b.url()],
        "[upstreams.app.health]\ninterval = \"60s\"\n",
    );
    let client = gw.client();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..6 {
        let (client, url) = (client.clone(), gw.base("acme.localhost"));
        tasks.spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..15 {
                let resp = client
                    .get(format!("{url}/Users/f{worker}"))
                    .bearer_auth(token_for("acme"))
                    .send()
                    .await
                    .unwrap();
                statuses.push(resp.status().as_u16());
            }
            statuses
        });
    }
    while let Some(statuses) = tasks.join_next().await {
        assert!(statuses.unwrap().iter().all(|s| *s == 200));
    }
    // Each got one health check besides the 90 requests.
    let (slow, a, b) = (slow.hits() - 1, a.hits() - 1, b.hits() - 1);
    assert_eq!(slow + a + b, 90);
    assert!(
        slow * 4 < a && slow * 4 < b,
        "slow {slow}, fast {a} and {b}"
    );
    assert!(a > 20 && b > 20, "the fast ones share: {a} and {b}");
    let text = metrics(&gw).await;
    assert!(
        text.contains("scim_gateway_upstream_endpoint_outstanding"),
        "{text}"
    );
    assert!(
        text.contains("scim_gateway_upstream_endpoint_healthy"),
        "{text}"
    );
}

#[tokio::test]
async fn a_failing_endpoint_is_ejected_then_brought_back_by_its_health_checks() {
    let (bad, a, b) = (
        FaultyUpstream::spawn(),
        FaultyUpstream::spawn(),
        FaultyUpstream::spawn(),
    );
    bad.always(Some(Fault::Status(503)));
    let gw = gateway(
        &[bad.url(), a.url(), b.url()],
        "[upstreams.app.health]\ninterval = \"200ms\"\ntimeout = \"200ms\"\nhealthy_after = 1\nunhealthy_after = 3\n\
         [upstreams.app.outlier]\nconsecutive_failures = 2\nbase_ejection_time = \"60s\"\n\
         [upstreams.app.resilience]\nattempts = 3\nbackoff = \"5ms\"\nretry_budget = 1.0\n",
    );
    let client = gw.client();
    // Idempotent requests: a failure on the bad endpoint is retried on
    // another one, and the client never sees it.
    for i in 0..40 {
        let method = if i % 4 == 3 {
            reqwest::Method::PUT
        } else {
            reqwest::Method::GET
        };
        assert_eq!(call(&gw, &client, method).await, 200, "request {i}");
    }
    let to_bad = bad.hits();
    assert!(
        to_bad <= 8,
        "ejected early: {to_bad} requests and checks reached it"
    );
    assert!(a.hits() + b.hits() >= 40);
    // Ejected on real traffic (before its health checks noticed).
    let endpoint = format!("endpoint=\"{}\"", bad.addr);
    let text = metrics(&gw).await;
    assert!(
        text.lines().any(
            |l| l.starts_with("scim_gateway_upstream_endpoint_ejections_total")
                && l.contains(&endpoint)
                && l.ends_with(" 1")
        ),
        "{text}"
    );
    // Three failed checks later it is unhealthy too.
    let unhealthy = |text: &str| {
        text.lines().any(|l| {
            l.starts_with("scim_gateway_upstream_endpoint_healthy")
                && l.contains(&endpoint)
                && l.ends_with(" 0")
        })
    };
    let started = Instant::now();
    while !unhealthy(&metrics(&gw).await) {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "never unhealthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // It recovers: the next health check brings it back, well before the
    // 60 s ejection would have ended.
    bad.always(None);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = bad.hits();
    for _ in 0..30 {
        assert_eq!(call(&gw, &client, reqwest::Method::GET).await, 200);
    }
    let back = bad.hits() - before;
    assert!(back >= 5, "it takes traffic again: {back} of 30");
}

#[tokio::test]
async fn locations_of_every_endpoint_point_at_the_gateway() {
    let (a, b) = (EchoUpstream::spawn(), EchoUpstream::spawn());
    let gw = gateway(&[a.url(), b.url()], "");
    let client = gw.client();
    let base = gw.base("acme.localhost");
    for _ in 0..6 {
        let resp = client
            .get(format!("{base}/Users/echo"))
            .bearer_auth(token_for("acme"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        let body: serde_json::Value = resp.json().await.unwrap();
        let expected = format!("{base}/Users/echo");
        assert_eq!(location, expected);
        assert_eq!(body["meta"]["location"], expected.as_str());
    }
    assert!(
        a.hits() >= 3 && b.hits() >= 3,
        "{} and {}",
        a.hits(),
        b.hits()
    );
}

#[tokio::test]
async fn with_every_endpoint_down_the_answer_is_503_with_retry_after_at_once() {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    };
    let urls = [
        format!("http://{}/scim/v2", free()),
        format!("http://{}/scim/v2", free()),
    ];
    let gw = gateway(
        &urls,
        "connect_timeout = \"200ms\"\n[upstreams.app.health]\ninterval = \"100ms\"\ntimeout = \"100ms\"\nunhealthy_after = 1\n\
         [upstreams.app.resilience]\nbackoff = \"5ms\"\n",
    );
    let client = gw.client();
    // Before the health checks notice, a request fails upstream.
    let first = call(&gw, &client, reqwest::Method::GET).await;
    assert!(first == 502 || first == 503, "{first}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    for _ in 0..3 {
        let asked = Instant::now();
        let resp = client
            .get(format!("{}/Users/f1", gw.base("acme.localhost")))
            .bearer_auth(token_for("acme"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 503);
        let after: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(after >= 1);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["status"], "503");
        assert!(asked.elapsed() < Duration::from_millis(500), "never a hang");
    }
}

#[tokio::test]
async fn a_reload_stops_the_old_health_checks() {
    let (a, b, c, d) = (
        FaultyUpstream::spawn(),
        FaultyUpstream::spawn(),
        FaultyUpstream::spawn(),
        FaultyUpstream::spawn(),
    );
    let gw = gateway(
        &[a.url(), b.url()],
        "[upstreams.app.health]\ninterval = \"50ms\"\ntimeout = \"50ms\"\n",
    );
    let client = gw.client();
    assert_eq!(call(&gw, &client, reqwest::Method::GET).await, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(a.hits() >= 3, "checked every 50 ms: {}", a.hits());

    // The same upstream name, other endpoints.
    let path = gw.dir.join("gateway.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        &format!("urls = [\"{}\", \"{}\"]", a.url(), b.url()),
        &format!("urls = [\"{}\", \"{}\"]", c.url(), d.url()),
    );
    std::fs::write(&path, text).unwrap();
    gw.config.reload().unwrap();
    assert_eq!(call(&gw, &client, reqwest::Method::GET).await, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (a_then, c_then) = (a.hits(), c.hits());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.hits(), a_then, "the replaced config's checks stopped");
    assert!(c.hits() >= c_then + 3, "the new config's checks run");
}
