#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::test_keys::*;
use super::*;
use serde_json::json;

fn policy() -> JwtPolicy {
    JwtPolicy::new(vec![ISS.into()], vec![AUD.into()])
}

fn key_set(keys: &TestKeys) -> KeySet {
    KeySet::from_json(keys.jwks().to_string().as_bytes()).unwrap()
}

/// The reason `token` is refused under the default policy.
fn reason(keys: &TestKeys, token: &str) -> &'static str {
    let err = verify(token, &policy(), &key_set(keys), now()).unwrap_err();
    assert_safe(&err, token);
    err.reason()
}

/// Neither Display nor Debug quotes the token or any part of it.
fn assert_safe(err: &JwtError, token: &str) {
    for text in [err.to_string(), format!("{err:?}")] {
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(!text.contains(part), "{text} leaks the token");
        }
    }
}

// === algorithms ===

#[test]
fn alg_names_parse_and_none_and_hmac_are_refused() {
    for alg in Alg::ALL {
        assert_eq!(alg.as_str().parse::<Alg>(), Ok(alg));
    }
    assert_eq!("none".parse::<Alg>(), Err(AlgError::None));
    assert_eq!("None".parse::<Alg>(), Err(AlgError::None));
    for hs in ["HS256", "HS384", "HS512"] {
        assert_eq!(hs.parse::<Alg>(), Err(AlgError::Symmetric));
    }
    assert_eq!("rs256".parse::<Alg>(), Err(AlgError::Unsupported));
    assert_eq!("RS384".parse::<Alg>(), Err(AlgError::Unsupported));
    assert!(AlgError::None.to_string().contains("never"));
    assert!(AlgError::Symmetric.to_string().contains("HS"));
}

// === accepted tokens ===

#[test]
fn every_algorithm_verifies_with_its_key() {
    let keys = TestKeys::new();
    let set = key_set(&keys);
    let t = now();
    for (alg, kid) in [
        ("RS256", "rsa-1"),
        ("PS256", "rsa-1"),
        ("ES256", "ec-1"),
        ("EdDSA", "ed-1"),
    ] {
        let token = keys.sign(alg, Some(kid), &claims(t));
        let c = verify(&token, &policy(), &set, t).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(c.iss(), ISS);
        assert_eq!(c.sub(), Some("alice"));
        assert_eq!(c.aud(), [AUD.to_string()]);
        assert_eq!(c.exp(), secs(t) + 300);
        assert_eq!(c.raw()["sub"], "alice");
    }
}

#[test]
fn without_kid_the_only_fitting_key_is_used() {
    let keys = TestKeys::new();
    let t = now();
    let token = keys.sign("ES256", None, &claims(t));
    assert!(verify(&token, &policy(), &key_set(&keys), t).is_ok());
    // Two RSA keys and no kid: which one is ambiguous.
    let two = json!({"keys": [keys.jwk_rsa("a"), keys.jwk_rsa("b")]});
    let set = KeySet::from_json(two.to_string().as_bytes()).unwrap();
    let token = keys.sign("RS256", None, &claims(t));
    let err = verify(&token, &policy(), &set, t).unwrap_err();
    assert_eq!(err.reason(), "ambiguous_key");
}

#[test]
fn aud_may_be_an_array() {
    let keys = TestKeys::new();
    let t = now();
    let mut c = claims(t);
    c["aud"] = json!(["other", AUD]);
    let token = keys.sign("ES256", Some("ec-1"), &c);
    let claims = verify(&token, &policy(), &key_set(&keys), t).unwrap();
    assert_eq!(claims.aud(), ["other".to_string(), AUD.to_string()]);
    c["aud"] = json!(["other", "another"]);
    let token = keys.sign("ES256", Some("ec-1"), &c);
    assert_eq!(reason(&keys, &token), "bad_audience");
}

#[test]
fn entra_v1_issuer_and_scp_and_roles() {
    let keys = TestKeys::new();
    let t = now();
    let iss = "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/";
    let mut c = claims(t);
    c["iss"] = json!(iss);
    c["scp"] = json!("User.Read Directory.Read.All");
    c["roles"] = json!(["Scim.Write", "User.Read"]);
    let token = keys.sign("RS256", Some("rsa-1"), &c);
    let mut p = policy();
    p.issuers = vec![iss.into()];
    let claims = verify(&token, &p, &key_set(&keys), t).unwrap();
    assert_eq!(
        claims.scopes(),
        ["User.Read", "Directory.Read.All", "Scim.Write"]
    );
    // The issuer is compared exactly: no trailing-slash normalisation.
    p.issuers = vec![iss.trim_end_matches('/').into()];
    let err = verify(&token, &p, &key_set(&keys), t).unwrap_err();
    assert_eq!(err.reason(), "bad_issuer");
}

#[test]
fn scopes_from_scope_string_and_scp_array() {
    let keys = TestKeys::new();
    let t = now();
    let mut c = claims(t);
    c["scope"] = json!("scim:read  scim:write");
    c["scp"] = json!(["scim:write", "admin"]);
    let token = keys.sign("EdDSA", Some("ed-1"), &c);
    let claims = verify(&token, &policy(), &key_set(&keys), t).unwrap();
    assert_eq!(claims.scopes(), ["scim:read", "scim:write", "admin"]);
}

#[test]
fn leeway_covers_small_clock_skew() {
    let keys = TestKeys::new();
    let t = now();
    let token = keys.sign("ES256", Some("ec-1"), &claims(t));
    // 30 s after exp, with the default 60 s leeway: accepted.
    assert!(verify(&token, &policy(), &key_set(&keys), at(t, 330)).is_ok());
    // 30 s before nbf/iat: accepted.
    assert!(verify(&token, &policy(), &key_set(&keys), at(t, -30)).is_ok());
    let mut strict = policy();
    strict.leeway = Duration::ZERO;
    let err = verify(&token, &strict, &key_set(&keys), at(t, 300)).unwrap_err();
    assert_eq!(err.reason(), "expired");
}

// === refused tokens ===

#[test]
fn alg_none_is_refused() {
    let keys = TestKeys::new();
    let t = now();
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "kid": "rsa-1"});
        let token = format!("{}.", signing_input(&header, &claims(t)));
        assert_eq!(reason(&keys, &token), "bad_alg", "{alg}");
    }
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let keys = TestKeys::new();
    let t = now();
    let header = json!({"alg": "HS256", "kid": "rsa-1"});
    let input = signing_input(&header, &claims(t));
    // The classic confusion: the public key (DER, or the JWK's JSON) as
    // an HMAC secret.
    let jwk = keys.jwk_rsa("rsa-1").to_string();
    for secret in [
        keys.rsa.public().as_ref(),
        &keys.rsa_public().n,
        jwk.as_bytes(),
    ] {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let tag = ring::hmac::sign(&key, input.as_bytes());
        let token = format!("{input}.{}", b64(tag.as_ref()));
        assert_eq!(reason(&keys, &token), "bad_alg");
    }
}

#[test]
fn alg_must_be_allowed_by_the_policy() {
    let keys = TestKeys::new();
    let t = now();
    let token = keys.sign("RS256", Some("rsa-1"), &claims(t));
    let mut p = policy();
    p.algorithms = vec![Alg::ES256];
    let err = verify(&token, &p, &key_set(&keys), t).unwrap_err();
    assert_eq!(err.reason(), "bad_alg");
}

#[test]
fn rsa_key_never_verifies_an_es256_header() {
    let keys = TestKeys::new();
    let t = now();
    // ES256 header naming the RSA key, signed with the EC key.
    let token = keys.sign_with_header(&json!({"alg": "ES256", "kid": "rsa-1"}), &claims(t));
    assert_eq!(reason(&keys, &token), "key_mismatch");
    // An EdDSA header naming the EC key.
    let token = keys.sign_with_header(&json!({"alg": "EdDSA", "kid": "ec-1"}), &claims(t));
    assert_eq!(reason(&keys, &token), "key_mismatch");
}

#[test]
fn a_keys_own_alg_restricts_it() {
    let keys = TestKeys::new();
    let t = now();
    let mut jwk = keys.jwk_rsa("rsa-1");
    jwk["alg"] = json!("RS256");
    let set = KeySet::from_json(json!({"keys": [jwk]}).to_string().as_bytes()).unwrap();
    let token = keys.sign("PS256", Some("rsa-1"), &claims(t));
    let err = verify(&token, &policy(), &set, t).unwrap_err();
    assert_eq!(err.reason(), "key_mismatch");
    let token = keys.sign("RS256", Some("rsa-1"), &claims(t));
    assert!(verify(&token, &policy(), &set, t).is_ok());
}

#[test]
fn claim_checks() {
    let keys = TestKeys::new();
    let t = now();
    let s = secs(t);
    let cases: [(&str, Value, &str); 9] = [
        ("iss", json!("https://evil.example/"), "bad_issuer"),
        ("iss", json!(42), "bad_claim"),
        ("aud", json!("api://other"), "bad_audience"),
        ("aud", json!([AUD, 1]), "bad_claim"),
        ("exp", json!(s - 3600), "expired"),
        ("exp", json!("tomorrow"), "bad_claim"),
        ("nbf", json!(s + 3600), "not_yet_valid"),
        ("iat", json!(s + 3600), "not_yet_valid"),
        ("sub", json!(7), "bad_claim"),
    ];
    for (name, value, want) in cases {
        let mut c = claims(t);
        c[name] = value;
        let token = keys.sign("ES256", Some("ec-1"), &c);
        assert_eq!(reason(&keys, &token), want, "{name}");
    }
    for name in ["exp", "iss", "aud"] {
        let mut c = claims(t);
        c.as_object_mut().unwrap().remove(name);
        let token = keys.sign("ES256", Some("ec-1"), &c);
        assert_eq!(reason(&keys, &token), "missing_claim", "{name}");
    }
}

#[test]
fn fractional_numeric_dates_are_accepted() {
    let keys = TestKeys::new();
    let t = now();
    let mut c = claims(t);
    c["exp"] = json!(secs(t) as f64 + 300.5);
    let token = keys.sign("ES256", Some("ec-1"), &c);
    assert_eq!(
        verify(&token, &policy(), &key_set(&keys), t).unwrap().exp(),
        secs(t) + 300
    );
}

#[test]
fn required_claims_must_be_present() {
    let keys = TestKeys::new();
    let t = now();
    let mut p = policy();
    p.required_claims = vec!["tid".into()];
    let token = keys.sign("ES256", Some("ec-1"), &claims(t));
    let err = verify(&token, &p, &key_set(&keys), t).unwrap_err();
    assert_eq!(err.reason(), "missing_claim");
    assert!(err.to_string().contains("\"tid\""));
    let mut c = claims(t);
    c["tid"] = Value::Null;
    let token = keys.sign("ES256", Some("ec-1"), &c);
    assert!(verify(&token, &p, &key_set(&keys), t).is_err());
    c["tid"] = json!("t-1");
    let token = keys.sign("ES256", Some("ec-1"), &c);
    assert!(verify(&token, &p, &key_set(&keys), t).is_ok());
}

#[test]
fn unknown_kid_is_its_own_error() {
    let keys = TestKeys::new();
    let t = now();
    let token = keys.sign("ES256", Some("rotated-2"), &claims(t));
    let err = verify(&token, &policy(), &key_set(&keys), t).unwrap_err();
    assert!(matches!(err, JwtError::UnknownKid));
    // No kid and no key of that type: the same (a refresh may bring one).
    let only_ec = KeySet::from_json(
        json!({"keys": [keys.jwk_ec("ec-1")]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let token = keys.sign("EdDSA", None, &claims(t));
    let err = verify(&token, &policy(), &only_ec, t).unwrap_err();
    assert!(matches!(err, JwtError::UnknownKid));
}

#[test]
fn tampering_breaks_the_signature() {
    let keys = TestKeys::new();
    let t = now();
    for (alg, kid) in [("RS256", "rsa-1"), ("ES256", "ec-1"), ("EdDSA", "ed-1")] {
        let token = keys.sign(alg, Some(kid), &claims(t));
        let (input, sig) = token.rsplit_once('.').unwrap();
        // Tampered signature: one bit flipped.
        let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
        bytes[10] ^= 1;
        let bad = format!("{input}.{}", b64(&bytes));
        assert_eq!(reason(&keys, &bad), "bad_signature", "{alg}");
        // Tampered payload: another subject, same signature.
        let (header, _) = input.split_once('.').unwrap();
        let mut c = claims(t);
        c["sub"] = json!("admin");
        let bad = format!("{header}.{}.{sig}", b64(c.to_string().as_bytes()));
        assert_eq!(reason(&keys, &bad), "bad_signature", "{alg}");
    }
}

#[test]
fn es256_signatures_are_fixed_width_not_der() {
    let keys = TestKeys::new();
    let t = now();
    let token = keys.sign("ES256", Some("ec-1"), &claims(t));
    let (input, _) = token.rsplit_once('.').unwrap();
    let rng = ring::rand::SystemRandom::new();
    let asn1 = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rng,
        )
        .unwrap()
        .as_ref(),
        &rng,
    )
    .unwrap();
    let der = asn1.sign(&rng, input.as_bytes()).unwrap();
    assert_eq!(
        reason(&keys, &format!("{input}.{}", b64(der.as_ref()))),
        "bad_signature"
    );
}

#[test]
fn crit_header_is_refused() {
    let keys = TestKeys::new();
    let header = json!({"alg": "ES256", "kid": "ec-1", "crit": ["exp"], "exp": 1});
    let token = keys.sign_with_header(&header, &claims(now()));
    assert_eq!(reason(&keys, &token), "crit_header");
}

#[test]
fn embedded_keys_in_the_header_are_ignored() {
    let keys = TestKeys::new();
    let attacker = TestKeys::new();
    // Signed with a key the token carries itself (RFC 8725 §3.10).
    let header = json!({"alg": "ES256", "kid": "ec-1", "jwk": attacker.jwk_ec("ec-1"),
                        "jku": "https://evil.example/jwks"});
    let token = attacker.sign_with_header(&header, &claims(now()));
    assert_eq!(reason(&keys, &token), "bad_signature");
}

#[test]
fn oversized_tokens_are_refused_before_decoding() {
    let keys = TestKeys::new();
    let t = now();
    let mut c = claims(t);
    c["pad"] = json!("x".repeat(MAX_TOKEN_LEN));
    let token = keys.sign("ES256", Some("ec-1"), &c);
    assert_eq!(reason(&keys, &token), "too_large");
    // Not even split: garbage of the size is refused the same way.
    assert_eq!(reason(&keys, &"a".repeat(MAX_TOKEN_LEN + 1)), "too_large");
}

#[test]
fn malformed_tokens() {
    let keys = TestKeys::new();
    let good = keys.sign("ES256", Some("ec-1"), &claims(now()));
    let (input, sig) = good.rsplit_once('.').unwrap();
    let not_object = signing_input(&json!(["ES256"]), &claims(now()));
    for token in [
        String::new(),
        "abc".to_string(),
        input.to_string(),
        format!("{good}.x.y"),
        format!("{input}.{sig}="),
        // `+` is not in the base64url alphabet (always present: the first
        // character is replaced).
        format!("{input}.+{}", &sig[1..]),
        format!("!!!.{}", &good[good.find('.').unwrap() + 1..]),
        format!("{not_object}.{sig}"),
    ] {
        let got = reason(&keys, &token);
        assert!(
            got == "malformed" || got == "bad_signature",
            "{token}: {got}"
        );
    }
    assert_eq!(reason(&keys, "a.b.c"), "malformed");
    let no_alg = signing_input(&json!({"kid": "ec-1"}), &claims(now()));
    assert_eq!(reason(&keys, &format!("{no_alg}.{sig}")), "malformed");
}

#[test]
fn keys_unavailable_is_not_a_client_error() {
    let err = JwtError::KeysUnavailable("fetch failed".into());
    assert_eq!(err.reason(), "keys_unavailable");
    assert!(!err.is_client_error());
    assert!(JwtError::Expired.is_client_error());
    assert!(std::error::Error::source(&err).is_some());
}

// === key sets ===

#[test]
fn key_set_skips_what_it_cannot_use() {
    let keys = TestKeys::new();
    let mut enc = keys.jwk_rsa("enc");
    enc["use"] = json!("enc");
    let mut sign_only = keys.jwk_ec("sign-only");
    sign_only["key_ops"] = json!(["sign"]);
    let mut rs384 = keys.jwk_rsa("rs384");
    rs384["alg"] = json!("RS384");
    let mut misfit = keys.jwk_ec("misfit");
    misfit["alg"] = json!("RS256");
    let mut small_n = vec![0xc1u8; 128];
    small_n[127] = 0x01;
    let doc = json!({"keys": [
        keys.jwk_rsa("rsa-1"),
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "OKP", "kid": "x25519", "crv": "X25519", "x": b64(&[1; 32])},
        {"kty": "RSA", "kid": "rsa-1024", "n": b64(&small_n), "e": "AQAB"},
        {"kty": "EC", "kid": "short", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
        enc, sign_only, rs384, misfit, "not an object",
        keys.jwk_ed("ed-1"),
    ]});
    let set = KeySet::from_json(doc.to_string().as_bytes()).unwrap();
    let kids: Vec<_> = set
        .keys()
        .iter()
        .map(|k| k.kid.as_deref().unwrap())
        .collect();
    assert_eq!(kids, ["rsa-1", "ed-1"]);
    let skipped: Vec<_> = set.skipped().iter().map(|s| s.reason).collect();
    assert_eq!(
        skipped,
        [
            "unsupported_kty",
            "unsupported_crv",
            "unsupported_crv",
            "rsa_key_too_small",
            "bad_ec_point",
            "not_a_signature_key",
            "not_a_signature_key",
            "unsupported_alg",
            "alg_does_not_fit_key",
            "not_an_object",
        ]
    );
}

#[test]
fn rsa_modulus_with_a_leading_zero_is_accepted() {
    let keys = TestKeys::new();
    let t = now();
    let mut n = vec![0u8];
    n.extend_from_slice(&keys.rsa_public().n);
    let jwk = json!({"kty": "RSA", "kid": "rsa-1", "n": b64(&n), "e": "AQAB"});
    let set = KeySet::from_json(json!({"keys": [jwk]}).to_string().as_bytes()).unwrap();
    let token = keys.sign("RS256", Some("rsa-1"), &claims(t));
    assert!(verify(&token, &policy(), &set, t).is_ok());
}

#[test]
fn key_set_documents_that_are_not_one() {
    assert!(matches!(KeySet::from_json(b"{"), Err(KeySetError::Json(_))));
    assert!(matches!(KeySet::from_json(b"{}"), Err(KeySetError::NoKeys)));
    assert!(matches!(
        KeySet::from_json(br#"{"keys": {}}"#),
        Err(KeySetError::NoKeys)
    ));
    let empty = KeySet::from_json(br#"{"keys": []}"#).unwrap();
    assert!(empty.is_empty());
}

#[test]
fn key_debug_shows_no_key_material() {
    let keys = TestKeys::new();
    let set = key_set(&keys);
    let debug = format!("{set:?}");
    assert!(debug.contains("rsa-1"));
    let n = b64(&keys.rsa_public().n);
    assert!(!debug.contains(&n[..16]));
}
