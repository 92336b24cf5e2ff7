#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Introspection against a real endpoint on a loopback socket.
use super::*;
use crate::upstream::oauth::test_server::{MockEndpoint, Reply};
use std::time::Duration;

const SECRET: &str = "gw-s3cret";
const TOKEN: &str = "opaque-AbC123.token";

fn settings(endpoint: &MockEndpoint) -> IntrospectionSettings {
    IntrospectionSettings::new(endpoint.uri.clone(), "gateway", Secret::new(SECRET))
}

fn active(extra: &str) -> Reply {
    Reply::json(
        200,
        format!(
            r#"{{"active":true,"sub":"u-1","client_id":"app","username":"jdoe","scope":"scim.read scim.write"{extra}}}"#
        ),
    )
}

#[tokio::test]
async fn active_answer_is_cached_under_a_hash() {
    let endpoint = MockEndpoint::start(|_, _| active(r#","iss":"https://idp","aud":"scim""#)).await;
    let introspector = Introspector::new(settings(&endpoint)).unwrap();
    let found = introspector.introspect(TOKEN).await.unwrap();
    assert_eq!(found.sub(), Some("u-1"));
    assert_eq!(found.client_id(), Some("app"));
    assert_eq!(found.username(), Some("jdoe"));
    assert_eq!(
        found.scopes().collect::<Vec<_>>(),
        ["scim.read", "scim.write"]
    );
    assert_eq!(found.iss(), Some("https://idp"));
    assert_eq!(found.aud(), ["scim"]);
    assert_eq!(found.exp(), None);

    // Second call: from the cache, no request.
    assert_eq!(introspector.introspect(TOKEN).await.unwrap(), found);
    assert_eq!(endpoint.count(), 1);

    let seen = &endpoint.requests()[0];
    assert_eq!(seen.field("token"), Some(TOKEN));
    assert_eq!(seen.field("token_type_hint"), Some("access_token"));
    assert_eq!(seen.basic(), Some(("gateway".into(), SECRET.into())));
    assert_eq!(
        seen.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );

    // The cache holds the SHA-256 of the token, not the token.
    let keys = introspector.inner.shared().cache.keys();
    assert_eq!(keys, [TokenKey::of(TOKEN)]);
    let stored = keys[0].as_bytes();
    assert!(!stored
        .windows(8)
        .any(|w| TOKEN.as_bytes().windows(8).any(|t| t == w)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_for_one_token_make_one_request() {
    let endpoint = MockEndpoint::start(|_, _| active("").after(Duration::from_millis(100))).await;
    let introspector = Introspector::new(settings(&endpoint)).unwrap();
    let calls: Vec<_> = (0..50)
        .map(|i| {
            let introspector = introspector.clone();
            // Every fifth call uses another token: one request per token.
            let token = if i % 5 == 0 { "other" } else { TOKEN };
            tokio::spawn(async move { introspector.introspect(token).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().sub(), Some("u-1"));
    }
    assert_eq!(endpoint.count(), 2);
    assert_eq!(introspector.cached(), 2);
}

#[tokio::test]
async fn inactive_is_cached_for_the_negative_ttl() {
    let endpoint = MockEndpoint::start(|_, _| Reply::json(200, r#"{"active":false}"#)).await;
    let mut s = settings(&endpoint);
    s.negative_ttl = Duration::from_millis(800);
    let introspector = Introspector::new(s).unwrap();
    let error = introspector.introspect(TOKEN).await.unwrap_err();
    assert!(error.is_invalid_token());
    assert_eq!(error.reason(), "inactive");
    assert_eq!(
        introspector.introspect(TOKEN).await.unwrap_err().reason(),
        "inactive"
    );
    assert_eq!(endpoint.count(), 1);
    tokio::time::sleep(Duration::from_millis(850)).await;
    assert_eq!(
        introspector.introspect(TOKEN).await.unwrap_err().reason(),
        "inactive"
    );
    assert_eq!(endpoint.count(), 2);
}

#[tokio::test]
async fn exp_bounds_the_cache() {
    let exp = unix_now().as_secs() + 2;
    let endpoint = MockEndpoint::start(move |_, _| active(&format!(r#","exp":{exp}"#))).await;
    let introspector = Introspector::new(settings(&endpoint)).unwrap();
    assert_eq!(
        introspector.introspect(TOKEN).await.unwrap().exp(),
        Some(exp)
    );
    assert!(introspector.introspect(TOKEN).await.is_ok());
    assert_eq!(endpoint.count(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Asked again; the server still says active, but exp has passed.
    let error = introspector.introspect(TOKEN).await.unwrap_err();
    assert_eq!(error.reason(), "expired");
    assert!(error.is_invalid_token());
    assert_eq!(endpoint.count(), 2);
}

#[tokio::test]
async fn cache_max_ttl_bounds_the_cache() {
    let endpoint = MockEndpoint::start(|_, _| active("")).await;
    let mut s = settings(&endpoint);
    s.cache_max_ttl = Duration::from_millis(800);
    let introspector = Introspector::new(s).unwrap();
    introspector.introspect(TOKEN).await.unwrap();
    introspector.introspect(TOKEN).await.unwrap();
    assert_eq!(endpoint.count(), 1);
    tokio::time::sleep(Duration::from_millis(850)).await;
    introspector.introspect(TOKEN).await.unwrap();
    assert_eq!(endpoint.count(), 2);
}

#[tokio::test]
async fn endpoint_failures_are_not_cached() {
    let endpoint = MockEndpoint::start(|n, _| match n {
        0 => Reply::json(500, "{}"),
        1 => Reply::json(200, "{not json"),
        _ => active(""),
    })
    .await;
    let introspector = Introspector::new(settings(&endpoint)).unwrap();
    let error = introspector.introspect(TOKEN).await.unwrap_err();
    assert!(error.is_endpoint_failure());
    assert_eq!(error.reason(), "endpoint_status");
    let error = introspector.introspect(TOKEN).await.unwrap_err();
    assert_eq!(error.reason(), "invalid_response");
    assert!(introspector.introspect(TOKEN).await.is_ok());
    assert_eq!(endpoint.count(), 3);
}

#[tokio::test]
async fn issuer_and_audience_are_checked() {
    let endpoint = MockEndpoint::start(|n, _| match n {
        0 => active(r#","iss":"https://evil","aud":"scim""#),
        1 => active(r#","iss":"https://idp","aud":["other"]"#),
        _ => active(r#","iss":"https://idp","aud":["other","scim"]"#),
    })
    .await;
    let mut s = settings(&endpoint);
    s.issuer = Some("https://idp".into());
    s.audiences = vec!["scim".into()];
    let introspector = Introspector::new(s).unwrap();
    let reasons: Vec<_> = reasons_for(&introspector, ["t1", "t2", "t3"]).await;
    assert_eq!(reasons, ["issuer_mismatch", "audience_mismatch", "ok"]);
}

async fn reasons_for(introspector: &Introspector, tokens: [&str; 3]) -> Vec<&'static str> {
    let mut reasons = Vec::new();
    for token in tokens {
        reasons.push(match introspector.introspect(token).await {
            Ok(_) => "ok",
            Err(e) => e.reason(),
        });
    }
    reasons
}

#[tokio::test]
async fn slow_endpoint_times_out() {
    let endpoint = MockEndpoint::start(|_, _| active("").after(Duration::from_secs(3))).await;
    let mut s = settings(&endpoint);
    s.timeout = Duration::from_millis(200);
    let introspector = Introspector::new(s).unwrap();
    let started = std::time::Instant::now();
    let error = introspector.introspect(TOKEN).await.unwrap_err();
    assert!(error.is_timeout());
    assert_eq!(error.reason(), "endpoint_timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(introspector.cached(), 0);
}

#[tokio::test]
async fn a_cancelled_call_frees_its_token_for_the_next_caller() {
    let endpoint = MockEndpoint::start(|n, _| {
        active("").after(if n == 0 {
            Duration::from_secs(3)
        } else {
            Duration::ZERO
        })
    })
    .await;
    let introspector = Introspector::new(settings(&endpoint)).unwrap();
    let first = {
        let introspector = introspector.clone();
        tokio::spawn(async move { introspector.introspect(TOKEN).await })
    };
    let waiter = {
        let introspector = introspector.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            introspector.introspect(TOKEN).await
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    first.abort();
    let answer = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("the waiter asked anew instead of waiting for the cancelled call")
        .unwrap();
    assert!(answer.is_ok());
    assert_eq!(endpoint.count(), 2);
}

#[tokio::test]
async fn nothing_prints_the_token_or_the_secret() {
    let endpoint = MockEndpoint::start(|_, _| Reply::json(200, r#"{"active":false}"#)).await;
    let introspector = Introspector::new(settings(&endpoint)).unwrap();
    let error = introspector.introspect(TOKEN).await.unwrap_err();
    for text in [
        error.to_string(),
        format!("{error:?}"),
        format!("{introspector:?}"),
        format!("{:?}", TokenKey::of(TOKEN)),
    ] {
        assert!(!text.contains(TOKEN), "{text}");
        assert!(!text.contains(SECRET), "{text}");
    }
}

#[tokio::test]
async fn the_cache_alone_answers_without_calling_the_endpoint() {
    let endpoint = MockEndpoint::start(|n, _| match n {
        0 => active(""),
        _ => Reply::json(200, r#"{"active":false}"#),
    })
    .await;
    let introspector = Introspector::new(settings(&endpoint)).unwrap();
    // Not cached: no answer, and no call.
    assert!(introspector.introspect_cached(TOKEN).is_none());
    assert_eq!(endpoint.count(), 0);
    introspector.introspect(TOKEN).await.unwrap();
    introspector.introspect("other").await.unwrap_err();
    assert_eq!(endpoint.count(), 2);
    // Cached either way: the verdict, still without a call.
    let found = introspector.introspect_cached(TOKEN).unwrap().unwrap();
    assert_eq!(found.sub(), Some("u-1"));
    let refused = introspector
        .introspect_cached("other")
        .unwrap()
        .unwrap_err();
    assert!(refused.is_invalid_token());
    assert!(introspector.introspect_cached("third").is_none());
    assert_eq!(endpoint.count(), 2);
}
