#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use http::HeaderValue;
use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

fn headers(host: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(http::header::HOST, HeaderValue::from_str(host).unwrap());
    h.insert("x-request-id", HeaderValue::from_static("r1"));
    h
}

/// Reads one request (head and Content-Length body) from the upstream's
/// side of the pipe.
async fn read_request(server: &mut DuplexStream) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        server.read_exact(&mut byte).await.unwrap();
        got.push(byte[0]);
    }
    let head = String::from_utf8(got.clone()).unwrap();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |n| n.trim().parse::<usize>().unwrap());
    let mut body = vec![0u8; length];
    server.read_exact(&mut body).await.unwrap();
    head + &String::from_utf8(body).unwrap()
}

/// One exchange against a scripted upstream that answers `response`
/// (written in pieces of `piece` bytes), then closes if `close`.
async fn exchange_with(
    method: Method,
    body: &str,
    response: &'static [u8],
    piece: usize,
    close: bool,
    max: usize,
) -> (Result<Answer, Error>, String) {
    let (client, mut server) = duplex(1 << 16);
    let upstream = tokio::spawn(async move {
        let request = read_request(&mut server).await;
        for part in response.chunks(piece.max(1)) {
            // The client may give up early (a head too large): then the
            // rest has nowhere to go.
            if server.write_all(part).await.is_err() || server.flush().await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
        if !close {
            // Keep the pipe open until the client is done.
            let mut rest = Vec::new();
            let _ = server.read_to_end(&mut rest).await;
        }
        request
    });
    let mut conn = Conn::new(client);
    let body = Bytes::from(body.to_string());
    let answer = conn
        .exchange(
            &method,
            "/scim/v2/Users?count=1",
            &headers("up.example"),
            &body,
            max,
        )
        .await;
    drop(conn);
    (answer, upstream.await.unwrap())
}

async fn ok(response: &'static [u8]) -> Answer {
    exchange_with(Method::GET, "", response, usize::MAX, false, 1 << 20)
        .await
        .0
        .unwrap()
}

async fn err(response: &'static [u8], close: bool, max: usize) -> Error {
    match exchange_with(Method::GET, "", response, usize::MAX, close, max)
        .await
        .0
    {
        Ok(a) => panic!("accepted: {} ({} body bytes)", a.status, a.body.len()),
        Err(e) => e,
    }
}

#[tokio::test]
async fn the_request_is_written_in_origin_form_with_its_length() {
    let (answer, request) = exchange_with(
        Method::POST,
        r#"{"userName":"a"}"#,
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        usize::MAX,
        false,
        1024,
    )
    .await;
    assert_eq!(answer.unwrap().status, StatusCode::CREATED);
    assert_eq!(
        request,
        "POST /scim/v2/Users?count=1 HTTP/1.1\r\nhost: up.example\r\nx-request-id: r1\r\n\
         content-length: 16\r\n\r\n{\"userName\":\"a\"}"
    );
    // A GET has no body and no length; a POST without a body says 0.
    let (_, get) = exchange_with(
        Method::GET,
        "",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        9,
        false,
        9,
    )
    .await;
    assert!(!get.contains("content-length"), "{get}");
    let (_, post) = exchange_with(
        Method::POST,
        "",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        9,
        false,
        9,
    )
    .await;
    assert!(post.contains("content-length: 0\r\n"), "{post}");
}

#[tokio::test]
async fn only_the_client_frames_the_request() {
    let (client, mut server) = duplex(1 << 16);
    let upstream = tokio::spawn(async move {
        let request = read_request(&mut server).await;
        server
            .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .await
            .unwrap();
        request
    });
    let mut h = headers("h");
    h.insert(
        http::header::CONTENT_LENGTH,
        HeaderValue::from_static("999"),
    );
    h.insert(
        http::header::TRANSFER_ENCODING,
        HeaderValue::from_static("chunked"),
    );
    let body = Bytes::from_static(b"abc");
    Conn::new(client)
        .exchange(&Method::PUT, "/x", &h, &body, 64)
        .await
        .unwrap();
    let request = upstream.await.unwrap();
    assert_eq!(
        request,
        "PUT /x HTTP/1.1\r\nhost: h\r\nx-request-id: r1\r\ncontent-length: 3\r\n\r\nabc"
    );
}

#[tokio::test]
async fn a_content_length_body_is_read_and_the_connection_kept() {
    let a = ok(b"HTTP/1.1 200 OK\r\nContent-Type: application/scim+json\r\nContent-Length: 11\r\nETag: W/\"1\"\r\n\r\n{\"id\":\"42\"}").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.version, Version::HTTP_11);
    assert_eq!(&a.body[..], br#"{"id":"42"}"#);
    assert_eq!(a.headers["content-type"], "application/scim+json");
    assert_eq!(a.headers["etag"], "W/\"1\"");
    // The framing was read, and is not passed on.
    assert!(a.headers.get("content-length").is_none());
    assert!(a.reusable);
    // A list of equal values (RFC 9112 §6.3), in one field or several.
    for response in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nxy"[..],
        &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nxy"[..],
    ] {
        let response: &'static [u8] = Box::leak(response.to_vec().into_boxed_slice());
        let a = ok(response).await;
        assert_eq!(&a.body[..], b"xy");
        assert!(a.reusable);
    }
}

#[test]
fn content_length_fields_add_up_to_one_value_or_an_error() {
    let read = |fields: &[&str]| {
        fields
            .iter()
            .fold(Length::Absent, |l, f| l.and(f.as_bytes()))
    };
    assert_eq!(read(&[]), Length::Absent);
    assert_eq!(read(&["0"]), Length::Is(0));
    assert_eq!(read(&[" 42 "]), Length::Is(42));
    assert_eq!(read(&["7, 7", "7"]), Length::Is(7));
    for bad in [
        &["1", "2"][..],
        &["1,2"],
        &[""],
        &["-1"],
        &["1x"],
        &["1", "x", "1"],
        &["99999999999999999999"],
    ] {
        assert!(matches!(read(bad), Length::Invalid(_)), "{bad:?}");
    }
}

#[tokio::test]
async fn a_response_arriving_byte_by_byte_reads_the_same() {
    const RESPONSE: &[u8] =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\nX-T: 1\r\n\r\n";
    let (whole, _) = exchange_with(Method::GET, "", RESPONSE, usize::MAX, false, 1024).await;
    let (bytewise, _) = exchange_with(Method::GET, "", RESPONSE, 1, false, 1024).await;
    let (whole, bytewise) = (whole.unwrap(), bytewise.unwrap());
    assert_eq!(&whole.body[..], b"abcdefg");
    assert_eq!(whole.body, bytewise.body);
    assert!(whole.reusable && bytewise.reusable);
}

#[tokio::test]
async fn interim_responses_are_skipped() {
    let a = ok(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(&a.body[..], b"x");
    assert!(!a.headers.contains_key("link"));
}

#[tokio::test]
async fn head_204_and_304_have_no_body() {
    let (head, _) = exchange_with(
        Method::HEAD,
        "",
        b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n",
        usize::MAX,
        false,
        1024,
    )
    .await;
    let head = head.unwrap();
    assert!(head.body.is_empty() && head.reusable);
    for response in [
        &b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"[..],
        &b"HTTP/1.1 304 Not Modified\r\nETag: \"1\"\r\n\r\n"[..],
    ] {
        let response: &'static [u8] = Box::leak(response.to_vec().into_boxed_slice());
        let a = ok(response).await;
        assert!(a.body.is_empty() && a.reusable, "{a:?}");
    }
}

#[tokio::test]
async fn a_body_without_framing_runs_to_the_close_and_ends_the_connection() {
    let (a, _) = exchange_with(
        Method::GET,
        "",
        b"HTTP/1.1 200 OK\r\n\r\nall of it",
        usize::MAX,
        true,
        1024,
    )
    .await;
    let a = a.unwrap();
    assert_eq!(&a.body[..], b"all of it");
    assert!(!a.reusable);
    // Another transfer coding than chunked last: also to the close.
    let (gzip, _) = exchange_with(
        Method::GET,
        "",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz",
        usize::MAX,
        true,
        1024,
    )
    .await;
    assert_eq!(&gzip.unwrap().body[..], b"zz");
}

#[tokio::test]
async fn what_ends_a_connection_after_the_response() {
    for response in [
        &b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 1\r\n\r\nx"[..],
        &b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx"[..],
        &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n"[..],
        &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"[..],
    ] {
        let response: &'static [u8] = Box::leak(response.to_vec().into_boxed_slice());
        let a = ok(response).await;
        assert_eq!(&a.body[..], b"x");
        assert!(!a.reusable, "{}", String::from_utf8_lossy(response));
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_whatever_their_framing() {
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", false, 10).await,
        Error::TooLarge
    ));
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n", false, 10).await,
        Error::TooLarge
    ));
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\n\r\n0123456789a", true, 10).await,
        Error::TooLarge
    ));
    // At the limit exactly: fine.
    let (a, _) = exchange_with(
        Method::GET,
        "",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789",
        usize::MAX,
        false,
        10,
    )
    .await;
    assert_eq!(a.unwrap().body.len(), 10);
}

#[tokio::test]
async fn malformed_responses_are_errors_not_guesses() {
    for response in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx"[..],
        &b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"[..],
        &b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n"[..],
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"[..],
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"[..],
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"[..],
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n"[..],
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n"[..],
        &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"[..],
        &b"HTTP/1.1 20 OK\r\n\r\n"[..],
        &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
        &b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"[..],
    ] {
        let response: &'static [u8] = Box::leak(response.to_vec().into_boxed_slice());
        let e = err(response, true, 1024).await;
        assert!(
            matches!(e, Error::Malformed(_)),
            "{}: {e:?}",
            String::from_utf8_lossy(response)
        );
    }
}

#[tokio::test]
async fn oversized_heads_and_header_counts_are_refused() {
    let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
    let many: &'static [u8] = Box::leak(
        format!("HTTP/1.1 200 OK\r\n{many}\r\n")
            .into_bytes()
            .into_boxed_slice(),
    );
    assert!(matches!(err(many, true, 1024).await, Error::Malformed(_)));
    let long: &'static [u8] = Box::leak(
        format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "v".repeat(MAX_HEAD + 1))
            .into_bytes()
            .into_boxed_slice(),
    );
    assert!(matches!(err(long, true, 1024).await, Error::Malformed(_)));
}

#[tokio::test]
async fn a_close_before_or_during_the_response_is_told_apart() {
    assert!(matches!(
        err(b"", true, 1024).await,
        Error::Closed { partial: false }
    ));
    assert!(matches!(
        err(b"HTTP/1.1 200 OK\r\nContent-Le", true, 1024).await,
        Error::Closed { partial: true }
    ));
    assert!(matches!(
        err(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
            true,
            1024
        )
        .await,
        Error::Closed { partial: true }
    ));
}

#[tokio::test]
async fn one_connection_carries_requests_in_turn_and_knows_when_it_is_closed() {
    let (client, mut server) = duplex(1 << 16);
    let mut conn = Conn::new(client);
    assert!(conn.is_open().await);
    let upstream = tokio::spawn(async move {
        for i in 0..3 {
            let request = read_request(&mut server).await;
            assert!(request.starts_with("GET / HTTP/1.1\r\n"), "{request}");
            let body = format!("answer {i}");
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            server.write_all(response.as_bytes()).await.unwrap();
        }
        server
    });
    for i in 0..3 {
        assert!(conn.is_open().await);
        let a = conn
            .exchange(&Method::GET, "", &headers("h"), &Bytes::new(), 1024)
            .await
            .unwrap();
        assert_eq!(a.body, format!("answer {i}"));
        assert!(a.reusable);
    }
    let mut server = upstream.await.unwrap();
    // Something nobody asked for: the connection is not reused.
    server
        .write_all(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
        .await
        .unwrap();
    tokio::task::yield_now().await;
    assert!(!conn.is_open().await);
    // The upstream gone: not open either.
    let (client, server) = duplex(64);
    let mut conn = Conn::new(client);
    drop(server);
    assert!(!conn.is_open().await);
}

#[test]
fn chunk_sizes_are_hex_with_optional_extensions() {
    assert_eq!(chunk_size(b"1a").unwrap(), 26);
    assert_eq!(chunk_size(b"FF;name=value").unwrap(), 255);
    assert_eq!(chunk_size(b"0").unwrap(), 0);
    assert_eq!(chunk_size(b"10 ;x").unwrap(), 16);
    for bad in [&b""[..], b";x", b"g", b"-1", b"1_0", b"1000000000000000"] {
        assert!(chunk_size(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}
