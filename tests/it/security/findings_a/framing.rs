//! An upstream answer framed twice (`Transfer-Encoding: chunked` and a
//! `Content-Length` that does not describe the decoded body) reaches the
//! client framed once, by the body the client gets: the next response on
//! the same connection parses, pipelined or not.
use crate::support::gateway::{token_for, TestGateway};
use crate::support::raw::RawClient;
use serde_json::Value;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const HOST: &str = "framing.localhost";

/// An upstream whose every answer carries both framings; `/Users/short`
/// announces fewer bytes than the decoded body, `/Users/long` more. (With
/// a `meta.version`, so the ETag emulation passes the body as it is.)
async fn spawn_twice_framed() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    // GETs: the head is the whole request.
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        let mut chunk = [0u8; 4096];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    buf.drain(..end + 4);
                    let id = if head.contains("/Users/long") {
                        "long"
                    } else {
                        "short"
                    };
                    let body = format!(
                        "{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"{id}\",\"userName\":\"{id}@example.com\",\"meta\":{{\"version\":\"W/\\\"1\\\"\"}}}}"
                    );
                    let announced = if id == "long" { body.len() + 100 } else { 7 };
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/scim+json\r\ncontent-length: {announced}\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                        body.len()
                    );
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn get(gw: &TestGateway, path: &str) -> String {
    format!(
        "GET /scim/v2/Users/{path} HTTP/1.1\r\nhost: {HOST}:{}\r\nauthorization: Bearer {}\r\naccept: application/scim+json\r\n\r\n",
        gw.bound.public.port(),
        token_for("framing")
    )
}

/// One response: 200, framed once, its length that of the body, the
/// resource the path named.
async fn expect_user(client: &mut RawClient, id: &str) {
    let r = client.read_response().await.unwrap_or_else(|e| {
        panic!("the response for {id} did not parse: {e}");
    });
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.all("transfer-encoding").is_empty(), "{r:?}");
    assert_eq!(
        r.all("content-length"),
        [r.body.len().to_string().as_str()],
        "{r:?}"
    );
    let body: Value = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&r.body)));
    assert_eq!(body["id"], id, "{body}");
}

#[tokio::test]
async fn an_upstream_answer_framed_twice_reaches_the_client_framed_once() {
    let upstream = spawn_twice_framed().await;
    let gw = TestGateway::builder()
        .http("twice", &format!("http://{upstream}/scim/v2"), "")
        .tenant("framing", &[HOST], "twice")
        .spawn();
    let mut client = RawClient::connect(&gw, HOST).await;
    // Keep-alive: one request after the other on the same connection.
    for id in ["short", "long", "short"] {
        client.write(get(&gw, id).as_bytes()).await;
        expect_user(&mut client, id).await;
        assert!(client.leftover().is_empty(), "{:?}", client.leftover());
    }
    // Pipelined: both requests before either answer.
    let both = format!("{}{}", get(&gw, "long"), get(&gw, "short"));
    client.write(both.as_bytes()).await;
    expect_user(&mut client, "long").await;
    expect_user(&mut client, "short").await;
    assert!(client.leftover().is_empty(), "{:?}", client.leftover());
}
