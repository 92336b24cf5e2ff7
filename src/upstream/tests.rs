#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::secret::Secret;
use crate::store::{Store, StoreConfig};
use endpoint::origin_form;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// A tiny upstream: answers with the request it saw, as JSON; `/slow`
/// waits; `/huge` returns 1 MiB.
async fn spawn_echo() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let svc = service_fn(|req: Request<Incoming>| async move {
                    if req.uri().path().ends_with("/slow") {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    if req.uri().path().ends_with("/huge") {
                        return Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                            vec![b'x'; 1 << 20],
                        ))));
                    }
                    let headers: serde_json::Map<String, Value> = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
                        .collect();
                    let body = json!({"uri": req.uri().to_string(), "method": req.method().as_str(), "headers": headers});
                    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
                    resp.headers_mut()
                        .insert("connection", HeaderValue::from_static("x-hop"));
                    resp.headers_mut()
                        .insert("x-hop", HeaderValue::from_static("1"));
                    resp.headers_mut()
                        .insert("x-kept", HeaderValue::from_static("1"));
                    Ok(resp)
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

use http::HeaderValue;

fn upstream(base: &str, auth: UpstreamAuth) -> Upstream {
    Upstream::new(
        "legacy",
        UpstreamTarget::Http(Arc::new(
            HttpTarget::new(base.parse().unwrap(), None, Duration::from_secs(2), 8).unwrap(),
        )),
        auth,
        Duration::from_secs(2),
        Duration::from_millis(500),
    )
}

/// A request deadline that never binds.
fn far() -> Deadline {
    Deadline {
        at: tokio::time::Instant::now() + Duration::from_secs(60),
        within: Duration::from_secs(60),
    }
}

fn request(path: &str, query: Option<&str>) -> UpstreamRequest {
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_static("Bearer client-secret-token"),
    );
    headers.insert("cookie", HeaderValue::from_static("session=1"));
    headers.insert(
        "connection",
        HeaderValue::from_static("keep-alive, x-private"),
    );
    headers.insert("x-private", HeaderValue::from_static("1"));
    headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
    headers.insert("accept", HeaderValue::from_static("application/scim+json"));
    headers.insert("accept-encoding", HeaderValue::from_static("gzip, br"));
    UpstreamRequest {
        method: Method::GET,
        path: path.into(),
        query: query.map(str::to_string),
        headers,
        body: Bytes::new(),
        request_id: "req-1".into(),
        client_ip: "127.0.0.9".parse().unwrap(),
        forwarded_for: None,
        client_proto: "https",
        client_host: "acme.example".into(),
        public_base: None,
        filtered_upsert: false,
    }
}

#[tokio::test]
async fn credentials_are_swapped_and_headers_cleaned() {
    let addr = spawn_echo().await;
    let up = upstream(
        &format!("http://{addr}/scim/v2/"),
        UpstreamAuth::Bearer(Secret::new("upstream-token")),
    );
    let resp = forward(
        &up,
        request(
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            Some("cursor=&count=2"),
        ),
        1 << 20,
        far(),
    )
    .await
    .unwrap();
    let seen: Value = serde_json::from_slice(resp.body()).unwrap();
    let h = &seen["headers"];
    assert_eq!(h["authorization"], "Bearer upstream-token");
    assert!(
        h.get("cookie").is_none() && h.get("x-private").is_none() && h.get("connection").is_none()
    );
    assert_eq!(h["x-forwarded-for"], "127.0.0.9");
    assert_eq!(h["x-forwarded-proto"], "https");
    assert_eq!(h["x-forwarded-host"], "acme.example");
    assert_eq!(h["x-request-id"], "req-1");
    assert_eq!(h["host"], addr.to_string());
    assert_eq!(
        seen["uri"],
        "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User?cursor=&count=2"
    );
    assert!(
        resp.headers().get("x-hop").is_none(),
        "hop-by-hop removed from the response"
    );
    assert!(resp.headers().get("x-kept").is_some());

    let basic = upstream(
        &format!("http://{addr}/scim/v2"),
        UpstreamAuth::Basic {
            username: "svc".into(),
            password: Secret::new("pw"),
        },
    );
    let resp = forward(&basic, request("/Users", None), 1 << 20, far())
        .await
        .unwrap();
    let seen: Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(seen["headers"]["authorization"], "Basic c3ZjOnB3");
}

#[tokio::test]
async fn failures_are_classified_without_leaking_addresses() {
    let addr = spawn_echo().await;
    let slow = forward(
        &upstream(&format!("http://{addr}/scim/v2"), UpstreamAuth::None),
        request("/slow", None),
        1 << 20,
        far(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (slow.status(), slow.reason().as_str()),
        (504, "upstream_timeout")
    );
    let huge = forward(
        &upstream(&format!("http://{addr}/scim/v2"), UpstreamAuth::None),
        request("/huge", None),
        1000,
        far(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (huge.status(), huge.reason().as_str()),
        (502, "upstream_too_large")
    );
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let down = forward(
        &upstream(&format!("http://{closed}/scim/v2"), UpstreamAuth::None),
        request("/Users", None),
        1000,
        far(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (down.status(), down.reason().as_str()),
        (502, "upstream_connect")
    );
    assert!(
        !down.scim().detail().contains("127.0.0.1"),
        "{}",
        down.scim().detail()
    );
}

#[tokio::test]
async fn the_builtin_store_is_called_in_process() {
    let up = Upstream::new(
        "store",
        UpstreamTarget::Builtin(Arc::new(Store::new(StoreConfig::default()))),
        UpstreamAuth::None,
        Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let mut create = request("/Users", None);
    create.method = Method::POST;
    create.headers.insert(
        "content-type",
        HeaderValue::from_static("application/scim+json"),
    );
    create.body = Bytes::from(
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "inproc"})
            .to_string(),
    );
    let resp = forward(&up, create, 1 << 20, far()).await.unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = serde_json::from_slice(resp.body()).unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(
        body["meta"]["location"],
        format!("{}/Users/{id}", public_base_of(&up))
    );
    let got = forward(
        &up,
        request(&format!("/Users/{id}"), Some("attributes=userName")),
        1 << 20,
        far(),
    )
    .await
    .unwrap();
    assert_eq!(got.status(), 200);
    let got: Value = serde_json::from_slice(got.body()).unwrap();
    assert_eq!(got["userName"], "inproc");
    assert!(got.get("meta").is_none());
}

#[test]
fn the_request_target_is_built_at_its_exact_length() {
    for (base, path, query, want) in [
        (
            "/scim/v2",
            "/Users",
            Some("count=2"),
            "/scim/v2/Users?count=2",
        ),
        ("/scim/v2", "", None, "/scim/v2"),
        ("", "", None, "/"),
        ("", "", Some("x=1"), "/?x=1"),
        ("", "/Users/1", None, "/Users/1"),
    ] {
        let s = origin_form(base, path, query);
        assert_eq!(s, want);
        // No spare capacity: `Bytes::from` keeps the buffer as is.
        assert_eq!(s.capacity(), s.len(), "{want}");
    }
}
