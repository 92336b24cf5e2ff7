//! The client's forwarding, method-override and URL-rewrite headers never
//! reach the upstream (an upstream or a proxy behind the gateway could
//! take them for the truth: a spoofed client address, a DELETE authorized
//! as a GET, a path the gateway did not route); the gateway writes
//! `X-Forwarded-For`, `-Proto` and `-Host` itself, once each.
use crate::support::echo::EchoUpstream;
use crate::support::gateway::{token_for, TestGateway};
use serde_json::Value;

const HOST: &str = "forwarding.localhost";

/// Headers a client may send to mislead what stands behind the gateway,
/// each with a value that must not be seen upstream.
const SPOOFED: &[(&str, &str)] = &[
    (
        "forwarded",
        "for=203.0.113.66;proto=http;host=spoof-forwarded.example",
    ),
    ("x-forwarded-for", "203.0.113.66"),
    ("x-forwarded-host", "spoof-xfh.example"),
    ("x-forwarded-proto", "spoof-proto"),
    ("x-forwarded-port", "6666"),
    ("x-forwarded-prefix", "/spoof-prefix"),
    ("x-forwarded-server", "spoof-server.example"),
    ("x-real-ip", "203.0.113.67"),
    ("x-client-ip", "203.0.113.68"),
    ("true-client-ip", "203.0.113.69"),
    ("x-http-method-override", "spoof-DELETE"),
    ("x-http-method", "spoof-PUT"),
    ("x-method-override", "spoof-PATCH"),
    ("x-original-url", "/spoof-original/Users"),
    ("x-rewrite-url", "/spoof-rewrite/Users"),
    ("x-original-host", "spoof-original-host.example"),
    ("cookie", "session=spoof-cookie"),
    ("proxy-authorization", "Basic spoof-proxy-credential"),
    ("x-custom-header", "spoof-custom"),
];

#[tokio::test]
async fn the_clients_forwarding_and_override_headers_never_reach_the_upstream() {
    let echo = EchoUpstream::spawn();
    let gw = TestGateway::builder()
        .http("echo", &echo.url(), "")
        .tenant("forwarding", &[HOST], "echo")
        .spawn();
    let authority = format!("{HOST}:{}", gw.bound.public.port());
    // HTTP/1.1 and HTTP/2 (offered by ALPN): the same headers either way.
    for client in [
        gw.client_builder().http1_only().build().unwrap(),
        gw.client(),
    ] {
        let mut req = client
            .get(format!("{}/Users/echo", gw.base(HOST)))
            .bearer_auth(token_for("forwarding"))
            .header("accept", "application/scim+json")
            .header("if-none-match", "W/\"7\"")
            .header("user-agent", "findings-a/1");
        for (name, value) in SPOOFED {
            req = req.header(*name, *value);
        }
        let resp = req.send().await.unwrap();
        let version = resp.version();
        assert_eq!(resp.status(), 200, "{version:?}");
        let seen: Value = resp.json().await.unwrap();
        let h = seen["headers"].as_object().unwrap();
        for (name, value) in SPOOFED {
            let shown = h.get(*name).and_then(Value::as_str).unwrap_or("");
            assert!(
                !shown.contains(value),
                "{version:?}: {name} reached the upstream as {shown:?}"
            );
        }
        let everything = seen["headers"].to_string();
        assert!(
            !everything.contains("spoof") && !everything.contains("203.0.113."),
            "{version:?}: a client value reached the upstream: {everything}"
        );
        // The gateway's own forwarding headers: the TCP peer, the scheme
        // and the authority the client addressed.
        assert_eq!(h["x-forwarded-for"], "127.0.0.1", "{version:?}");
        assert_eq!(h["x-forwarded-proto"], "https", "{version:?}");
        assert_eq!(h["x-forwarded-host"], authority.as_str(), "{version:?}");
        for name in ["forwarded", "x-real-ip", "x-forwarded-port"] {
            assert!(h.get(name).is_none(), "{version:?}: {name}");
        }
        // What a SCIM exchange needs still goes.
        assert_eq!(h["accept"], "application/scim+json", "{version:?}");
        assert_eq!(h["if-none-match"], "W/\"7\"", "{version:?}");
        assert_eq!(h["user-agent"], "findings-a/1", "{version:?}");
        assert_eq!(seen["method"], "GET", "{version:?}");
        assert_eq!(seen["uri"], "/scim/v2/Users/echo", "{version:?}");
    }
}
