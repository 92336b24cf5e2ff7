//! Static bearer tokens, stored only as SHA-256 hashes (`sha256:<hex>`).
//! Tokens are high-entropy random strings (`scim-gateway hash-token
//! --generate`), so a fast hash is right here; it would be wrong for
//! passwords.
//!
//! Owns [`StaticToken`] (a tenant's accepted token, compiled by `config`)
//! and its check. Depends on no other module of the crate.
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// An accepted static bearer token: a name for logs and the SHA-256 of the
/// token.
#[derive(Clone)]
pub struct StaticToken {
    pub name: String,
    pub sha256: [u8; 32],
    /// Scopes for `[[tenants.grants]]`.
    pub scopes: Vec<String>,
}

/// The SHA-256 of a token.
pub(crate) fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The `sha256:<hex>` form stored in config.
pub fn hash_token_hex(token: &str) -> String {
    let digest = hash_token(token);
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The accepted token that `presented` matches. Every stored hash is
/// compared in constant time, and all of them are compared, so the timing
/// tells neither how close a guess was nor which token matched.
pub fn verify<'t>(accepted: &'t [StaticToken], presented: &str) -> Option<&'t StaticToken> {
    let digest = hash_token(presented);
    let mut found = None;
    for t in accepted {
        if bool::from(t.sha256.ct_eq(&digest)) && found.is_none() {
            found = Some(t);
        }
    }
    found
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticToken")
            .field("name", &self.name)
            .field("sha256", &"<redacted>")
            .finish()
    }
}
