//! Connection caps: one client IP cannot hold more than its share, and
//! connections that never authenticate cannot hold more than the
//! anonymous budget, or for longer than `anonymous_timeout`, so an
//! authenticated client still gets in and is served.
use super::{closed_within, get, metric, tcp_from, tls_connect};
use crate::support::echo::EchoUpstream;
use crate::support::gateway::{token_for, TestGateway};
use std::net::IpAddr;
use std::time::Duration;

const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

/// A client with a valid token, from `from`, that gives up after 5 s.
async fn served(gw: &TestGateway, tenant: &str, from: IpAddr) -> Result<u16, reqwest::Error> {
    let client = gw
        .client_builder()
        .local_address(from)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let r = client
        .get(format!(
            "{}/Users/echo",
            gw.base(&format!("{tenant}.localhost"))
        ))
        .bearer_auth(token_for(tenant))
        .send()
        .await?;
    Ok(r.status().as_u16())
}

#[tokio::test]
async fn one_client_ip_cannot_take_every_connection() {
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .server("max_connections = 8")
        .server("max_connections_per_ip = 4")
        .server("max_anonymous_connections = 8")
        .server("header_read_timeout = \"30s\"")
        .http("echo", &echo.url(), "")
        .tenant("perip", &["perip.localhost"], "echo")
        .spawn();
    // 127.0.0.1 opens as many connections as the whole cap and holds them
    // (no TLS handshake, nothing sent).
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(tcp_from(LOCAL, gw.bound.public).await);
    }
    // Another client IP is still served.
    assert_eq!(served(&gw, "perip", OTHER).await.ok(), Some(200));
    // The connections over 127.0.0.1's cap were closed at accept.
    let mut closed = 0;
    for s in &mut held {
        closed += usize::from(closed_within(s, Duration::from_millis(200)).await);
    }
    assert_eq!(closed, 4, "4 over the per-IP cap of 4");
    let metrics = gw.metrics().await;
    assert!(
        metric(
            &metrics,
            r#"scim_gateway_connections_refused_total{reason="per_ip"}"#
        ) >= 4.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn anonymous_connections_cannot_lock_out_an_authenticated_client() {
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .server("max_connections = 8")
        .server("max_connections_per_ip = 8")
        .server("max_anonymous_connections = 4")
        .server("anonymous_timeout = \"30s\"")
        .http("echo", &echo.url(), "")
        .tenant("anon", &["anon.localhost"], "echo")
        .spawn();
    // Eight clients take every connection: TLS done, one request each
    // without credentials (401), kept alive. A 401 does not make a
    // connection authenticated.
    let mut anonymous = Vec::new();
    for _ in 0..8 {
        let mut s = tls_connect(&gw, "anon.localhost", &[b"http/1.1"]).await;
        let status = get(&mut s, "anon.localhost", "/scim/v2/Users/echo", None).await;
        assert!(matches!(status, Some(401) | None), "{status:?}");
        anonymous.push(s);
    }
    // The same IP, with a token: let in, and served.
    assert_eq!(served(&gw, "anon", LOCAL).await.ok(), Some(200));
    // The oldest anonymous connections made room (the budget is 4).
    let mut closed = 0;
    for s in &mut anonymous {
        closed += usize::from(closed_within(s, Duration::from_millis(200)).await);
    }
    assert!(
        closed >= 4,
        "only {closed} anonymous connections were closed"
    );
    let metrics = gw.metrics().await;
    assert!(
        metric(
            &metrics,
            r#"scim_gateway_connections_refused_total{reason="anonymous_budget"}"#
        ) >= 4.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn a_connection_that_never_authenticates_is_closed_after_the_anonymous_timeout() {
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .server("anonymous_timeout = \"1s\"")
        // Damping would answer 429 after 20 failures: off, to see the cut.
        .server("auth_failure_limit = 0")
        .http("echo", &echo.url(), "")
        .tenant("late", &["late.localhost"], "echo")
        .spawn();
    let path = "/scim/v2/Users/echo";
    // Unauthenticated requests every 200 ms: busy, but never authenticated.
    let mut anonymous = tls_connect(&gw, "late.localhost", &[b"http/1.1"]).await;
    let cut = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(status) = get(&mut anonymous, "late.localhost", path, None).await {
            assert_eq!(status, 401);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(
        cut.is_ok(),
        "still open 5 s after the 1 s anonymous timeout"
    );
    // An authenticated connection outlives the anonymous timeout.
    let token = token_for("late");
    let mut authenticated = tls_connect(&gw, "late.localhost", &[b"http/1.1"]).await;
    let first = get(&mut authenticated, "late.localhost", path, Some(&token)).await;
    assert_eq!(first, Some(200));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = get(&mut authenticated, "late.localhost", path, Some(&token)).await;
    assert_eq!(second, Some(200), "the same connection, past the timeout");
}
