//! Verification of JWT bearer tokens: compact JWS (RFC 7515) carrying JWT
//! claims (RFC 7519), checked the way RFC 8725 recommends. Pure: the
//! caller passes the keys and the clock; [`super::jwks`] fetches keys.
//!
//! What is accepted, deliberately narrow:
//! - asymmetric signatures only (RS256, PS256, ES256, EdDSA). There is no
//!   HMAC code at all, so a token "signed" with a public key as an HMAC
//!   secret cannot verify by construction (RFC 8725 §2.1, §3.1);
//! - the algorithm must be allowed by the policy *and* fit the key type;
//! - keys come only from the configured key set: the `jku`, `jwk`, `x5u`
//!   and `x5c` header parameters are ignored (RFC 8725 §3.10);
//! - any `crit` header is refused: no extension is understood
//!   (RFC 7515 §4.1.11);
//! - `exp` is required, `iss` must match exactly, `aud` must intersect the
//!   configured audiences (RFC 8725 §3.8, §3.9).
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use super::jwk::{Jwk, KeyMaterial, KeySet, KeySetError, SkippedKey};

/// Tokens longer than this are refused before any decoding.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// What a tenant accepts from its issuer(s).
#[derive(Debug, Clone)]
pub struct JwtPolicy {
    /// Exact `iss` values (Entra v1 `https://sts.windows.net/<tid>/` keeps
    /// its trailing slash). Empty: every token is refused.
    pub issuers: Vec<String>,
    /// Accepted `aud` values; the token's must intersect. Empty: every
    /// token is refused.
    pub audiences: Vec<String>,
    /// Accepted signature algorithms.
    pub algorithms: Vec<Alg>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Claims that must be present (and not null).
    pub required_claims: Vec<String>,
}

/// A JWS signature algorithm the gateway verifies (RFC 7518 §3, RFC 8037).
#[allow(clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    RS256,
    PS256,
    ES256,
    EdDSA,
}

/// Why an algorithm name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AlgError {
    #[error("the algorithm \"none\" is never accepted: tokens must be signed")]
    None,
    #[error("symmetric (HS*) algorithms are not supported: use RS256, PS256, ES256 or EdDSA")]
    Symmetric,
    #[error("unsupported algorithm: use RS256, PS256, ES256 or EdDSA")]
    Unsupported,
}

/// The verified claims of a token.
#[derive(Debug, Clone)]
pub struct Claims {
    iss: String,
    sub: Option<String>,
    aud: Vec<String>,
    exp: u64,
    raw: Map<String, Value>,
}

/// Why a token was refused. [`JwtError::reason`] is stable (metrics, logs);
/// the Display text is safe for a client: it never quotes the token or a key.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("the token is too large")]
    TooLarge,
    #[error("the token is malformed ({0})")]
    Malformed(&'static str),
    #[error("the token's algorithm is not accepted")]
    BadAlg,
    #[error("the token has a critical header extension that is not understood")]
    CritHeader,
    /// No key of the set matches the token's `kid` (or, without `kid`, none
    /// fits its algorithm). A key cache refreshes on this one.
    #[error("the token's signing key is unknown")]
    UnknownKid,
    #[error("the token names no key and several keys could verify it")]
    AmbiguousKey,
    #[error("the token's algorithm does not fit its signing key")]
    KeyMismatch,
    #[error("the token's signature is not valid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's issuer is not accepted")]
    BadIssuer,
    #[error("the token's audience is not accepted")]
    BadAudience,
    #[error("the token lacks the required claim \"{0}\"")]
    MissingClaim(String),
    #[error("the token's \"{0}\" claim is malformed")]
    BadClaim(&'static str),
    /// The issuer's keys could not be obtained: not the client's fault.
    #[error("the issuer's signing keys are unavailable")]
    KeysUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

// === impl JwtPolicy ===

impl JwtPolicy {
    /// A policy for `issuers` and `audiences` with every supported
    /// algorithm, 60 s leeway and no further required claims.
    pub fn new(issuers: Vec<String>, audiences: Vec<String>) -> JwtPolicy {
        JwtPolicy {
            issuers,
            audiences,
            algorithms: Alg::ALL.to_vec(),
            leeway: Duration::from_secs(60),
            required_claims: Vec::new(),
        }
    }
}

// === impl Alg ===

impl Alg {
    pub const ALL: [Alg; 4] = [Alg::RS256, Alg::PS256, Alg::ES256, Alg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::PS256 => "PS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }
}

impl FromStr for Alg {
    type Err = AlgError;

    /// Names are case-sensitive (RFC 7515 §4.1.1).
    fn from_str(s: &str) -> Result<Alg, AlgError> {
        match s {
            "RS256" => Ok(Alg::RS256),
            "PS256" => Ok(Alg::PS256),
            "ES256" => Ok(Alg::ES256),
            "EdDSA" => Ok(Alg::EdDSA),
            _ if s.eq_ignore_ascii_case("none") => Err(AlgError::None),
            _ if s.starts_with("HS") => Err(AlgError::Symmetric),
            _ => Err(AlgError::Unsupported),
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl Claims ===

impl Claims {
    pub fn iss(&self) -> &str {
        &self.iss
    }

    pub fn sub(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// `aud`, always as a list (RFC 7519 §4.1.3 allows a single string).
    pub fn aud(&self) -> &[String] {
        &self.aud
    }

    /// `exp` in seconds since the epoch.
    pub fn exp(&self) -> u64 {
        self.exp
    }

    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// Granted scopes, without duplicates: `scope` (space-separated,
    /// RFC 8693 §4.2), `scp` (Entra: string or array) and `roles` (Entra
    /// app roles, array).
    pub fn scopes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |s: &str| {
            if !s.is_empty() && !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        };
        for name in ["scope", "scp", "roles"] {
            match self.raw.get(name) {
                Some(Value::String(s)) => s.split_ascii_whitespace().for_each(&mut push),
                Some(Value::Array(items)) => {
                    items.iter().filter_map(Value::as_str).for_each(&mut push)
                }
                _ => {}
            }
        }
        out
    }
}

// === impl JwtError ===

impl JwtError {
    /// A stable, machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            JwtError::TooLarge => "too_large",
            JwtError::Malformed(_) => "malformed",
            JwtError::BadAlg => "bad_alg",
            JwtError::CritHeader => "crit_header",
            JwtError::UnknownKid => "unknown_kid",
            JwtError::AmbiguousKey => "ambiguous_key",
            JwtError::KeyMismatch => "key_mismatch",
            JwtError::BadSignature => "bad_signature",
            JwtError::Expired => "expired",
            JwtError::NotYetValid => "not_yet_valid",
            JwtError::BadIssuer => "bad_issuer",
            JwtError::BadAudience => "bad_audience",
            JwtError::MissingClaim(_) => "missing_claim",
            JwtError::BadClaim(_) => "bad_claim",
            JwtError::KeysUnavailable(_) => "keys_unavailable",
        }
    }

    /// Whether the token is at fault (401), rather than the gateway's
    /// access to the issuer's keys (503).
    pub fn is_client_error(&self) -> bool {
        !matches!(self, JwtError::KeysUnavailable(_))
    }
}

/// Verifies `token` against `keys` and `policy` at time `now`, and returns
/// its claims. The signature is checked before the payload is parsed.
pub fn verify(
    token: &str,
    policy: &JwtPolicy,
    keys: &KeySet,
    now: SystemTime,
) -> Result<Claims, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::TooLarge);
    }
    // RFC 7515 §7.1: three base64url parts (five would be a JWE).
    let not_jws = || JwtError::Malformed("not a compact JWS");
    let (signing_input, sig_b64) = token.rsplit_once('.').ok_or_else(not_jws)?;
    let (header_b64, payload_b64) = signing_input.split_once('.').ok_or_else(not_jws)?;
    if payload_b64.contains('.') {
        return Err(not_jws());
    }
    let header = decode_object(header_b64).ok_or(JwtError::Malformed("header"))?;
    let alg = match header.get("alg") {
        Some(Value::String(name)) => name.parse::<Alg>().map_err(|_| JwtError::BadAlg)?,
        _ => return Err(JwtError::Malformed("header")),
    };
    if !policy.algorithms.contains(&alg) {
        return Err(JwtError::BadAlg);
    }
    if header.contains_key("crit") {
        return Err(JwtError::CritHeader);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Err(JwtError::Malformed("header")),
    };
    let key = select_key(keys, kid, alg)?;
    let signature = URL_SAFE_NO_PAD
        .decode(sig_b64)
        .map_err(|_| JwtError::Malformed("signature"))?;
    // The signing input is the encoded header and payload (RFC 7515 §5.2).
    verify_signature(alg, key, signing_input.as_bytes(), &signature)?;
    let payload = decode_object(payload_b64).ok_or(JwtError::Malformed("payload"))?;
    check_claims(payload, policy, now)
}

/// The key for `kid` that accepts `alg`; without `kid`, the only key of
/// the set that accepts `alg`.
fn select_key<'k>(keys: &'k KeySet, kid: Option<&str>, alg: Alg) -> Result<&'k Jwk, JwtError> {
    match kid {
        Some(kid) => {
            let mut named = keys
                .keys()
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .peekable();
            if named.peek().is_none() {
                return Err(JwtError::UnknownKid);
            }
            named.find(|k| k.accepts(alg)).ok_or(JwtError::KeyMismatch)
        }
        None => {
            let mut fitting = keys.keys().iter().filter(|k| k.accepts(alg));
            match (fitting.next(), fitting.next()) {
                (Some(key), None) => Ok(key),
                (Some(_), Some(_)) => Err(JwtError::AmbiguousKey),
                (None, _) => Err(JwtError::UnknownKid),
            }
        }
    }
}

fn verify_signature(alg: Alg, key: &Jwk, signed: &[u8], sig: &[u8]) -> Result<(), JwtError> {
    let result = match (alg, &key.material) {
        (Alg::RS256, KeyMaterial::Rsa { n, e }) => RsaPublicKeyComponents { n, e }.verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            signed,
            sig,
        ),
        (Alg::PS256, KeyMaterial::Rsa { n, e }) => RsaPublicKeyComponents { n, e }.verify(
            &signature::RSA_PSS_2048_8192_SHA256,
            signed,
            sig,
        ),
        // JWS carries ECDSA signatures as fixed-width r || s (RFC 7518 §3.4).
        (Alg::ES256, KeyMaterial::EcP256 { point }) => {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(signed, sig)
        }
        (Alg::EdDSA, KeyMaterial::Ed25519 { x }) => {
            UnparsedPublicKey::new(&signature::ED25519, x).verify(signed, sig)
        }
        _ => return Err(JwtError::KeyMismatch),
    };
    result.map_err(|_| JwtError::BadSignature)
}

fn check_claims(
    raw: Map<String, Value>,
    policy: &JwtPolicy,
    now: SystemTime,
) -> Result<Claims, JwtError> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let leeway = policy.leeway.as_secs();
    // RFC 7519 §4.1.4: the current time must be before `exp`.
    let exp = numeric_date(&raw, "exp")?.ok_or_else(|| missing("exp"))?;
    if now >= exp.saturating_add(leeway) {
        return Err(JwtError::Expired);
    }
    // RFC 7519 §4.1.5: not before `nbf`; a token issued in the future is
    // refused the same way.
    for name in ["nbf", "iat"] {
        if let Some(t) = numeric_date(&raw, name)? {
            if now.saturating_add(leeway) < t {
                return Err(JwtError::NotYetValid);
            }
        }
    }
    let iss = match raw.get("iss") {
        None | Some(Value::Null) => return Err(missing("iss")),
        Some(Value::String(iss)) => iss.clone(),
        Some(_) => return Err(JwtError::BadClaim("iss")),
    };
    if !policy.issuers.contains(&iss) {
        return Err(JwtError::BadIssuer);
    }
    let aud = match raw.get("aud") {
        None | Some(Value::Null) => return Err(missing("aud")),
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or(JwtError::BadClaim("aud"))?,
        Some(_) => return Err(JwtError::BadClaim("aud")),
    };
    if !aud.iter().any(|a| policy.audiences.contains(a)) {
        return Err(JwtError::BadAudience);
    }
    let sub = match raw.get("sub") {
        None | Some(Value::Null) => None,
        Some(Value::String(sub)) => Some(sub.clone()),
        Some(_) => return Err(JwtError::BadClaim("sub")),
    };
    for name in &policy.required_claims {
        match raw.get(name) {
            Some(v) if !v.is_null() => {}
            _ => return Err(JwtError::MissingClaim(name.clone())),
        }
    }
    Ok(Claims {
        iss,
        sub,
        aud,
        exp,
        raw,
    })
}

/// A NumericDate claim (RFC 7519 §2): seconds since the epoch, possibly
/// fractional; truncated to whole seconds.
fn numeric_date(raw: &Map<String, Value>, name: &'static str) -> Result<Option<u64>, JwtError> {
    match raw.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(secs), _) => Ok(Some(secs)),
            (None, Some(f)) if f.is_finite() && f >= 0.0 && f < u64::MAX as f64 => {
                Ok(Some(f as u64))
            }
            _ => Err(JwtError::BadClaim(name)),
        },
        Some(_) => Err(JwtError::BadClaim(name)),
    }
}

fn missing(name: &str) -> JwtError {
    JwtError::MissingClaim(name.to_string())
}

/// A base64url (no padding, RFC 7515 §2) JSON object.
fn decode_object(b64: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(b64).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod test_keys;
