//! OAuth 2.0 at the gateway, against a real issuer (discovery, JWKS,
//! introspection) started here with keys made here: the negative matrix
//! (each case: its status, and the upstream received nothing), key
//! rotation, introspection caching, grants, and brute-force damping.
use crate::support::echo::EchoUpstream;
use crate::support::gateway::{token_for, TestGateway};
use crate::support::issuer::keys::{b64, secs, signing_input, TestKeys};
use crate::support::issuer::{Issuer, INTROSPECTION_CLIENT, UPSTREAM_CLIENT};
use serde_json::{json, Value};
use std::time::SystemTime;

const ACME_AUD: &str = "api://scim-acme";
const GLOBEX_AUD: &str = "api://scim-globex";

struct Setup {
    issuer: Issuer,
    echo: EchoUpstream,
    gw: TestGateway,
    keys: TestKeys,
}

/// acme and globex accept JWTs from one issuer for different audiences;
/// initech takes introspected tokens with read and write grants.
fn setup(server: &str) -> Setup {
    let keys = TestKeys::new();
    let issuer = Issuer::spawn(keys.jwks());
    let echo = EchoUpstream::spawn();
    let dir = std::env::temp_dir().join(format!("scimgw-oauth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join(format!("introspection-secret-{}", issuer.addr.port()));
    std::fs::write(&secret, INTROSPECTION_CLIENT.1).unwrap();
    let upstream_token = dir.join(format!("upstream-token-{}", issuer.addr.port()));
    std::fs::write(&upstream_token, "upstream-credential-xyz").unwrap();
    let jwt = |aud: &str| {
        format!(
            "[tenants.jwt]\nissuers = [\"{}\"]\naudiences = [\"{aud}\"]\n",
            issuer.issuer()
        )
    };
    let introspection = format!(
        "[tenants.introspection]\nendpoint = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"{}\"\n\
         [[tenants.grants]]\nscopes = [\"scim.read\"]\nresources = [\"Users\", \"Groups\"]\nmethods = [\"read\"]\n\
         [[tenants.grants]]\nscopes = [\"scim.write\"]\nresources = [\"*\"]\nmethods = [\"*\"]\n",
        issuer.introspection_endpoint(),
        INTROSPECTION_CLIENT.0,
        secret.display()
    );
    let gw = TestGateway::builder()
        .server(server)
        .http(
            "echo",
            &echo.url(),
            &format!(
                "[upstreams.echo.auth]\nkind = \"bearer\"\ntoken_file = \"{}\"\n",
                upstream_token.display()
            ),
        )
        .tenant_with("acme", &["acme.localhost"], "echo", &jwt(ACME_AUD))
        .tenant_with("globex", &["globex.localhost"], "echo", &jwt(GLOBEX_AUD))
        .tenant_with("initech", &["initech.localhost"], "echo", &introspection)
        .spawn();
    Setup {
        issuer,
        echo,
        gw,
        keys,
    }
}

fn claims(s: &Setup, aud: &str) -> Value {
    let t = secs(SystemTime::now());
    json!({"iss": s.issuer.issuer(), "aud": aud, "sub": "okta-app", "azp": "okta",
           "iat": t, "nbf": t, "exp": t + 300, "scope": "scim.read scim.write"})
}

async fn get(s: &Setup, url: &str, token: &str) -> reqwest::Response {
    s.gw.client()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn users(s: &Setup, host: &str) -> String {
    format!("{}/Users", s.gw.base(host))
}

#[tokio::test]
async fn valid_tokens_pass_and_the_upstream_gets_its_own_credential() {
    let s = setup("");
    for (alg, kid) in [
        ("RS256", "rsa-1"),
        ("PS256", "rsa-1"),
        ("ES256", "ec-1"),
        ("EdDSA", "ed-1"),
    ] {
        let token = s.keys.sign(alg, Some(kid), &claims(&s, ACME_AUD));
        let resp = get(&s, &users(&s, "acme.localhost"), &token).await;
        assert_eq!(resp.status(), 200, "{alg}");
        let seen: Value = resp.json().await.unwrap();
        assert_eq!(
            seen["headers"]["authorization"], "Bearer upstream-credential-xyz",
            "{alg}: the client's token never reaches the upstream"
        );
    }
    assert_eq!(s.echo.hits(), 4);
    // Discovery once, keys once.
    assert_eq!(s.issuer.jwks_fetches(), 1);
}

/// Every case gets 401 `invalid_token` and never reaches the upstream.
#[tokio::test]
async fn the_negative_matrix_is_refused_before_the_upstream() {
    let s = setup("auth_failure_limit = 100");
    let now = secs(SystemTime::now());
    let good = claims(&s, ACME_AUD);
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let hs256_with_rsa_public_key = {
        let header = json!({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"});
        let input = signing_input(&header, &good);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &s.keys.rsa_public().n);
        format!(
            "{input}.{}",
            b64(ring::hmac::sign(&key, input.as_bytes()).as_ref())
        )
    };
    let alg_none = format!(
        "{}.",
        signing_input(&json!({"alg": "none", "typ": "JWT"}), &good)
    );
    let tampered = {
        let t = s.keys.sign("RS256", Some("rsa-1"), &good);
        let (head, sig) = t.rsplit_once('.').unwrap();
        let flipped: String = sig
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i == 5 {
                    if c == 'A' {
                        'B'
                    } else {
                        'A'
                    }
                } else {
                    c
                }
            })
            .collect();
        format!("{head}.{flipped}")
    };
    let cases: Vec<(&str, String)> = vec![
        ("alg none", alg_none),
        (
            "HS256 signed with the RSA public key",
            hs256_with_rsa_public_key,
        ),
        (
            "wrong iss",
            s.keys.sign(
                "RS256",
                Some("rsa-1"),
                &with("iss", json!("https://evil.example/")),
            ),
        ),
        (
            "wrong aud",
            s.keys
                .sign("RS256", Some("rsa-1"), &with("aud", json!("api://other"))),
        ),
        (
            "expired",
            s.keys
                .sign("ES256", Some("ec-1"), &with("exp", json!(now - 600))),
        ),
        (
            "nbf in the future",
            s.keys
                .sign("ES256", Some("ec-1"), &with("nbf", json!(now + 600))),
        ),
        (
            "unknown kid",
            s.keys.sign("RS256", Some("no-such-kid"), &good),
        ),
        ("tampered signature", tampered),
        ("garbage", "not-a-token".to_string()),
    ];
    for (name, token) in &cases {
        let resp = get(&s, &users(&s, "acme.localhost"), token).await;
        assert_eq!(resp.status(), 401, "{name}");
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(challenge.contains("invalid_token"), "{name}: {challenge}");
        let body: Value = resp.json().await.unwrap();
        assert!(!body["detail"].as_str().unwrap().contains(token.as_str()));
    }
    // Tenant A's token at tenant B: by host, and by path prefix.
    let acme_token = s.keys.sign("RS256", Some("rsa-1"), &good);
    let resp = get(&s, &users(&s, "globex.localhost"), &acme_token).await;
    assert_eq!(resp.status(), 401, "acme token at globex by host");
    let by_path = format!(
        "{}/tenants/globex/scim/v2/Users",
        s.gw.origin("gw.localhost")
    );
    let resp = get(&s, &by_path, &acme_token).await;
    assert_eq!(resp.status(), 401, "acme token at globex by path");
    // Static tokens do not cross tenants either.
    let resp = get(&s, &users(&s, "globex.localhost"), &token_for("acme")).await;
    assert_eq!(resp.status(), 401, "acme static token at globex");
    assert_eq!(s.echo.hits(), 0, "no refused request reached the upstream");
    // One fetch per tenant cache (acme, globex) and one refresh for the
    // unknown kid.
    assert!(s.issuer.jwks_fetches() <= 3, "{}", s.issuer.jwks_fetches());
}

#[tokio::test]
async fn unknown_kids_cannot_storm_the_issuer() {
    let s = setup("auth_failure_limit = 0");
    let good = claims(&s, ACME_AUD);
    let first = get(
        &s,
        &users(&s, "acme.localhost"),
        &s.keys.sign("ES256", Some("ec-1"), &good),
    )
    .await;
    assert_eq!(first.status(), 200);
    let before = s.issuer.jwks_fetches();
    for i in 0..30 {
        let token = s.keys.sign("ES256", Some(&format!("random-{i}")), &good);
        let resp = get(&s, &users(&s, "acme.localhost"), &token).await;
        assert_eq!(resp.status(), 401);
    }
    assert!(
        s.issuer.jwks_fetches() - before <= 1,
        "{} fetches for 30 unknown kids",
        s.issuer.jwks_fetches() - before
    );
}

#[tokio::test]
async fn a_rotated_key_is_picked_up() {
    let s = setup("");
    let good = claims(&s, ACME_AUD);
    let resp = get(
        &s,
        &users(&s, "acme.localhost"),
        &s.keys.sign("ES256", Some("ec-1"), &good),
    )
    .await;
    assert_eq!(resp.status(), 200);
    // The issuer rotates to a new EC key.
    let next = TestKeys::new();
    s.issuer
        .set_jwks(json!({"keys": [s.keys.jwk_ec("ec-1"), next.jwk_ec("ec-2")]}));
    let token = next.sign("ES256", Some("ec-2"), &good);
    let resp = get(&s, &users(&s, "acme.localhost"), &token).await;
    assert_eq!(resp.status(), 200, "the new kid is fetched and accepted");
    assert_eq!(s.issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn introspected_tokens_with_grants() {
    let s = setup("");
    s.issuer.activate(
        "opaque-reader-token",
        json!({"sub": "auditor", "client_id": "audit-tool", "scope": "scim.read",
               "exp": secs(SystemTime::now()) + 600}),
    );
    s.issuer.activate(
        "opaque-writer-token",
        json!({"sub": "idp", "client_id": "okta", "scope": "scim.write"}),
    );
    let client = s.gw.client();
    let url = users(&s, "initech.localhost");
    // Read allowed, twice: the second answer comes from the cache.
    for _ in 0..2 {
        let resp = get(&s, &url, "opaque-reader-token").await;
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(s.issuer.introspections(), 1);
    assert_eq!(s.issuer.bad_client_auth(), 0);
    let hits = s.echo.hits();
    // Write refused with insufficient_scope, before the upstream.
    let resp = client
        .post(&url)
        .bearer_auth("opaque-reader-token")
        .header("content-type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
    assert_eq!(s.echo.hits(), hits);
    // The writer may.
    let resp = client
        .post(&url)
        .bearer_auth("opaque-writer-token")
        .header("content-type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // An inactive token: 401, and not forwarded.
    let resp = get(&s, &url, "opaque-unknown-token").await;
    assert_eq!(resp.status(), 401);
    assert_eq!(s.echo.hits(), hits + 1);
}

#[tokio::test]
async fn repeated_failures_are_damped_per_client_and_tenant() {
    let s = setup("auth_failure_limit = 3\nauth_failure_window = \"1m\"");
    for _ in 0..3 {
        let resp = get(&s, &users(&s, "acme.localhost"), "wrong-token-0123456789").await;
        assert_eq!(resp.status(), 401);
    }
    // Over the limit: a failing credential gets 429 with Retry-After ...
    let resp = get(&s, &users(&s, "acme.localhost"), "wrong-token-0123456789").await;
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(s.echo.hits(), 0);
    // ... a good one from the same address still passes (a shared NAT or
    // load balancer address does not lock valid clients out).
    let good = s.keys.sign("ES256", Some("ec-1"), &claims(&s, ACME_AUD));
    let resp = get(&s, &users(&s, "acme.localhost"), &good).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(s.echo.hits(), 1);
    // Another tenant is not affected.
    let resp = get(&s, &users(&s, "globex.localhost"), &token_for("globex")).await;
    assert_eq!(resp.status(), 200);
    let metrics =
        s.gw.client()
            .get(s.gw.admin_url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert!(
        metrics.contains("reason=\"too_many_failures\""),
        "auth failures are counted by reason"
    );
}

/// The gateway's own credential for an upstream: OAuth 2.0 client
/// credentials, one fetch for many concurrent requests, renewed before
/// expiry, and refreshed once on a 401.
#[tokio::test]
async fn upstream_tokens_are_fetched_once_renewed_and_refreshed_on_401() {
    let issuer = Issuer::spawn(json!({"keys": []}));
    let dir = std::env::temp_dir().join(format!("scimgw-oauth-up-{}", issuer.addr.port()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("client-secret");
    std::fs::write(&secret, UPSTREAM_CLIENT.1).unwrap();
    let gw = TestGateway::builder()
        .http(
            "protected",
            &issuer.protected_base(),
            &format!(
                "[upstreams.protected.auth]\nkind = \"oauth2\"\ntoken_url = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"{}\"\nscopes = [\"scim\"]\nrefresh_before = \"1s\"\n",
                issuer.token_endpoint(),
                UPSTREAM_CLIENT.0,
                secret.display()
            ),
        )
        .tenant("acme", &["acme.localhost"], "protected")
        .spawn();
    let client = gw.client();
    let url = format!("{}/Users/p1", gw.base("acme.localhost"));
    let get = || {
        let client = client.clone();
        let url = url.clone();
        async move {
            client
                .get(&url)
                .bearer_auth(token_for("acme"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // 50 concurrent requests: one token fetch.
    let all: Vec<_> = (0..50).map(|_| tokio::spawn(get())).collect();
    for r in all {
        assert_eq!(r.await.unwrap(), 200);
    }
    assert_eq!(issuer.tokens_issued(), 1);
    // The upstream stops accepting the token: one 401, one refresh, one
    // retry, and the client sees 200.
    issuer.revoke_upstream_token();
    let hits = issuer.protected_hits();
    assert_eq!(get().await, 200);
    assert_eq!(issuer.tokens_issued(), 2);
    assert_eq!(issuer.protected_hits(), hits + 2);
    // Short-lived tokens are renewed before they expire.
    issuer.set_token_lifetime(2);
    issuer.revoke_upstream_token();
    assert_eq!(get().await, 200);
    assert_eq!(issuer.tokens_issued(), 3);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    assert_eq!(get().await, 200);
    assert_eq!(issuer.tokens_issued(), 4, "renewed ahead of expiry");
    assert_eq!(issuer.bad_client_auth(), 0);
}
