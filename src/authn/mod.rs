//! Authentication: turns a request's credentials into a [`Principal`] for
//! its tenant, or a 401 with `WWW-Authenticate` (RFC 6750 §3).
//!
//! Methods are tried per tenant in a fixed order. Today: static bearer
//! tokens stored as SHA-256 hashes ([`static_token`]). mTLS identities
//! and OAuth 2.0 (JWT, introspection) slot in beside it as further
//! methods returning the same `Principal`.
pub mod introspect;
pub mod jwk;
pub mod jwks;
pub mod jwt;
pub mod static_token;

use crate::error::GatewayError;
use crate::snapshot::{Tenant, TenantId};
use http::header::AUTHORIZATION;
use http::HeaderMap;
use std::fmt;

/// Who made a request. Carries no secret: safe for logs, metrics, limits
/// and audit records.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub method: AuthMethod,
    /// The authenticated subject (for a static token: its name).
    pub subject: String,
    /// The name of the credential that matched (for rotation and logs).
    pub credential: String,
    /// Granted scopes (empty for static tokens: full access).
    pub scopes: Vec<String>,
}

/// How a principal authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    StaticToken,
}

/// Authenticates a request for `tenant`.
pub fn authenticate(tenant: &Tenant, headers: &HeaderMap) -> Result<Principal, GatewayError> {
    let token = bearer_token(headers).map_err(|reason| {
        let detail = match reason {
            "missing_token" => "a bearer token is required (Authorization: Bearer <token>)",
            _ => "the Authorization header must be \"Bearer <token>\"",
        };
        unauthorized(tenant, detail, reason)
    })?;
    match static_token::verify(&tenant.tokens, token) {
        Some(name) => Ok(Principal {
            tenant: tenant.id.clone(),
            method: AuthMethod::StaticToken,
            subject: name.to_string(),
            credential: name.to_string(),
            scopes: Vec::new(),
        }),
        None => Err(unauthorized(
            tenant,
            "the bearer token is not valid for this tenant",
            "invalid_token",
        )),
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive,
/// RFC 7235 §2.1), or the reason it is missing or malformed.
fn bearer_token(headers: &HeaderMap) -> Result<&str, &'static str> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or("missing_token")?;
    if values.next().is_some() {
        return Err("malformed_authorization");
    }
    let value = value.to_str().map_err(|_| "malformed_authorization")?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or("malformed_authorization")?;
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err("malformed_authorization");
    }
    let token = token.trim();
    // RFC 6750 §2.1 b64token characters.
    let ok = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b));
    if ok {
        Ok(token)
    } else {
        Err("malformed_authorization")
    }
}

fn unauthorized(tenant: &Tenant, detail: &str, reason: &'static str) -> GatewayError {
    let challenge = if reason == "missing_token" {
        // RFC 6750 §3.1: no error code when no credentials were sent.
        format!("Bearer realm=\"{}\"", tenant.id)
    } else {
        format!("Bearer realm=\"{}\", error=\"invalid_token\"", tenant.id)
    };
    GatewayError::unauthorized(detail, reason, challenge)
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("tenant", &self.tenant)
            .field("method", &self.method)
            .field("subject", &self.subject)
            .field("credential", &self.credential)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::StaticToken => "static_token",
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
