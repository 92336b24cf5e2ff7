//! The upstream HTTP/1.1 client's response parser (RFC 9112), driven over
//! an in-memory stream whose other end answers with the fuzzed bytes and
//! then closes. The first byte picks the method and the body limit.
//! Properties: every exchange ends (a response or an error, within a
//! timeout: never a hang); an answer's body is within the limit, has a
//! final (non-1xx) status, and is empty for HEAD, 204 and 304; a connection
//! the parser calls reusable has nothing left unread, and a second exchange
//! on it ends too; the upstream's `Content-Length` is never among the
//! answer's headers (the gateway frames what it sends).
#![no_main]
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use libfuzzer_sys::fuzz_target;
use scim_gateway::upstream::h1::{Answer, Conn, Error};
use scim_gateway_fuzz::split_first;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Far longer than any exchange over memory takes: only a hang reaches it.
const LIMIT: Duration = Duration::from_secs(10);

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::LazyLock<tokio::runtime::Runtime> = std::sync::LazyLock::new(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
    });
    &RT
}

fn check(method: &Method, max_body: usize, answer: &Answer) {
    assert!(answer.body.len() <= max_body, "a body over the limit");
    assert!(
        !answer.headers.contains_key(http::header::CONTENT_LENGTH),
        "the upstream's framing among the answer's headers"
    );
    assert!(
        !answer.status.is_informational(),
        "an interim answer as the final one"
    );
    if *method == Method::HEAD
        || answer.status == StatusCode::NO_CONTENT
        || answer.status == StatusCode::NOT_MODIFIED
    {
        assert!(
            answer.body.is_empty(),
            "a body for {method} {}",
            answer.status
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let (selector, response) = split_first(data);
    let methods = [Method::GET, Method::HEAD, Method::POST, Method::DELETE];
    let method = &methods[usize::from(selector & 3)];
    let max_body = if selector & 4 == 0 { 64 * 1024 } else { 16 };
    let response = response.to_vec();
    runtime().block_on(async move {
        let (client, mut upstream) = tokio::io::duplex(16 * 1024);
        // The upstream writes its answer and closes its sending side; it
        // keeps its end open (a dropped end would fail the request write).
        let writer = tokio::spawn(async move {
            let _ = upstream.write_all(&response).await;
            let _ = upstream.shutdown().await;
            std::future::pending::<()>().await;
        });
        let mut conn = Conn::new(client);
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::HOST,
            HeaderValue::from_static("upstream.test"),
        );
        let body = Bytes::from_static(b"{}");
        let first = tokio::time::timeout(
            LIMIT,
            conn.exchange(method, "/Users", &headers, &body, max_body),
        )
        .await
        .expect("the exchange hangs");
        if let Ok(answer) = &first {
            check(method, max_body, answer);
            if answer.reusable {
                let second = tokio::time::timeout(
                    LIMIT,
                    conn.exchange(method, "/Users", &headers, &body, max_body),
                )
                .await
                .expect("the second exchange hangs");
                match &second {
                    Ok(answer) => check(method, max_body, answer),
                    Err(
                        Error::Closed { .. } | Error::Malformed(_) | Error::TooLarge | Error::Io(_),
                    ) => {}
                }
            }
        }
        writer.abort();
    });
});
