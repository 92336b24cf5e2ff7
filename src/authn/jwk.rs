//! JSON Web Keys (RFC 7517) for verifying JWS signatures: a [`KeySet`]
//! parsed from a JWKS document, holding only public keys the gateway can
//! use (RSA ≥ 2048 bits, EC P-256, Ed25519). Pure: serde_json, base64 and
//! ring only; fetching a JWKS is `jwks`'s business.
use super::jwt::Alg;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use std::fmt;

/// RSA moduli below this are refused (RFC 8725 §3.5, NIST SP 800-131A);
/// ring's verifiers refuse them as well.
pub(crate) const RSA_MIN_BITS: usize = 2048;
/// ring's upper bound for RSA verification.
pub(crate) const RSA_MAX_BITS: usize = 8192;
/// At most this many keys are kept from one document.
pub const MAX_KEYS: usize = 100;

/// One usable public key.
#[derive(Clone, PartialEq, Eq)]
pub struct Jwk {
    /// `kid`: how a token names its key.
    pub kid: Option<String>,
    /// `alg`: if set, the only algorithm this key may verify (RFC 7517 §4.4).
    pub alg: Option<Alg>,
    pub material: KeyMaterial,
}

/// The public key itself, already decoded and checked.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// `kty: RSA`: big-endian modulus without leading zeros, and exponent.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// `kty: EC`, `crv: P-256`: the uncompressed point `04 || x || y`.
    EcP256 { point: Vec<u8> },
    /// `kty: OKP`, `crv: Ed25519`: the 32-byte public key.
    Ed25519 { x: Vec<u8> },
}

/// The usable keys of a JWKS document, plus a note on each key it skipped.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<Jwk>,
    skipped: Vec<SkippedKey>,
}

/// A key of the document that was left out, and why (no key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    pub kid: Option<String>,
    pub reason: &'static str,
}

/// Why a JWKS document could not be read at all. Single bad keys never
/// fail the document: they are skipped (see [`KeySet::skipped`]).
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    #[error("the key set is not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("the key set has no \"keys\" array")]
    NoKeys,
}

// === impl KeySet ===

impl KeySet {
    /// Parses a JWKS document (RFC 7517 §5). Keys of types the gateway does
    /// not support, encryption keys (`use: enc`), keys whose `key_ops`
    /// exclude `verify`, and RSA keys under 2048 bits are skipped.
    pub fn from_json(doc: &[u8]) -> Result<KeySet, KeySetError> {
        let value: Value = serde_json::from_slice(doc).map_err(KeySetError::Json)?;
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(KeySetError::NoKeys)?;
        let mut set = KeySet::default();
        for key in keys {
            let kid = key.get("kid").and_then(Value::as_str).map(str::to_string);
            if set.keys.len() >= MAX_KEYS {
                set.skipped.push(SkippedKey {
                    kid,
                    reason: "too_many_keys",
                });
                continue;
            }
            match key.as_object().ok_or("not_an_object").and_then(Jwk::parse) {
                Ok(jwk) => set.keys.push(jwk),
                Err(reason) => set.skipped.push(SkippedKey { kid, reason }),
            }
        }
        Ok(set)
    }

    /// A key set of the given keys (for tests and static configuration).
    pub fn from_keys(keys: Vec<Jwk>) -> KeySet {
        KeySet {
            keys,
            skipped: Vec::new(),
        }
    }

    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("keys", &self.keys)
            .field("skipped", &self.skipped)
            .finish()
    }
}

// === impl Jwk ===

impl Jwk {
    /// One JWK object, or the reason it is not usable.
    fn parse(obj: &Map<String, Value>) -> Result<Jwk, &'static str> {
        let kid = match obj.get("kid") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err("bad_kid"),
        };
        // RFC 7517 §4.2: only signature keys; absent `use` means either.
        match obj.get("use") {
            None => {}
            Some(Value::String(u)) if u == "sig" => {}
            Some(_) => return Err("not_a_signature_key"),
        }
        // RFC 7517 §4.3
        if let Some(ops) = obj.get("key_ops") {
            let verify = ops
                .as_array()
                .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
            if !verify {
                return Err("not_a_signature_key");
            }
        }
        let alg = match obj.get("alg") {
            None => None,
            Some(Value::String(a)) => Some(a.parse::<Alg>().map_err(|_| "unsupported_alg")?),
            Some(_) => return Err("unsupported_alg"),
        };
        let material = match str_field(obj, "kty")? {
            "RSA" => parse_rsa(obj)?,
            "EC" => parse_ec(obj)?,
            "OKP" => parse_okp(obj)?,
            _ => return Err("unsupported_kty"),
        };
        let jwk = Jwk { kid, alg, material };
        if let Some(alg) = jwk.alg {
            if !jwk.material.fits(alg) {
                return Err("alg_does_not_fit_key");
            }
        }
        Ok(jwk)
    }

    /// Whether this key may verify a token signed with `alg`: the key type
    /// must fit the algorithm, and a key's own `alg` must equal it.
    pub fn accepts(&self, alg: Alg) -> bool {
        self.material.fits(alg) && self.alg.unwrap_or(alg) == alg
    }
}

impl fmt::Debug for Jwk {
    /// Names the key, never prints its material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("kty", &self.material.kty())
            .finish()
    }
}

// === impl KeyMaterial ===

impl KeyMaterial {
    pub fn fits(&self, alg: Alg) -> bool {
        matches!(
            (self, alg),
            (KeyMaterial::Rsa { .. }, Alg::RS256 | Alg::PS256)
                | (KeyMaterial::EcP256 { .. }, Alg::ES256)
                | (KeyMaterial::Ed25519 { .. }, Alg::EdDSA)
        )
    }

    pub fn kty(&self) -> &'static str {
        match self {
            KeyMaterial::Rsa { .. } => "RSA",
            KeyMaterial::EcP256 { .. } => "EC",
            KeyMaterial::Ed25519 { .. } => "OKP",
        }
    }
}

fn parse_rsa(obj: &Map<String, Value>) -> Result<KeyMaterial, &'static str> {
    let n = b64_field(obj, "n")?;
    let e = b64_field(obj, "e")?;
    // RFC 7518 §6.3.1.1 forbids leading zeros, but some issuers send one.
    let n = strip_leading_zeros(&n);
    let e = strip_leading_zeros(&e);
    let bits = bit_len(n);
    if bits < RSA_MIN_BITS {
        return Err("rsa_key_too_small");
    }
    if bits > RSA_MAX_BITS {
        return Err("rsa_key_too_large");
    }
    if e.is_empty() || e.len() > 4 {
        return Err("bad_rsa_exponent");
    }
    Ok(KeyMaterial::Rsa {
        n: n.to_vec(),
        e: e.to_vec(),
    })
}

fn parse_ec(obj: &Map<String, Value>) -> Result<KeyMaterial, &'static str> {
    if str_field(obj, "crv")? != "P-256" {
        return Err("unsupported_crv");
    }
    let x = b64_field(obj, "x")?;
    let y = b64_field(obj, "y")?;
    // RFC 7518 §6.2.1.2: full-length coordinates.
    if x.len() != 32 || y.len() != 32 {
        return Err("bad_ec_point");
    }
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok(KeyMaterial::EcP256 { point })
}

fn parse_okp(obj: &Map<String, Value>) -> Result<KeyMaterial, &'static str> {
    // RFC 8037 §2
    if str_field(obj, "crv")? != "Ed25519" {
        return Err("unsupported_crv");
    }
    let x = b64_field(obj, "x")?;
    if x.len() != ring::signature::ED25519_PUBLIC_KEY_LEN {
        return Err("bad_okp_key");
    }
    Ok(KeyMaterial::Ed25519 { x })
}

fn str_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, &'static str> {
    obj.get(name)
        .and_then(Value::as_str)
        .ok_or("missing_member")
}

fn b64_field(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, &'static str> {
    URL_SAFE_NO_PAD
        .decode(str_field(obj, name)?)
        .map_err(|_| "bad_base64url")
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Bit length of a big-endian integer without leading zero bytes.
fn bit_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(&top) => (bytes.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}
