#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Token source against a real token endpoint on a loopback socket.
use super::test_server::{MockEndpoint, Reply};
use super::*;
use crate::secret::Secret;
use std::time::Duration;

const SECRET: &str = "s3cr3t+/:value";

fn settings(endpoint: &MockEndpoint) -> ClientCredentials {
    let mut s = ClientCredentials::new(endpoint.uri.clone(), "gateway", Secret::new(SECRET));
    s.timeout = Duration::from_secs(5);
    s
}

fn token_reply(n: usize, expires_in: u64) -> Reply {
    Reply::json(
        200,
        format!(r#"{{"access_token":"tok-{n}","token_type":"bearer","expires_in":{expires_in}}}"#),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_callers_make_one_request() {
    let endpoint =
        MockEndpoint::start(|n, _| token_reply(n, 3600).after(Duration::from_millis(200))).await;
    let mut s = settings(&endpoint);
    s.scopes = vec!["scim.read".into(), "scim.write".into()];
    s.audience = Some("https://api.example".into());
    s.resource = Some("urn:upstream".into());
    let source = TokenSource::new(s).unwrap();
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.token().await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().expose(), "tok-0");
    }
    assert_eq!(endpoint.count(), 1);
    // Cached afterwards.
    let token = source.token().await.unwrap();
    assert_eq!(token.expose(), "tok-0");
    assert_eq!(token.header_value(), "Bearer tok-0");
    assert!(token.header_value().is_sensitive());
    assert_eq!(endpoint.count(), 1);

    let seen = &endpoint.requests()[0];
    assert_eq!(
        seen.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.field("grant_type"), Some("client_credentials"));
    assert_eq!(seen.field("scope"), Some("scim.read scim.write"));
    assert_eq!(seen.field("audience"), Some("https://api.example"));
    assert_eq!(seen.field("resource"), Some("urn:upstream"));
    assert_eq!(seen.field("client_secret"), None);
    assert_eq!(seen.basic(), Some(("gateway".into(), SECRET.into())));
}

#[tokio::test]
async fn client_secret_post_puts_credentials_in_the_form() {
    let endpoint = MockEndpoint::start(|n, _| token_reply(n, 3600)).await;
    let mut s = settings(&endpoint);
    s.auth_method = ClientAuthMethod::ClientSecretPost;
    let source = TokenSource::new(s).unwrap();
    source.token().await.unwrap();
    let seen = &endpoint.requests()[0];
    assert_eq!(seen.authorization, None);
    assert_eq!(seen.field("client_id"), Some("gateway"));
    assert_eq!(seen.field("client_secret"), Some(SECRET));
    assert_eq!(seen.field("scope"), None);
}

#[tokio::test]
async fn token_is_refetched_when_due() {
    // 2 s lifetime: the 60 s refresh margin shrinks to half, 1 s.
    let endpoint = MockEndpoint::start(|n, _| token_reply(n, 2)).await;
    let source = TokenSource::new(settings(&endpoint)).unwrap();
    let first = source.token().await.unwrap();
    assert_eq!(first.expose(), "tok-0");
    assert_eq!(source.token().await.unwrap().expose(), "tok-0");
    assert_eq!(endpoint.count(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(source.token().await.unwrap().expose(), "tok-1");
    assert_eq!(endpoint.count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invalidations_of_one_token_refresh_once() {
    let endpoint =
        MockEndpoint::start(|n, _| token_reply(n, 3600).after(Duration::from_millis(50))).await;
    let source = TokenSource::new(settings(&endpoint)).unwrap();
    let rejected = source.token().await.unwrap();
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let (source, rejected) = (source.clone(), rejected.clone());
            tokio::spawn(async move {
                source.invalidate(&rejected);
                source.token().await
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().expose(), "tok-1");
    }
    assert_eq!(endpoint.count(), 2);
    // A late 401 for the old token does not drop the new one.
    source.invalidate(&rejected);
    assert_eq!(source.token().await.unwrap().expose(), "tok-1");
    assert_eq!(endpoint.count(), 2);
}

#[tokio::test]
async fn error_response_names_the_code_never_the_secret() {
    let endpoint = MockEndpoint::start(|_, _| {
        Reply::json(
            401,
            r#"{"error":"invalid_client","error_description":"unknown client"}"#,
        )
    })
    .await;
    let source = TokenSource::new(settings(&endpoint)).unwrap();
    let error = source.token().await.unwrap_err();
    assert_eq!(error.error_code(), Some("invalid_client"));
    assert_eq!(error.error_description(), Some("unknown client"));
    assert_eq!(error.status(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(error.reason(), "refused");
    let display = error.to_string();
    assert!(display.contains("invalid_client"), "{display}");
    for text in [
        display,
        format!("{error:?}"),
        format!("{source:?}"),
        format!("{:?}", source.settings()),
    ] {
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
    assert!(format!("{:?}", source.settings()).contains("<redacted>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_is_answered_from_memory_during_the_backoff() {
    let endpoint = MockEndpoint::start(|_, _| Reply::json(503, "down")).await;
    let mut s = settings(&endpoint);
    s.failure_backoff = Duration::from_millis(800);
    let source = TokenSource::new(s).unwrap();
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.token().await })
        })
        .collect();
    for call in calls {
        let error = call.await.unwrap().unwrap_err();
        assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(error.reason(), "unexpected_status");
    }
    assert!(source.token().await.is_err());
    assert_eq!(endpoint.count(), 1);
    tokio::time::sleep(Duration::from_millis(850)).await;
    assert!(source.token().await.is_err());
    assert_eq!(endpoint.count(), 2);
}

#[tokio::test]
async fn a_valid_token_is_kept_while_its_refresh_fails() {
    let endpoint = MockEndpoint::start(|n, _| {
        if n == 0 {
            token_reply(n, 2)
        } else {
            Reply::json(500, "{}")
        }
    })
    .await;
    let source = TokenSource::new(settings(&endpoint)).unwrap();
    assert_eq!(source.token().await.unwrap().expose(), "tok-0");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Due for refresh, refresh fails, but tok-0 is good for another ~0.9 s.
    assert_eq!(source.token().await.unwrap().expose(), "tok-0");
    assert_eq!(source.token().await.unwrap().expose(), "tok-0");
    assert_eq!(endpoint.count(), 2);
}

#[tokio::test]
async fn slow_endpoint_times_out() {
    let endpoint =
        MockEndpoint::start(|n, _| token_reply(n, 60).after(Duration::from_secs(3))).await;
    let mut s = settings(&endpoint);
    s.timeout = Duration::from_millis(200);
    let source = TokenSource::new(s).unwrap();
    let started = std::time::Instant::now();
    let error = source.token().await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(error.reason(), "timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn unusable_responses_are_errors() {
    let endpoint = MockEndpoint::start(|n, _| match n {
        0 => Reply::json(200, r#"{"access_token":"t","token_type":"mac"}"#),
        _ => Reply::json(200, "x".repeat(70 * 1024)),
    })
    .await;
    let mut s = settings(&endpoint);
    s.failure_backoff = Duration::ZERO;
    let source = TokenSource::new(s).unwrap();
    assert_eq!(
        source.token().await.unwrap_err().reason(),
        "invalid_response"
    );
    assert_eq!(source.token().await.unwrap_err().reason(), "body_too_large");
}

#[tokio::test]
async fn unreachable_endpoint() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let uri: Uri = format!("http://{addr}/token").parse().unwrap();
    let source =
        TokenSource::new(ClientCredentials::new(uri, "gateway", Secret::new(SECRET))).unwrap();
    let error = source.token().await.unwrap_err();
    assert_eq!(error.reason(), "unreachable");
    assert!(!format!("{error:?}").contains(SECRET));
}

#[test]
fn access_token_is_redacted_and_its_header_sensitive() {
    let mut header = HeaderValue::from_static("Bearer abc");
    header.set_sensitive(true);
    let token = AccessToken {
        value: Arc::from("abc"),
        header,
        expires_at: Instant::now(),
        scope: None,
    };
    assert!(!format!("{token:?}").contains("abc"));
    assert!(token.header_value().is_sensitive());
    assert_eq!(token.header_value(), "Bearer abc");
    assert_eq!(format!("{:?}", Secret::new("hunter2")), "<redacted>");
}

#[test]
fn auth_methods_by_registry_name() {
    for method in [
        ClientAuthMethod::ClientSecretBasic,
        ClientAuthMethod::ClientSecretPost,
    ] {
        assert_eq!(ClientAuthMethod::from_name(method.as_str()), Some(method));
    }
    assert_eq!(ClientAuthMethod::from_name("private_key_jwt"), None);
    assert_eq!(
        ClientAuthMethod::default(),
        ClientAuthMethod::ClientSecretBasic
    );
}

#[tokio::test]
async fn https_token_endpoint_trusted_through_a_ca_file() {
    let endpoint = MockEndpoint::start_tls(|n, _| token_reply(n, 3600)).await;
    let mut s = settings(&endpoint);
    // Without the CA bundle the public roots do not trust it.
    let untrusted = TokenSource::new(s.clone()).unwrap();
    assert_eq!(untrusted.token().await.unwrap_err().reason(), "unreachable");
    s.ca_file = Some(endpoint.ca_file());
    let source = TokenSource::new(s).unwrap();
    assert_eq!(source.token().await.unwrap().expose(), "tok-0");
    assert_eq!(endpoint.count(), 1);
}

#[test]
fn unreadable_ca_file_is_a_setup_error() {
    let mut s = ClientCredentials::new(
        "https://localhost/token".parse().unwrap(),
        "gateway",
        Secret::new(SECRET),
    );
    s.ca_file = Some("/nonexistent/ca.crt".into());
    let error = TokenSource::new(s).unwrap_err();
    assert_eq!(error.reason(), "setup");
}
