//! JWT verification (RFC 7515, RFC 7519, RFC 8725) and JWKS parsing
//! (RFC 7517). The first byte picks the mode:
//! - a raw token against a fixed Ed25519 key: never accepted unless its
//!   claims meet the policy;
//! - a header and a payload (NUL-separated) signed here with that key: a
//!   token accepted has alg EdDSA, no `crit`, and claims that meet the
//!   policy; the same token with a damaged signature is refused;
//! - a JWKS document: parsed or refused, at most MAX_KEYS keys; a valid
//!   token verifies against it only when it holds the signing key.
#![no_main]
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use ring::signature::{Ed25519KeyPair, KeyPair};
use scim_gateway::authn::jwk::MAX_KEYS;
use scim_gateway::authn::jwt::{verify, Claims, JwtPolicy, KeyMaterial, KeySet};
use scim_gateway_fuzz::{split_first, split_nul};
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ISS: &str = "https://issuer.example/";
const AUD: &str = "api://scim-gateway";
/// The verification clock: 2026-01-01, fixed so that runs repeat.
const NOW: u64 = 1_767_225_600;

struct Fixture {
    key: Ed25519KeyPair,
    keys: KeySet,
    policy: JwtPolicy,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
        let key = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).expect("a seed of 32 bytes");
        let jwks = serde_json::json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "kid": "k1", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(key.public_key().as_ref()),
        }]});
        let keys = KeySet::from_json(jwks.to_string().as_bytes()).expect("the test key set");
        let policy = JwtPolicy::new(vec![ISS.into()], vec![AUD.into()]);
        Fixture { key, keys, policy }
    });
    &FIXTURE
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

/// What an accepted token's claims must satisfy.
fn meets_policy(claims: &Claims, policy: &JwtPolicy) {
    assert!(
        policy.issuers.iter().any(|i| i == claims.iss()),
        "iss {}",
        claims.iss()
    );
    assert!(
        claims.aud().iter().any(|a| policy.audiences.contains(a)),
        "aud {:?}",
        claims.aud()
    );
    assert!(
        claims.exp() + policy.leeway.as_secs() > NOW,
        "exp {}",
        claims.exp()
    );
}

fn sign(header: &[u8], payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let sig = fixture().key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

fn raw_token(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let f = fixture();
    if let Ok(claims) = verify(token, &f.policy, &f.keys, now()) {
        meets_policy(&claims, &f.policy);
    }
}

fn signed(data: &[u8]) {
    let (header, payload) = split_nul(data);
    let f = fixture();
    let token = sign(header, payload);
    let Ok(claims) = verify(&token, &f.policy, &f.keys, now()) else {
        return;
    };
    meets_policy(&claims, &f.policy);
    let h: serde_json::Value = serde_json::from_slice(header).expect("an accepted header is JSON");
    assert_eq!(
        h.get("alg").and_then(|a| a.as_str()),
        Some("EdDSA"),
        "header {h}"
    );
    assert!(h.get("crit").is_none(), "header {h}");
    // One bit of the signature's first byte flipped: the first base64
    // character of the signature changes its top bits.
    let dot = token.rfind('.').expect("three parts");
    let mut damaged = token.clone().into_bytes();
    damaged[dot + 1] = if damaged[dot + 1] == b'A' { b'B' } else { b'A' };
    let damaged = String::from_utf8(damaged).expect("ASCII");
    assert!(
        verify(&damaged, &f.policy, &f.keys, now()).is_err(),
        "a damaged signature verifies"
    );
}

fn key_set(data: &[u8]) {
    let Ok(keys) = KeySet::from_json(data) else {
        return;
    };
    assert!(keys.keys().len() <= MAX_KEYS);
    let f = fixture();
    let token = sign(
        br#"{"alg":"EdDSA","kid":"k1"}"#,
        format!(r#"{{"iss":"{ISS}","aud":"{AUD}","exp":{}}}"#, NOW + 3600).as_bytes(),
    );
    if verify(&token, &f.policy, &keys, now()).is_ok() {
        let public = f.key.public_key().as_ref();
        assert!(
            keys.keys().iter().any(|k| k.kid.as_deref() == Some("k1")
                && matches!(&k.material, KeyMaterial::Ed25519 { x } if x.as_slice() == public)),
            "a token verifies against a key set without its key: {keys:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let (selector, rest) = split_first(data);
    match selector % 3 {
        0 => raw_token(rest),
        1 => signed(rest),
        _ => key_set(rest),
    }
});
