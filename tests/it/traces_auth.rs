//! Traces of authentication's own calls, over real sockets: key fetches
//! and token introspection against a real issuer, each a client span
//! under `authenticate`, and no token or client secret in any span.
use crate::support::echo::EchoUpstream;
use crate::support::gateway::TestGateway;
use crate::support::issuer::keys::{secs, TestKeys};
use crate::support::issuer::{Issuer, INTROSPECTION_CLIENT};
use crate::support::otlp::{attribute, render, OtlpReceiver};
use crate::traces::{named, one, traces_section, unhex, CALLER_SPAN, TRACE_ID};
use serde_json::json;
use std::time::SystemTime;

#[tokio::test]
async fn key_fetches_are_children_of_authentication() {
    let receiver = OtlpReceiver::spawn();
    let keys = TestKeys::new();
    let issuer = Issuer::spawn(keys.jwks());
    let echo = EchoUpstream::spawn();
    let aud = "api://scim-traced";
    let gw = TestGateway::builder()
        .http("echo", &echo.url(), "")
        .raw_upstream(&traces_section(&receiver, ""))
        .tenant_with(
            "acme",
            &["acme.localhost"],
            "echo",
            &format!(
                "[tenants.jwt]\nissuers = [\"{}\"]\naudiences = [\"{aud}\"]\n",
                issuer.issuer()
            ),
        )
        .spawn();
    let t = secs(SystemTime::now());
    let claims = json!({"iss": issuer.issuer(), "aud": aud, "sub": "okta-app",
                        "iat": t, "nbf": t, "exp": t + 300, "scope": "scim.read scim.write"});
    let token = keys.sign("ES256", Some("ec-1"), &claims);
    let resp = gw
        .client()
        .get(format!("{}/Users", gw.base("acme.localhost")))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let spans = receiver.wait_for_trace(&unhex(TRACE_ID), 6).await;
    let authenticate = one(&spans, "authenticate");
    let fetches = named(&spans, "jwks fetch");
    assert!(!fetches.is_empty(), "{}", render(&spans));
    for f in fetches {
        assert_eq!(f.parent_span_id, authenticate.span_id);
        assert_eq!(f.kind, 3);
    }
    let bodies = receiver.raw_bodies().concat();
    assert!(!bodies.windows(token.len()).any(|w| w == token.as_bytes()));
}

#[tokio::test]
async fn introspection_calls_are_children_of_authentication_and_name_no_token() {
    let receiver = OtlpReceiver::spawn();
    let issuer = Issuer::spawn(TestKeys::new().jwks());
    let echo = EchoUpstream::spawn();
    let dir = std::env::temp_dir().join(format!("scimgw-traces-intro-{}", issuer.addr.port()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("introspection-secret");
    std::fs::write(&secret, INTROSPECTION_CLIENT.1).unwrap();
    let gw = TestGateway::builder()
        .http("echo", &echo.url(), "")
        .raw_upstream(&traces_section(&receiver, ""))
        .tenant_with(
            "initech",
            &["initech.localhost"],
            "echo",
            &format!(
                "[tenants.introspection]\nendpoint = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"{}\"\n",
                issuer.introspection_endpoint(),
                INTROSPECTION_CLIENT.0,
                secret.display()
            ),
        )
        .spawn();
    let token = "opaque-traced-token-5f1e";
    issuer.activate(
        token,
        json!({"sub": "idp", "client_id": "okta", "scope": "scim.read"}),
    );
    let resp = gw
        .client()
        .get(format!("{}/Users", gw.base("initech.localhost")))
        .bearer_auth(token)
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(issuer.introspections(), 1);
    let spans = receiver.wait_for_trace(&unhex(TRACE_ID), 6).await;
    let call = one(&spans, "token introspection");
    assert_eq!(call.parent_span_id, one(&spans, "authenticate").span_id);
    assert_eq!(call.kind, 3);
    assert_eq!(
        attribute(call, "http.response.status_code").as_deref(),
        Some("200")
    );
    let bodies = receiver.raw_bodies().concat();
    for secret in [token, INTROSPECTION_CLIENT.1, "okta"] {
        assert!(
            !bodies.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret}"
        );
    }
}
