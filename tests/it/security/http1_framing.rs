//! Request smuggling against the gateway's own HTTP/1 server: every
//! request whose framing two parsers could read two ways is refused with
//! a SCIM error and the connection closed, and nothing reaches the
//! upstream but what the gateway parsed (the echo upstream reports each
//! request it got: method, target and body). Over plain TCP (where the
//! first bytes choose HTTP/1 or HTTP/2) and over TLS (ALPN `http/1.1`).
use crate::support::echo::EchoUpstream;
use crate::support::gateway::{token_for, TestGateway};
use crate::support::raw::{client_config, tls_connect_with};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const HOST: &str = "smuggle.localhost";

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

fn gateway(echo: &EchoUpstream, plaintext: bool) -> TestGateway {
    let mut builder = TestGateway::builder();
    if plaintext {
        builder = builder.plaintext();
    }
    builder
        .http("echo", &echo.url(), "")
        .tenant_with(
            "smuggle",
            &[HOST],
            "echo",
            "[tenants.schema]\nvalidate = false\n",
        )
        .spawn()
}

async fn connect(gw: &TestGateway, plaintext: bool) -> Box<dyn Stream> {
    if plaintext {
        Box::new(TcpStream::connect(gw.bound.public).await.unwrap())
    } else {
        let config = client_config(gw, &[b"http/1.1"], None);
        Box::new(tls_connect_with(gw, HOST, config).await)
    }
}

/// One answer: its status, whether it said `Connection: close`, its body.
#[derive(Debug)]
struct Answer {
    status: u16,
    close: bool,
    body: Value,
}

/// Writes `wire` on a new connection and reads every answer until the
/// gateway closes (bounded).
async fn exchange(gw: &TestGateway, plaintext: bool, wire: &[u8]) -> Vec<Answer> {
    let mut stream = connect(gw, plaintext).await;
    stream.write_all(wire).await.unwrap();
    stream.flush().await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the gateway did not close the connection");
    let mut answers = Vec::new();
    let mut rest = &got[..];
    while !rest.is_empty() {
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut slots);
        let len = match response.parse(rest) {
            Ok(httparse::Status::Complete(len)) => len,
            other => panic!(
                "not a response ({other:?}): {:?}",
                String::from_utf8_lossy(rest)
            ),
        };
        let header = |name: &str| {
            response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).into_owned())
        };
        let length: usize = header("content-length").map_or(0, |v| v.parse().unwrap());
        assert!(header("transfer-encoding").is_none());
        let body = &rest[len..len + length];
        answers.push(Answer {
            status: response.code.unwrap(),
            close: header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")),
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
        });
        rest = &rest[len + length..];
    }
    answers
}

fn head(method: &str, path: &str, extra: &str) -> String {
    format!(
        "{method} /scim/v2/{path} HTTP/1.1\r\nhost: {HOST}\r\nauthorization: Bearer {}\r\n\
         content-type: application/scim+json\r\n{extra}\r\n",
        token_for("smuggle")
    )
}

const USER: &str = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}"#;

/// A request that would reach the upstream if the gateway read the
/// framing another way.
fn smuggled() -> String {
    head("DELETE", "Users/smuggled", "content-length: 0\r\n")
}

/// A refusal: a SCIM error with `status`, the connection closed after it.
fn assert_refused(answers: &[Answer], status: u16, case: &str) {
    assert_eq!(answers.len(), 1, "{case}: {answers:?}");
    let a = &answers[0];
    assert_eq!(a.status, status, "{case}: {a:?}");
    assert!(a.close, "{case}: no Connection: close: {a:?}");
    assert_eq!(
        a.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{case}: {a:?}"
    );
    assert_eq!(a.body["status"], status.to_string(), "{case}: {a:?}");
    assert!(
        a.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{case}"
    );
}

async fn smuggling_is_refused(plaintext: bool) {
    let echo = EchoUpstream::spawn();
    let gw = gateway(&echo, plaintext);
    let s = smuggled();
    let chunked_smuggle = format!("0\r\n\r\n{s}");
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "Content-Length and Transfer-Encoding",
            format!(
                "{}{chunked_smuggle}",
                head("POST", "Users", &format!("content-length: {}\r\ntransfer-encoding: chunked\r\n", chunked_smuggle.len()))
            ),
            400,
        ),
        (
            "Transfer-Encoding and Content-Length",
            format!(
                "{}{chunked_smuggle}",
                head("POST", "Users", "transfer-encoding: chunked\r\ncontent-length: 3\r\n")
            ),
            400,
        ),
        (
            "chunked, identity",
            format!("{}{chunked_smuggle}", head("POST", "Users", "transfer-encoding: chunked, identity\r\n")),
            400,
        ),
        (
            "xchunked",
            format!("{}{chunked_smuggle}", head("POST", "Users", "transfer-encoding: xchunked\r\n")),
            501,
        ),
        (
            "a space before the colon",
            format!("{}{chunked_smuggle}", head("POST", "Users", "transfer-encoding : chunked\r\n")),
            400,
        ),
        (
            "Content-Length: +5",
            format!("{}{s}", head("POST", "Users", "content-length: +5\r\n")),
            400,
        ),
        (
            "Content-Length: 5, 5",
            format!("{}hello{s}", head("POST", "Users", "content-length: 5, 5\r\n")),
            400,
        ),
        (
            "two Content-Length that differ",
            format!("{}hello{s}", head("POST", "Users", "content-length: 5\r\ncontent-length: 0\r\n")),
            400,
        ),
        (
            "Transfer-Encoding in HTTP/1.0",
            format!(
                "POST /scim/v2/Users HTTP/1.0\r\nhost: {HOST}\r\nauthorization: Bearer {}\r\ntransfer-encoding: chunked\r\n\r\n{chunked_smuggle}",
                token_for("smuggle")
            ),
            400,
        ),
        (
            "a NUL in a header value",
            format!("{}{s}", head("GET", "Users/a", "x-note: a\0b\r\n")),
            400,
        ),
        (
            "an obs-fold line",
            format!("{}{s}", head("GET", "Users/a", "x-note: a\r\n content-length: 5\r\n")),
            400,
        ),
    ];
    for (case, wire, status) in &cases {
        let answers = exchange(&gw, plaintext, wire.as_bytes()).await;
        assert_refused(&answers, *status, case);
        assert_eq!(echo.hits(), 0, "{case}: a request reached the upstream");
    }

    // A bare LF in the chunked framing: the body cannot be read, the
    // request fails before the upstream, and what follows is never a
    // request.
    let wire = format!(
        "{}{:x}\n{USER}\r\n0\r\n\r\n{s}",
        head("POST", "Users", "transfer-encoding: chunked\r\n"),
        USER.len()
    );
    let answers = exchange(&gw, plaintext, wire.as_bytes()).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].status, 400, "{answers:?}");
    assert!(answers[0].close, "{answers:?}");
    assert_eq!(echo.hits(), 0, "a request reached the upstream");
}

#[tokio::test]
async fn smuggling_is_refused_over_tcp() {
    smuggling_is_refused(true).await;
}

#[tokio::test]
async fn smuggling_is_refused_over_tls() {
    smuggling_is_refused(false).await;
}

/// Requests in one packet, framed each its own way: answered in order,
/// each reaching the upstream with exactly its own body.
async fn pipelined_requests_reach_the_upstream_as_parsed(plaintext: bool) {
    let echo = EchoUpstream::spawn();
    let gw = gateway(&echo, plaintext);
    let chunked: String = USER
        .as_bytes()
        .chunks(7)
        .map(|c| format!("{:x};ext=1\r\n{}\r\n", c.len(), String::from_utf8_lossy(c)))
        .collect();
    let wire = format!(
        "{}{USER}{}{chunked}0\r\nx-trailer: t\r\n\r\n{}",
        head(
            "POST",
            "Users",
            &format!("content-length: {}\r\n", USER.len())
        ),
        head("POST", "Users", "transfer-encoding:  chunked\r\n"),
        head("GET", "Users/last", "connection: close\r\n"),
    );
    let answers = exchange(&gw, plaintext, wire.as_bytes()).await;
    let seen: Vec<(u16, &str, &str)> = answers
        .iter()
        .map(|a| {
            (
                a.status,
                a.body["method"].as_str().unwrap_or(""),
                a.body["uri"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(seen.len(), 3, "{answers:?}");
    assert_eq!(
        (seen[0].1, seen[1].1, seen[2].1),
        ("POST", "POST", "GET"),
        "{answers:?}"
    );
    assert!(seen[2].2.ends_with("/Users/last"), "{answers:?}");
    for a in &answers[..2] {
        assert_eq!(
            a.body["body"]["userName"], "a",
            "the upstream got another body: {a:?}"
        );
    }
    assert!(
        !answers[0].close && !answers[1].close && answers[2].close,
        "{answers:?}"
    );
    assert_eq!(echo.hits(), 3);
}

#[tokio::test]
async fn pipelined_requests_reach_the_upstream_as_parsed_over_tcp() {
    pipelined_requests_reach_the_upstream_as_parsed(true).await;
}

#[tokio::test]
async fn pipelined_requests_reach_the_upstream_as_parsed_over_tls() {
    pipelined_requests_reach_the_upstream_as_parsed(false).await;
}

/// `Expect: 100-continue`: an unauthenticated request is refused without
/// `100 Continue` (its body is never asked for); an authenticated one gets
/// it, then its answer.
#[tokio::test]
async fn continue_only_for_a_request_the_gateway_reads() {
    let echo = EchoUpstream::spawn();
    let gw = gateway(&echo, true);
    let mut stream = connect(&gw, true).await;
    let wire = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nhost: {HOST}\r\nauthorization: Bearer wrong\r\n\
         expect: 100-continue\r\ncontent-length: {}\r\n\r\n",
        USER.len()
    );
    stream.write_all(wire.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut got))
        .await
        .expect("closed after the refusal")
        .unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");

    let mut stream = connect(&gw, true).await;
    let wire = head(
        "POST",
        "Users",
        &format!(
            "expect: 100-continue\r\ncontent-length: {}\r\nconnection: close\r\n",
            USER.len()
        ),
    );
    stream.write_all(wire.as_bytes()).await.unwrap();
    let mut interim = [0u8; 25];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut interim))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(USER.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 20"), "{text}");
    assert_eq!(echo.hits(), 1);
}

/// A client that sends its whole request before it reads (as many HTTP
/// libraries do) gets the refusal of a request the gateway did not read
/// to its end: a body over the limit, a body sent without valid
/// credentials, a malformed head with more bytes behind it. Closing a
/// socket with unread bytes makes the kernel answer with a reset, which
/// fails the client's write and can destroy the answer before the client
/// reads it; the gateway closes lingering instead (RFC 9112 §9.6).
async fn a_refusal_reaches_a_client_that_sends_everything_first(plaintext: bool) {
    let echo = EchoUpstream::spawn();
    let gw = gateway(&echo, plaintext);
    let big = 8 * 1024 * 1024;
    let cases = [
        (
            "a body over the limit",
            head("POST", "Users", &format!("content-length: {big}\r\n")),
            big,
            413,
        ),
        (
            "a body without valid credentials",
            format!(
                "POST /scim/v2/Users HTTP/1.1\r\nhost: {HOST}\r\nauthorization: Bearer wrong\r\n\
                 content-type: application/scim+json\r\ncontent-length: {}\r\n\r\n",
                1024 * 1024
            ),
            1024 * 1024,
            401,
        ),
        (
            "a malformed head with bytes behind it",
            format!("POST /scim/v2/Users HTTP/1.1\r\nhost: {HOST}\r\nbad header\r\n\r\n"),
            1024 * 1024,
            400,
        ),
    ];
    for (case, head, body_len, status) in cases {
        let mut stream = connect(&gw, plaintext).await;
        let mut wire = head.into_bytes();
        wire.resize(wire.len() + body_len, b'x');
        let sent = tokio::time::timeout(Duration::from_secs(20), async {
            stream.write_all(&wire).await?;
            stream.flush().await
        })
        .await
        .expect("the write ended");
        assert!(sent.is_ok(), "{case}: the client's write failed: {sent:?}");
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut got))
            .await
            .expect("closed after the refusal");
        let text = String::from_utf8_lossy(&got);
        assert!(read.is_ok(), "{case}: {read:?} after {text:?}");
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status} ")),
            "{case}: {text}"
        );
        assert!(
            text.to_ascii_lowercase().contains("connection: close"),
            "{case}: {text}"
        );
    }
    assert_eq!(echo.hits(), 0, "nothing reached the upstream");
}

#[tokio::test]
async fn a_refusal_reaches_a_client_that_sends_everything_first_over_tcp() {
    a_refusal_reaches_a_client_that_sends_everything_first(true).await;
}

#[tokio::test]
async fn a_refusal_reaches_a_client_that_sends_everything_first_over_tls() {
    a_refusal_reaches_a_client_that_sends_everything_first(false).await;
}

/// A client that names HTTP/1.0 by ALPN (and only it) is served by the
/// HTTP/1 server: answered in HTTP/1.0's terms (no keep-alive asked for,
/// so the connection closes after the answer), not refused in the
/// handshake.
#[tokio::test]
async fn a_client_that_offers_only_http10_by_alpn_is_served() {
    let echo = EchoUpstream::spawn();
    let gw = gateway(&echo, false);
    let config = client_config(&gw, &[b"http/1.0"], None);
    let mut stream = tls_connect_with(&gw, HOST, config).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.0"[..]));
    let wire = format!(
        "GET /scim/v2/Users/ten HTTP/1.0\r\nhost: {HOST}\r\nauthorization: Bearer {}\r\n\r\n",
        token_for("smuggle")
    );
    stream.write_all(wire.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut got)).await;
    assert!(
        read.is_ok(),
        "the gateway did not close the HTTP/1.0 connection"
    );
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(text.contains("/Users/ten"), "the upstream's echo: {text}");
    assert_eq!(echo.hits(), 1);
}
