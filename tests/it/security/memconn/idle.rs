//! Idle timeout: an HTTP/2 connection with no open stream for
//! `idle_timeout` is closed, whatever pings flow (the client's, and the
//! server's own keep-alive pings that the client answers).
use super::{closed_within, get, tls_connect};
use crate::support::echo::EchoUpstream;
use crate::support::gateway::{token_for, TestGateway};
use std::time::{Duration, Instant};

fn gateway(echo: &EchoUpstream) -> TestGateway {
    TestGateway::builder()
        .server("idle_timeout = \"1s\"")
        .http("echo", &echo.url(), "request_timeout = \"10s\"")
        .tenant("idle", &["idle.localhost"], "echo")
        .spawn()
}

/// An HTTP/2 connection (ALPN h2) to the gateway: the request handle and
/// the connection, driven in a task that ends when the server closes it.
async fn h2_connect(
    gw: &TestGateway,
) -> (
    h2::client::SendRequest<bytes::Bytes>,
    Option<h2::PingPong>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let tls = tls_connect(gw, "idle.localhost", &[b"h2"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (send, mut connection) = h2::client::handshake(tls).await.unwrap();
    let ping_pong = connection.ping_pong();
    (send, ping_pong, tokio::spawn(connection))
}

#[tokio::test]
async fn an_http2_connection_that_only_pings_is_closed_when_idle() {
    let echo = EchoUpstream::spawn();
    let gw = gateway(&echo);
    let (_send, ping_pong, connection) = h2_connect(&gw).await;
    let mut ping_pong = ping_pong.unwrap();
    let started = Instant::now();
    // A ping every 100 ms: bytes move all the time, no stream opens.
    let pinger = tokio::spawn(async move {
        while ping_pong.ping(h2::Ping::opaque()).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let closed = tokio::time::timeout(Duration::from_secs(6), connection).await;
    assert!(
        closed.is_ok(),
        "still open {:?} after the 1 s idle timeout",
        started.elapsed()
    );
    pinger.abort();
}

#[tokio::test]
async fn an_http2_connection_that_sends_nothing_is_closed_when_idle() {
    let echo = EchoUpstream::spawn();
    let gw = gateway(&echo);
    // The client only answers the server's keep-alive pings.
    let (_send, _ping_pong, connection) = h2_connect(&gw).await;
    let closed = tokio::time::timeout(Duration::from_secs(6), connection).await;
    assert!(closed.is_ok(), "still open after the 1 s idle timeout");
}

#[tokio::test]
async fn an_open_stream_keeps_an_http2_connection_past_the_idle_timeout() {
    let echo = EchoUpstream::spawn();
    let gw = gateway(&echo);
    let (send, _ping_pong, connection) = h2_connect(&gw).await;
    let mut send = send.ready().await.unwrap();
    // The echo upstream holds `/slow` for 3 s: three idle timeouts.
    let request = http::Request::get(format!("{}/Users/slow", gw.base("idle.localhost")))
        .header("authorization", format!("Bearer {}", token_for("idle")))
        .body(())
        .unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), response)
        .await
        .expect("answered")
        .expect("the stream was not cut");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    // Then idle again: closed.
    let closed = tokio::time::timeout(Duration::from_secs(6), connection).await;
    assert!(closed.is_ok(), "closed once idle");
}

/// ALPN `http/1.1` is served by hyper's HTTP/1 connection alone (not the
/// version-sniffing one): the idle timeout closes it too, well before
/// hyper's own header-read timeout (10 s by default) could, and the
/// connection carries more than one request until then.
#[tokio::test]
async fn an_http1_connection_by_alpn_is_kept_alive_then_closed_when_idle() {
    let echo = EchoUpstream::spawn();
    let gw = gateway(&echo);
    let mut tls = tls_connect(&gw, "idle.localhost", &[b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let token = token_for("idle");
    let path = "/scim/v2/Users/1";
    for _ in 0..2 {
        let status = get(&mut tls, "idle.localhost", path, Some(&token)).await;
        assert_eq!(status, Some(200), "answered on the kept-alive connection");
    }
    let started = Instant::now();
    assert!(
        closed_within(&mut tls, Duration::from_secs(6)).await,
        "still open {:?} after the 1 s idle timeout",
        started.elapsed()
    );
}
