#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::decode::{chunk_size, Decoder};
use super::head::{parse, Head, Refusal};
use super::*;
use crate::conn_info::{CertChecks, ConnAuth};
use http::{Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, DuplexStream};

fn head(raw: &str) -> Result<Head, Refusal> {
    let mut buf = BytesMut::from(raw.as_bytes());
    parse(&mut buf, 8192).map(|h| h.expect("a whole head"))
}

fn status(raw: &str) -> StatusCode {
    head(raw).expect_err("refused").status
}

#[test]
fn a_head_is_parsed_once_into_what_hyper_made() {
    let h = head("GET /scim/v2/Users?filter=x HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r\n\r\n").unwrap();
    assert_eq!(h.method, Method::GET);
    assert_eq!(h.uri, "/scim/v2/Users?filter=x");
    assert_eq!(h.uri.path(), "/scim/v2/Users");
    assert_eq!(h.version, Version::HTTP_11);
    assert_eq!(h.headers["host"], "a.test");
    assert_eq!(h.headers["x-a"], "1");
    assert!(h.keep_alive && h.body.is_none() && !h.expect_continue);
    // Absolute-form: the URI keeps its authority (routing prefers it).
    let h = head("GET https://b.test/scim/v2/Users HTTP/1.1\r\nHost: a.test\r\n\r\n").unwrap();
    assert_eq!(
        h.uri,
        "https://b.test/scim/v2/Users".parse::<Uri>().unwrap()
    );
    assert_eq!(h.uri.authority().unwrap(), "b.test");
    // `*` with OPTIONS only; authority-form and CONNECT never.
    assert_eq!(head("OPTIONS * HTTP/1.1\r\n\r\n").unwrap().uri, "*");
    assert_eq!(status("GET * HTTP/1.1\r\n\r\n"), StatusCode::BAD_REQUEST);
    assert_eq!(
        status("GET a.test:443 HTTP/1.1\r\n\r\n"),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        status("CONNECT a.test:443 HTTP/1.1\r\n\r\n"),
        StatusCode::METHOD_NOT_ALLOWED
    );
    // HTTP/1.0: closes unless asked to keep the connection.
    let h = head("GET / HTTP/1.0\r\n\r\n").unwrap();
    assert!(!h.keep_alive && h.version == Version::HTTP_10);
    assert!(
        head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .keep_alive
    );
    assert!(
        !head("GET / HTTP/1.1\r\nConnection: te, close\r\n\r\n")
            .unwrap()
            .keep_alive
    );
}

#[test]
fn framing_that_two_parsers_could_read_two_ways_is_refused() {
    let bad = StatusCode::BAD_REQUEST;
    for raw in [
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n",
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nX-A: a\0b\r\n\r\n",
        "POST / HTTP/1.1\r\nX-A: a\rb\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n",
        "POST / HTTP/1.1\r\nX A: a\r\n\r\n",
        "GET / HTTP/1.1\r\n:x\r\n\r\n",
    ] {
        assert_eq!(status(raw), bad, "{raw:?}");
    }
    for raw in [
        "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
    ] {
        assert_eq!(status(raw), StatusCode::NOT_IMPLEMENTED, "{raw:?}");
    }
    // Equal lengths twice are one length; whitespace around a coding is
    // the field's, not the coding's.
    let h = head("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n").unwrap();
    assert_eq!(h.body, Some(Decoder::Length(5)));
    let h = head("POST / HTTP/1.1\r\nTransfer-Encoding:  Chunked \r\n\r\n").unwrap();
    assert_eq!(h.body, Some(Decoder::chunked()));
    assert_eq!(
        head("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .body,
        None
    );
}

#[test]
fn versions_expectations_and_sizes_have_their_statuses() {
    assert_eq!(
        status("GET / HTTP/2.0\r\n\r\n"),
        StatusCode::HTTP_VERSION_NOT_SUPPORTED
    );
    assert_eq!(
        status("GET / HTTP/1.2\r\n\r\n"),
        StatusCode::HTTP_VERSION_NOT_SUPPORTED
    );
    // (A space inside the target leaves a word where the version goes:
    // httparse, and so hyper, call that a version too.)
    assert_eq!(
        status("GET /a b HTTP/1.1\r\n\r\n"),
        StatusCode::HTTP_VERSION_NOT_SUPPORTED
    );
    assert_eq!(
        status("POST / HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n"),
        StatusCode::EXPECTATION_FAILED
    );
    let h = head("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n").unwrap();
    assert!(h.expect_continue);
    // Without a body there is nothing to continue to.
    assert!(
        !head("GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n")
            .unwrap()
            .expect_continue
    );
    let many: String = (0..101).map(|i| format!("x-{i}: v\r\n")).collect();
    assert_eq!(
        status(&format!("GET / HTTP/1.1\r\n{many}\r\n")),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    // Over the bound: the request line alone (414), or the head (431),
    // whether the head is whole or not.
    let long_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(9000));
    assert_eq!(status(&long_target), StatusCode::URI_TOO_LONG);
    let mut partial = BytesMut::from(format!("GET /{}", "a".repeat(9000)).as_bytes());
    assert_eq!(
        parse(&mut partial, 8192).unwrap_err().status,
        StatusCode::URI_TOO_LONG
    );
    let big = format!("GET / HTTP/1.1\r\nx-a: {}\r\n\r\n", "a".repeat(9000));
    assert_eq!(status(&big), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let mut partial =
        BytesMut::from(format!("GET / HTTP/1.1\r\nx-a: {}", "a".repeat(9000)).as_bytes());
    assert_eq!(
        parse(&mut partial, 8192).unwrap_err().status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    // A head that is not whole yet waits.
    let mut partial = BytesMut::from(&b"GET / HTTP/1.1\r\nHost: a"[..]);
    assert!(parse(&mut partial, 8192).unwrap().is_none());
}

#[test]
fn pipelined_heads_are_taken_one_at_a_time() {
    let mut buf = BytesMut::from(
        &b"POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /b HTTP/1.1\r\n\r\n"[..],
    );
    let first = parse(&mut buf, 8192).unwrap().unwrap();
    assert_eq!(first.uri, "/a");
    let mut body = first.body.unwrap();
    assert_eq!(body.decode(&mut buf).unwrap().unwrap(), "hi");
    assert_eq!(body.decode(&mut buf).unwrap(), None);
    assert!(body.is_done());
    let second = parse(&mut buf, 8192).unwrap().unwrap();
    assert_eq!(second.uri, "/b");
    assert!(buf.is_empty());
}

/// Decodes `wire` fed `step` bytes at a time.
fn chunked(wire: &[u8], step: usize) -> Result<(Vec<u8>, usize), &'static str> {
    let mut decoder = Decoder::chunked();
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let mut fed = 0;
    loop {
        while let Some(piece) = decoder.decode(&mut buf)? {
            body.extend_from_slice(&piece);
        }
        if decoder.is_done() {
            return Ok((body, buf.len()));
        }
        if fed == wire.len() {
            return Err("incomplete");
        }
        let end = (fed + step).min(wire.len());
        buf.extend_from_slice(&wire[fed..end]);
        fed = end;
    }
}

#[test]
fn chunks_are_decoded_with_strict_framing() {
    let wire = b"5;name=value\r\nhello\r\n1A \t;x\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
    for step in [1, 2, 7, wire.len()] {
        let (body, left) = chunked(wire, step).unwrap();
        assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz", "step {step}");
        if step == wire.len() {
            assert_eq!(left, 4, "the next request's bytes stay");
        }
    }
    for bad in [
        &b"5\nhello\r\n0\r\n\r\n"[..],
        b"5\r\nhello\n0\r\n\r\n",
        b"5\r\nhelloXX0\r\n\r\n",
        b"5\r\nhello\r\n0\r\n\n",
        b"5\r\nhello\r\n0\r\nx: 1\n\r\n",
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"+5\r\nhello\r\n0\r\n\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b" 5\r\nhello\r\n0\r\n\r\n",
        b"5 x\r\nhello\r\n0\r\n\r\n",
        b"5\r\r\nhello\r\n0\r\n\r\n",
        b"1000000000000000\r\n",
        b"5;a\x00b\r\nhello\r\n0\r\n\r\n",
    ] {
        for step in [1, bad.len()] {
            assert!(
                chunked(bad, step).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
    assert_eq!(
        chunk_size(b"fffffffffffffff").unwrap(),
        0xfff_ffff_ffff_ffff
    );
    // Chunk lines and trailers are bounded.
    let long_ext = format!("5;{}\r\n", "e".repeat(5000));
    assert!(chunked(long_ext.as_bytes(), 64).is_err());
    let mut trailers = b"0\r\n".to_vec();
    for _ in 0..2000 {
        trailers.extend_from_slice(b"x-trailer: abcdef\r\n");
    }
    assert!(chunked(&trailers, 512).is_err());
}

#[test]
fn the_date_is_an_imf_fixdate() {
    assert_eq!(
        &write::imf_fixdate(784_111_777),
        b"Sun, 06 Nov 1994 08:49:37 GMT"
    );
    assert_eq!(&write::imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(
        &write::imf_fixdate(1_709_164_800),
        b"Thu, 29 Feb 2024 00:00:00 GMT"
    );
}

/// Echoes the method, target and body it read; `/unread` answers without
/// reading the body, `/empty` answers 204, `/head` sets its own length.
#[derive(Default)]
struct Echo {
    seen: Mutex<Vec<String>>,
}

impl Respond for Echo {
    fn call<'a>(
        &'a self,
        req: Request<RequestBody>,
        _conn: Arc<ConnInfo>,
    ) -> Pin<Box<dyn std::future::Future<Output = Response<Full<Bytes>>> + Send + 'a>> {
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let seen = format!("{} {}", parts.method, parts.uri);
            self.seen.lock().unwrap().push(seen.clone());
            if parts.uri.path() == "/empty" {
                let mut r = Response::new(Full::new(Bytes::new()));
                *r.status_mut() = StatusCode::NO_CONTENT;
                return r;
            }
            if parts.uri.path() == "/unread" {
                return Response::new(Full::new(Bytes::from_static(b"unread")));
            }
            let body = match body.collect().await {
                Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
                Err(e) => format!("error: {e}"),
            };
            Response::new(Full::new(Bytes::from(format!("{seen} [{body}]"))))
        })
    }
}

fn info() -> Arc<ConnInfo> {
    Arc::new(ConnInfo {
        socket_peer: "127.0.0.1:1".parse().unwrap(),
        proxied: None,
        local: "127.0.0.1:2".parse().unwrap(),
        tls: false,
        sni: None,
        alpn: None,
        peer_certificates: None,
        cert_checks: CertChecks::default(),
        auth: ConnAuth::default(),
    })
}

const SETTINGS: Settings = Settings {
    header_read_timeout: Duration::from_secs(5),
    idle_timeout: Duration::from_secs(5),
    max_header_bytes: 8192,
};

/// A connection served in a task; the client's end, the handler, `stop`.
fn connect(
    settings: Settings,
) -> (
    DuplexStream,
    Arc<Echo>,
    watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (client, server) = tokio::io::duplex(256 * 1024);
    let echo = Arc::new(Echo::default());
    let (stop_tx, mut stop) = watch::channel(false);
    let handler = echo.clone();
    let task = tokio::spawn(async move {
        serve(
            server,
            (BytesMut::new(), Instant::now()),
            info(),
            settings,
            handler,
            &mut stop,
        )
        .await;
    });
    (client, echo, stop_tx, task)
}

async fn read_to_end(client: &mut DuplexStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut out))
        .await
        .expect("the server closes")
        .unwrap();
    String::from_utf8(out).unwrap()
}

/// The responses' bodies (or status lines for bodiless ones), in order.
fn answers(text: &str) -> Vec<String> {
    text.split("HTTP/1.1 ")
        .filter(|s| !s.is_empty())
        .map(|r| {
            let (head, body) = r.split_once("\r\n\r\n").unwrap();
            let code = &head[..3];
            format!("{code} {body}")
        })
        .collect()
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_and_bodies_framed_exactly() {
    let (mut client, echo, _stop, task) = connect(SETTINGS);
    client
        .write_all(
            b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
              POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nt: 1\r\n\r\n\
              GET /empty HTTP/1.1\r\n\r\n\
              HEAD /c HTTP/1.1\r\n\r\n\
              POST /unread HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz\
              GET /d HTTP/1.1\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let text = read_to_end(&mut client).await;
    assert_eq!(
        answers(&text),
        [
            "200 POST /a [hello]",
            "200 POST /b [abcde]",
            "204 ",
            "200 ",
            "200 unread",
            "200 GET /d []"
        ],
        "{text}"
    );
    assert_eq!(echo.seen.lock().unwrap().len(), 6);
    assert!(text.contains("date: "), "{text}");
    // 204: no length; HEAD: the length a GET would have; the last: close.
    let no_content = text.split("HTTP/1.1 204").nth(1).unwrap();
    assert!(!no_content
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .contains("content-length"));
    let head_answer = text.split("HTTP/1.1 200").nth(3).unwrap();
    assert!(
        head_answer.contains("content-length: 10\r\n"),
        "{head_answer}"
    );
    let last = text.rsplit("HTTP/1.1 ").next().unwrap();
    assert!(last.contains("connection: close\r\n"), "{last}");
    assert_eq!(text.matches("connection: close").count(), 1, "{text}");
    task.await.unwrap();
}

#[tokio::test]
async fn a_bad_chunk_fails_the_body_and_closes_the_connection() {
    let (mut client, echo, _stop, task) = connect(SETTINGS);
    client
        .write_all(
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n\
              GET /smuggled HTTP/1.1\r\n\r\n",
        )
        .await
        .unwrap();
    let text = read_to_end(&mut client).await;
    assert!(
        text.contains("error: a line of the chunked framing ends in a bare LF"),
        "{text}"
    );
    assert!(text.contains("connection: close"), "{text}");
    assert_eq!(*echo.seen.lock().unwrap(), ["POST /a"]);
    task.await.unwrap();
}

#[tokio::test]
async fn a_refused_head_is_a_scim_error_and_nothing_after_it_is_read() {
    let (mut client, echo, _stop, task) = connect(SETTINGS);
    client
        .write_all(
            b"POST /a HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n\
              0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
        )
        .await
        .unwrap();
    let text = read_to_end(&mut client).await;
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    let body: serde_json::Value =
        serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["status"], "400");
    assert_eq!(body["scimType"], "invalidSyntax");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert!(echo.seen.lock().unwrap().is_empty());
    task.await.unwrap();
}

#[tokio::test]
async fn continue_is_sent_only_when_the_body_is_read() {
    let (mut client, _echo, _stop, task) = connect(SETTINGS);
    client
        .write_all(b"POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        .await
        .unwrap();
    let mut got = [0u8; 25];
    client.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"HTTP/1.1 100 Continue\r\n\r\n");
    client.write_all(b"ok").await.unwrap();
    // Not read: no 100, and the connection closes after the answer (the
    // client may never send the body).
    client
        .write_all(b"POST /unread HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        .await
        .unwrap();
    let text = read_to_end(&mut client).await;
    assert_eq!(answers(&text), ["200 POST /a [ok]", "200 unread"], "{text}");
    let last = text.rsplit("HTTP/1.1 ").next().unwrap();
    assert!(last.contains("connection: close\r\n"), "{last}");
    assert_eq!(text.matches("100 Continue").count(), 0);
    task.await.unwrap();
}

#[tokio::test]
async fn http10_keeps_the_connection_only_when_asked() {
    let (mut client, _echo, _stop, task) = connect(SETTINGS);
    client
        .write_all(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let text = read_to_end(&mut client).await;
    assert_eq!(answers(&text), ["200 GET /a []", "200 GET /b []"], "{text}");
    assert!(text.contains("connection: keep-alive\r\n"), "{text}");
    task.await.unwrap();
}

#[tokio::test]
async fn slow_heads_and_idle_connections_are_cut_and_stop_closes_idle_ones() {
    let short = Settings {
        header_read_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        ..SETTINGS
    };
    // A head that trickles in (a byte every 50 ms): cut at the
    // header-read timeout, however long it keeps trickling.
    let (mut client, echo, _stop, task) = connect(short);
    client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if client.write_all(b"x").await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        _ = task => {}
        () = trickle => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => panic!("a slow head holds the connection"),
    }
    assert!(echo.seen.lock().unwrap().is_empty());
    // An idle keep-alive connection: closed after the idle timeout.
    let (mut client, _echo, _stop, task) = connect(short);
    client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answers(&read_to_end(&mut client).await).len(), 1);
    // Stop: an idle connection closes at once (long before its timeout).
    let long = Settings {
        idle_timeout: Duration::from_secs(3600),
        ..SETTINGS
    };
    let (mut client, _echo, stop, task) = connect(long);
    client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut first = vec![0u8; 64];
    let _ = client.read(&mut first).await.unwrap();
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}

/// After a refusal, what the client still sends is read and dropped
/// (lingering close), but a client that never stops cannot hold the
/// connection: a trickle ends at `LINGER_TIME`, a flood at `LINGER_BYTES`.
#[tokio::test]
async fn a_lingering_close_is_bounded_in_time_and_bytes() {
    let refused = b"POST /a HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n";
    // A trickle: a byte every 100 ms, never quiet for LINGER_QUIET.
    let (client, echo, _stop, task) = connect(SETTINGS);
    let (mut rx, mut tx) = tokio::io::split(client);
    tx.write_all(refused).await.unwrap();
    let started = Instant::now();
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if tx.write_all(b"x").await.is_err() {
                break;
            }
        }
    };
    let mut got = Vec::new();
    let reading = async {
        let _ = rx.read_to_end(&mut got).await;
        std::future::pending::<()>().await
    };
    tokio::select! {
        _ = task => {}
        () = trickle => {}
        () = reading => {}
        () = tokio::time::sleep(LINGER_TIME * 3) => panic!("a trickle holds a lingering close"),
    }
    let took = started.elapsed();
    assert!(took >= LINGER_TIME, "cut before LINGER_TIME: {took:?}");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 400 "));
    assert!(echo.seen.lock().unwrap().is_empty());

    // A flood: ends once LINGER_BYTES are read, long before LINGER_TIME.
    let (client, _echo, _stop, task) = connect(SETTINGS);
    let (mut rx, mut tx) = tokio::io::split(client);
    tx.write_all(refused).await.unwrap();
    let started = Instant::now();
    let flood = async {
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0usize;
        while tx.write_all(&chunk).await.is_ok() {
            sent += chunk.len();
        }
        sent
    };
    let reading = async {
        let mut got = Vec::new();
        let _ = rx.read_to_end(&mut got).await;
        std::future::pending::<()>().await
    };
    let mut sent = 0;
    tokio::select! {
        _ = task => {}
        n = flood => sent = n,
        () = reading => {}
        () = tokio::time::sleep(LINGER_TIME * 3) => panic!("a flood holds a lingering close"),
    }
    assert!(started.elapsed() < LINGER_TIME, "{:?}", started.elapsed());
    // What the flood got in (if it noticed the close) is about the bound.
    assert!(sent == 0 || sent <= LINGER_BYTES + 512 * 1024, "{sent}");
}

/// A body the handler left unread and too long to drain: the answer is
/// written, then the rest is read and dropped until the client is done,
/// so a client that writes its whole body before reading gets it.
#[tokio::test]
async fn an_unread_long_body_is_read_and_dropped_after_the_answer() {
    let (client, _echo, _stop, task) = connect(SETTINGS);
    let (mut rx, mut tx) = tokio::io::split(client);
    let body = 4 * 1024 * 1024;
    let mut wire = format!("POST /unread HTTP/1.1\r\nContent-Length: {body}\r\n\r\n").into_bytes();
    wire.resize(wire.len() + body, b'y');
    // The duplex holds 256 KB: without the lingering reads, this write
    // would wait forever (or fail once the server end is dropped).
    tokio::time::timeout(Duration::from_secs(10), tx.write_all(&wire))
        .await
        .expect("the server reads what the client sends")
        .unwrap();
    drop(tx);
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), rx.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(text.ends_with("unread"), "{text}");
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn an_idle_connection_holds_no_buffer_and_its_future_is_small() {
    let (_client, server) = tokio::io::duplex(1024);
    let (_tx, mut stop) = watch::channel(false);
    let handler = Arc::new(Echo::default());
    let fut = serve(
        server,
        (BytesMut::new(), Instant::now()),
        info(),
        SETTINGS,
        handler,
        &mut stop,
    );
    let size = std::mem::size_of_val(&fut);
    // The state across the idle wait: the stream, a few words of
    // settings and handles, the empty buffer, the connection's wait timer
    // (about 120 bytes); no read or write buffer.
    println!("the HTTP/1 connection future: {size} bytes");
    assert!(
        size < 1152 + std::mem::size_of::<DuplexStream>(),
        "{size} bytes"
    );
}

#[test]
fn a_stream_is_read_the_same_whole_or_in_pieces() {
    use super::fuzz::{requests, Parsed};
    let streams: [&[u8]; 6] = [
        b"POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET /b HTTP/1.1\r\n\r\n",
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: t\r\n\r\nGET /c HTTP/1.0\r\n\r\n",
        b"POST /a HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\n\r\nGET http://b.test/x HTTP/1.1\r\n\r\nGET /y",
        b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
    ];
    for wire in streams {
        let whole = requests(wire, wire.len());
        for step in 1..=32 {
            assert_eq!(
                requests(wire, step),
                whole,
                "{step}: {:?}",
                String::from_utf8_lossy(wire)
            );
        }
    }
    let read = requests(streams[1], 3);
    assert!(
        matches!(&read[0], Parsed::Request { body, .. } if body == b"hello"),
        "{read:?}"
    );
    assert!(
        matches!(&read[1], Parsed::Request { method, .. } if method == "GET"),
        "{read:?}"
    );
    assert_eq!(requests(streams[2], 1), [Parsed::Refused(400)]);
    assert!(matches!(requests(streams[3], 1)[0], Parsed::Broken(_)));
    assert_eq!(requests(streams[4], 5).last(), Some(&Parsed::Incomplete));
}

#[tokio::test]
async fn a_client_that_does_not_read_cannot_hold_the_connection() {
    let short = Settings {
        idle_timeout: Duration::from_millis(300),
        ..SETTINGS
    };
    let (client, server) = tokio::io::duplex(16 * 1024);
    let (_stop_tx, mut stop) = watch::channel(false);
    let handler = Arc::new(Echo::default());
    let task = tokio::spawn(async move {
        serve(
            server,
            (BytesMut::new(), Instant::now()),
            info(),
            short,
            handler,
            &mut stop,
        )
        .await;
    });
    // A body of 200 KB is read (and echoed: an answer four times the
    // pipe's size) by a client that then reads nothing.
    let (_read_half, mut write_half) = tokio::io::split(client);
    let body = vec![b'a'; 200 * 1024];
    let head = format!("POST /a HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len());
    write_half.write_all(head.as_bytes()).await.unwrap();
    write_half.write_all(&body).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the write is bounded")
        .unwrap();
}

#[tokio::test]
async fn a_large_answer_is_written_whole_after_its_head() {
    let (mut client, _echo, _stop, task) = connect(SETTINGS);
    let body = "b".repeat(100 * 1024);
    let wire = format!(
        "POST /big HTTP/1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let writer = tokio::spawn(async move {
        client.write_all(wire.as_bytes()).await.unwrap();
        read_to_end(&mut client).await
    });
    let text = writer.await.unwrap();
    let expected = format!("POST /big [{body}]");
    assert!(text.contains(&format!("content-length: {}\r\n", expected.len())));
    assert!(
        text.ends_with(&format!("\r\n\r\n{expected}")),
        "{}",
        &text[..200]
    );
    task.await.unwrap();
}

/// A write that is ready at once is answered; one that stays pending
/// still ends at its timeout; one that becomes ready in time is answered.
#[tokio::test]
async fn unless_ready_times_only_what_waits() {
    let within = Duration::from_millis(200);
    assert_eq!(unless_ready(within, async { 7 }).await, Some(7));
    // Never ready: `None`, once `within` has passed.
    let started = tokio::time::Instant::now();
    assert_eq!(
        unless_ready(within, std::future::pending::<()>()).await,
        None
    );
    assert!(started.elapsed() >= within);
    // Pending at first, ready before the timeout.
    let late = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        "late"
    };
    assert_eq!(unless_ready(within, late).await, Some("late"));
    // A client that never reads: `write_all` gives up at the timeout.
    let (mut stuck, _reader) = tokio::io::duplex(16);
    assert!(!super::write_all(&mut stuck, &[0u8; 64], within).await);
}
