#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use crate::authn::jwt::test_keys::{claims, now, TestKeys, AUD, ISS};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;

/// An issuer on 127.0.0.1:0 serving `/t1/.well-known/openid-configuration`
/// and `/t1/jwks`, with switches for what it answers.
struct TestIssuer {
    addr: SocketAddr,
    state: Arc<IssuerState>,
    server: tokio::task::JoinHandle<()>,
}

struct IssuerState {
    jwks: Mutex<Value>,
    /// The `issuer` the discovery document claims.
    claimed_issuer: Mutex<Option<String>>,
    /// Answer 503 to everything.
    failing: std::sync::atomic::AtomicBool,
    /// Wait this long before answering.
    delay: Mutex<Duration>,
    /// Answer the JWKS with 2 MiB of padding.
    huge: std::sync::atomic::AtomicBool,
    jwks_hits: AtomicUsize,
    discovery_hits: AtomicUsize,
}

impl TestIssuer {
    async fn start(jwks: Value) -> TestIssuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(IssuerState {
            jwks: Mutex::new(jwks),
            claimed_issuer: Mutex::new(None),
            failing: false.into(),
            delay: Mutex::new(Duration::ZERO),
            huge: false.into(),
            jwks_hits: AtomicUsize::new(0),
            discovery_hits: AtomicUsize::new(0),
        });
        let shared = state.clone();
        // Connections live in a JoinSet owned by the accept loop, so that
        // aborting the server also drops pooled keep-alive connections.
        let server = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                conns.spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(state.answer(req, addr).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        TestIssuer {
            addr,
            state,
            server,
        }
    }

    fn issuer(&self) -> String {
        format!("http://{}/t1/", self.addr)
    }

    fn jwks_uri(&self) -> Uri {
        format!("http://{}/t1/jwks", self.addr).parse().unwrap()
    }

    fn set_jwks(&self, jwks: Value) {
        *self.state.jwks.lock().unwrap() = jwks;
    }

    fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    /// Stops accepting and drops every open connection.
    fn shut_down(&self) {
        self.server.abort();
    }
}

impl IssuerState {
    async fn answer(
        &self,
        req: Request<Incoming>,
        addr: SocketAddr,
    ) -> http::Response<Full<Bytes>> {
        let delay = *self.delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        let reply = |status: u16, body: String| {
            http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .unwrap()
        };
        if self.failing.load(Ordering::SeqCst) {
            return reply(503, "{}".into());
        }
        match req.uri().path() {
            "/t1/.well-known/openid-configuration" => {
                self.discovery_hits.fetch_add(1, Ordering::SeqCst);
                let issuer = self
                    .claimed_issuer
                    .lock()
                    .unwrap()
                    .clone()
                    .unwrap_or_else(|| format!("http://{addr}/t1/"));
                let doc = json!({"issuer": issuer, "jwks_uri": format!("http://{addr}/t1/jwks")});
                reply(200, doc.to_string())
            }
            "/t1/jwks" => {
                self.jwks_hits.fetch_add(1, Ordering::SeqCst);
                let mut jwks = self.jwks.lock().unwrap().clone();
                if self.huge.load(Ordering::SeqCst) {
                    jwks["padding"] = json!("x".repeat(2 << 20));
                }
                reply(200, jwks.to_string())
            }
            _ => reply(404, "{}".into()),
        }
    }
}

fn settings() -> JwksSettings {
    JwksSettings {
        fetch_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        ..JwksSettings::default()
    }
}

fn cache(source: JwksSource, settings: JwksSettings) -> Arc<JwksCache> {
    Arc::new(JwksCache::new(source, settings).unwrap())
}

fn policy(issuer: &str) -> JwtPolicy {
    JwtPolicy::new(vec![issuer.into()], vec![AUD.into()])
}

fn claims_for(issuer: &str) -> Value {
    let mut c = claims(now());
    c["iss"] = json!(issuer);
    c
}

fn random_kid() -> String {
    let mut bytes = [0u8; 12];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// === fetching ===

#[tokio::test]
async fn discovery_finds_the_keys_and_they_are_cached() {
    let keys = TestKeys::new();
    let issuer = TestIssuer::start(keys.jwks()).await;
    let cache = cache(JwksSource::Issuer(issuer.issuer()), settings());
    let p = policy(&issuer.issuer());
    let token = keys.sign("RS256", Some("rsa-1"), &claims_for(&issuer.issuer()));
    let c = cache.verify(&token, &p, now()).await.unwrap();
    assert_eq!(c.sub(), Some("alice"));
    for alg_kid in [("ES256", "ec-1"), ("EdDSA", "ed-1")] {
        let token = keys.sign(alg_kid.0, Some(alg_kid.1), &claims_for(&issuer.issuer()));
        cache.verify(&token, &p, now()).await.unwrap();
    }
    assert_eq!(cache.fetch_count(), 1);
    assert_eq!(issuer.state.discovery_hits.load(Ordering::SeqCst), 1);
    assert_eq!(issuer.jwks_hits(), 1);
}

#[tokio::test]
async fn discovery_must_name_the_configured_issuer() {
    let keys = TestKeys::new();
    let issuer = TestIssuer::start(keys.jwks()).await;
    *issuer.state.claimed_issuer.lock().unwrap() = Some("https://evil.example/".into());
    let cache = cache(JwksSource::Issuer(issuer.issuer()), settings());
    assert!(matches!(cache.keys().await, Err(JwksError::IssuerMismatch)));
    // Without the trailing slash, the configured issuer differs as well.
    *issuer.state.claimed_issuer.lock().unwrap() = None;
    let other = JwksCache::new(
        JwksSource::Issuer(issuer.issuer().trim_end_matches('/').into()),
        settings(),
    )
    .unwrap();
    assert!(matches!(other.keys().await, Err(JwksError::IssuerMismatch)));
    assert_eq!(issuer.jwks_hits(), 0);
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let keys = TestKeys::new();
    let issuer = TestIssuer::start(keys.jwks()).await;
    *issuer.state.delay.lock().unwrap() = Duration::from_millis(100);
    let cache = cache(JwksSource::JwksUri(issuer.jwks_uri()), settings());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.keys().await.map(|k| k.keys().len()) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 3);
    }
    assert_eq!(cache.fetch_count(), 1);
    assert_eq!(issuer.jwks_hits(), 1);
}

#[tokio::test]
async fn expired_keys_answer_while_one_caller_refreshes() {
    let keys = TestKeys::new();
    let issuer = TestIssuer::start(keys.jwks()).await;
    let s = JwksSettings {
        ttl: Duration::from_millis(50),
        ..settings()
    };
    let cache = cache(JwksSource::JwksUri(issuer.jwks_uri()), s);
    cache.keys().await.unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    *issuer.state.delay.lock().unwrap() = Duration::from_millis(500);
    let refreshing = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.keys().await })
    };
    // Let the refresh take the lock and start its (slow) fetch.
    while cache.fetch_count() < 2 {
        tokio::task::yield_now().await;
    }
    let started = Instant::now();
    assert_eq!(cache.keys().await.unwrap().keys().len(), 3);
    assert!(started.elapsed() < Duration::from_millis(250));
    refreshing.await.unwrap().unwrap();
    assert_eq!(cache.fetch_count(), 2);
}

#[tokio::test]
async fn responses_are_bounded_in_size_time_and_status() {
    let keys = TestKeys::new();
    let issuer = TestIssuer::start(keys.jwks()).await;
    let source = JwksSource::JwksUri(issuer.jwks_uri());

    issuer.state.huge.store(true, Ordering::SeqCst);
    let err = cache(source.clone(), settings()).keys().await.unwrap_err();
    assert!(matches!(err, JwksError::TooLarge), "{err:?}");
    issuer.state.huge.store(false, Ordering::SeqCst);

    *issuer.state.delay.lock().unwrap() = Duration::from_secs(2);
    let quick = JwksSettings {
        fetch_timeout: Duration::from_millis(200),
        ..settings()
    };
    let started = Instant::now();
    let err = cache(source, quick).keys().await.unwrap_err();
    assert!(matches!(err, JwksError::Timeout(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    *issuer.state.delay.lock().unwrap() = Duration::ZERO;

    let missing = format!("http://{}/nowhere", issuer.addr).parse().unwrap();
    let err = cache(JwksSource::JwksUri(missing), settings())
        .keys()
        .await
        .unwrap_err();
    assert!(matches!(err, JwksError::Status(s) if s == 404), "{err:?}");
}

#[tokio::test]
async fn a_failed_first_fetch_is_not_retried_within_the_interval() {
    let keys = TestKeys::new();
    let issuer = TestIssuer::start(keys.jwks()).await;
    issuer.state.failing.store(true, Ordering::SeqCst);
    let cache = cache(JwksSource::JwksUri(issuer.jwks_uri()), settings());
    assert!(matches!(cache.keys().await, Err(JwksError::Status(_))));
    for _ in 0..10 {
        assert!(matches!(cache.keys().await, Err(JwksError::Unavailable)));
    }
    let token = keys.sign("ES256", Some("ec-1"), &claims(now()));
    let err = cache.verify(&token, &policy(ISS), now()).await.unwrap_err();
    assert_eq!(err.reason(), "keys_unavailable");
    assert!(!err.is_client_error());
    assert_eq!(cache.fetch_count(), 1);
    assert_eq!(cache.failure_count(), 1);
}

// === rotation and unknown kids ===

#[tokio::test]
async fn a_rotated_key_is_picked_up_with_one_refresh() {
    let keys = TestKeys::new();
    let issuer = TestIssuer::start(keys.jwks()).await;
    let s = JwksSettings {
        min_refresh_interval: Duration::from_millis(100),
        ..settings()
    };
    let cache = cache(JwksSource::JwksUri(issuer.jwks_uri()), s);
    cache.keys().await.unwrap();
    // The issuer rotates: a new EC key appears, the old ones stay.
    let next = TestKeys::new();
    let mut jwks = keys.jwks();
    jwks["keys"]
        .as_array_mut()
        .unwrap()
        .push(next.jwk_ec("ec-2"));
    issuer.set_jwks(jwks);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let token = next.sign("ES256", Some("ec-2"), &claims(now()));
    cache.verify(&token, &policy(ISS), now()).await.unwrap();
    assert_eq!(cache.fetch_count(), 2);
    // Known now: no further fetch.
    cache.verify(&token, &policy(ISS), now()).await.unwrap();
    assert_eq!(cache.fetch_count(), 2);
}

#[tokio::test]
async fn unknown_kids_cause_at_most_one_refresh_per_interval() {
    let keys = TestKeys::new();
    let issuer = TestIssuer::start(keys.jwks()).await;
    let interval = Duration::from_millis(500);
    let s = JwksSettings {
        min_refresh_interval: interval,
        ..settings()
    };
    let cache = cache(JwksSource::JwksUri(issuer.jwks_uri()), s);
    cache.keys().await.unwrap();
    tokio::time::sleep(interval + Duration::from_millis(50)).await;
    // 50 concurrent tokens with made-up kids, after the interval has passed.
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let cache = cache.clone();
            let token = keys.sign("ES256", Some(&random_kid()), &claims(now()));
            tokio::spawn(async move { cache.verify(&token, &policy(ISS), now()).await })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert!(matches!(err, JwtError::UnknownKid));
    }
    assert_eq!(cache.fetch_count(), 2, "the initial fetch and one refresh");
    // Right after that refresh, 50 more within the interval: none.
    for _ in 0..50 {
        let token = keys.sign("ES256", Some(&random_kid()), &claims(now()));
        let err = cache.verify(&token, &policy(ISS), now()).await.unwrap_err();
        assert_eq!(err.reason(), "unknown_kid");
    }
    assert_eq!(cache.fetch_count(), 2);
    assert_eq!(issuer.jwks_hits(), 2);
}

#[tokio::test]
async fn unknown_kids_right_after_the_first_fetch_cause_one_refresh() {
    let keys = TestKeys::new();
    let issuer = TestIssuer::start(keys.jwks()).await;
    let cache = cache(JwksSource::JwksUri(issuer.jwks_uri()), settings());
    for _ in 0..50 {
        let token = keys.sign("EdDSA", Some(&random_kid()), &claims(now()));
        assert!(cache.verify(&token, &policy(ISS), now()).await.is_err());
    }
    // The routine first fetch does not count against the unknown-kid
    // limit (a key rotated just before would be missed): one refresh.
    assert_eq!(cache.fetch_count(), 2);
}

// === outages ===

#[tokio::test]
async fn stale_keys_serve_within_the_grace_period() {
    let keys = TestKeys::new();
    let issuer = TestIssuer::start(keys.jwks()).await;
    let s = JwksSettings {
        ttl: Duration::from_millis(100),
        min_refresh_interval: Duration::from_millis(400),
        stale_grace: Duration::from_secs(3600),
        ..settings()
    };
    let cache = cache(JwksSource::Issuer(issuer.issuer()), s);
    let p = policy(&issuer.issuer());
    let token = keys.sign("PS256", Some("rsa-1"), &claims_for(&issuer.issuer()));
    cache.verify(&token, &p, now()).await.unwrap();
    issuer.shut_down();
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Expired, the issuer is gone: the refresh fails, the old keys serve.
    cache.verify(&token, &p, now()).await.unwrap();
    assert_eq!(cache.fetch_count(), 2);
    assert_eq!(cache.failure_count(), 1);
    // Within the interval no new attempt; after it, one more.
    cache.verify(&token, &p, now()).await.unwrap();
    assert_eq!(cache.fetch_count(), 2);
    tokio::time::sleep(Duration::from_millis(400)).await;
    cache.verify(&token, &p, now()).await.unwrap();
    assert_eq!(cache.fetch_count(), 3);
    assert_eq!(cache.failure_count(), 2);
}

#[tokio::test]
async fn past_the_grace_period_the_keys_are_gone() {
    let keys = TestKeys::new();
    let issuer = TestIssuer::start(keys.jwks()).await;
    let s = JwksSettings {
        ttl: Duration::from_millis(50),
        min_refresh_interval: Duration::from_millis(10),
        stale_grace: Duration::from_millis(100),
        ..settings()
    };
    let cache = cache(JwksSource::JwksUri(issuer.jwks_uri()), s);
    let token = keys.sign("ES256", Some("ec-1"), &claims(now()));
    cache.verify(&token, &policy(ISS), now()).await.unwrap();
    issuer.state.failing.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = cache.verify(&token, &policy(ISS), now()).await.unwrap_err();
    assert_eq!(err.reason(), "keys_unavailable");
    // The issuer is back: the next attempt (after the interval) recovers.
    issuer.state.failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await;
    cache.verify(&token, &policy(ISS), now()).await.unwrap();
}

#[test]
fn errors_name_no_key_material() {
    let err = JwtError::KeysUnavailable(Box::new(JwksError::Status(StatusCode::BAD_GATEWAY)));
    assert_eq!(err.to_string(), "the issuer's signing keys are unavailable");
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(source, "the key set server answered 502 Bad Gateway");
}

#[tokio::test]
async fn known_keys_verification_does_not_refresh_for_an_unknown_kid() {
    let keys = TestKeys::new();
    let issuer = TestIssuer::start(keys.jwks()).await;
    let cache = cache(JwksSource::JwksUri(issuer.jwks_uri()), settings());
    let p = policy(&issuer.issuer());
    let token = keys.sign("RS256", Some("rsa-1"), &claims_for(&issuer.issuer()));
    // The first caller fetches the keys, as any would.
    let claims = cache.verify_known_keys(&token, &p, now()).await.unwrap();
    assert_eq!(claims.sub(), Some("alice"));
    assert_eq!(issuer.jwks_hits(), 1);
    // An unknown kid is refused, not a reason to refresh.
    let unknown = keys.sign("RS256", Some("rotated"), &claims_for(&issuer.issuer()));
    assert!(matches!(
        cache.verify_known_keys(&unknown, &p, now()).await,
        Err(JwtError::UnknownKid)
    ));
    assert_eq!(issuer.jwks_hits(), 1);
    // (`verify` would have refreshed.)
    assert!(cache.verify(&unknown, &p, now()).await.is_err());
    assert_eq!(issuer.jwks_hits(), 2);
}
