//! Authentication: turns a request's credentials into a [`Principal`] for
//! its tenant, or a 401 with `WWW-Authenticate` (RFC 6750 §3).
//!
//! Methods are tried per tenant in a fixed order: a client certificate
//! from the tenant's own CAs ([`mtls`]), static bearer tokens stored as
//! SHA-256 hashes ([`static_token`]), OAuth 2.0 JWTs checked against the
//! issuer's keys ([`jwt`], [`jwks`]), and opaque tokens checked by
//! introspection ([`introspect`]). Each returns the same [`Principal`]
//! ([`principal`]), carrying which of the tenant's [`grants`] apply.
//!
//! The stage owns its settings: a tenant's [`TenantAuth`], compiled by
//! `config` and held by the tenant. It depends only on ground and low
//! modules (`tenant_id`, `secret`, `error`, `scim::error`, `tls`,
//! `conn_info`, `http_client`), never on the snapshot, the server or the
//! upstream.
pub(crate) mod damping;
pub(crate) mod grants;
pub(crate) mod introspect;
pub mod jwk;
pub(crate) mod jwks;
pub mod jwt;
pub(crate) mod mtls;
pub(crate) mod principal;
pub mod static_token;

pub(crate) use mtls::TenantMtls;
pub(crate) use principal::{AuthMethod, Principal};
pub use static_token::StaticToken;

use crate::conn_info::ConnInfo;
use crate::error::{GatewayError, Reason};
use crate::tenant_id::TenantId;
use grants::{Grants, Qualities};
use http::header::AUTHORIZATION;
use http::HeaderMap;
use mtls::{cert_refused, client_certificate};
use std::sync::Arc;
use std::time::SystemTime;

/// How a tenant's clients authenticate, and what they may do once they
/// have: everything `[tenants]` configures for this stage.
#[derive(Debug, Default)]
pub struct TenantAuth {
    /// Accepted static bearer tokens, stored only as SHA-256 hashes.
    pub tokens: Vec<StaticToken>,
    /// OAuth 2.0 JWTs accepted, if any.
    pub jwt: Option<JwtAuth>,
    /// Opaque tokens checked by introspection, if configured.
    pub introspection: Option<introspect::Introspector>,
    /// Client certificates from the tenant's own CAs, if configured.
    pub mtls: Option<TenantMtls>,
    /// What principals may do (empty: everything).
    pub grants: Grants,
}

/// A tenant's JWT settings: the policy and the issuer's key cache.
#[derive(Debug)]
pub struct JwtAuth {
    pub policy: jwt::JwtPolicy,
    pub keys: Arc<jwks::JwksCache>,
    /// The claim naming the subject (default `sub`).
    pub subject_claim: String,
}

/// How far authentication may go to check a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Every configured method, with the remote calls they make (an
    /// issuer's keys fetched, a token introspected).
    Full,
    /// No remote call on the client's account: client certificates,
    /// static tokens and JWTs are checked as usual (locally; the issuer's
    /// keys are refreshed only on their own schedule, once per `ttl`
    /// whoever asks: an unknown `kid` is refused, not a reason to fetch),
    /// introspection answers only from the cache (a token not cached is
    /// refused, 401 `not_checked`, without asking the endpoint). For
    /// clients the failure damper holds ([`damping`]): a credential that
    /// verifies still gets in, but guesses cannot make the gateway call
    /// anyone.
    Local,
}

/// Authenticates a request for tenant `tenant` with its settings `auth`:
/// a static token (checked first: one hash), else a JWT when the tenant
/// accepts them and the token has the JWS compact shape, else
/// introspection when configured.
pub(crate) async fn authenticate(
    auth: &TenantAuth,
    tenant: &TenantId,
    headers: &HeaderMap,
    conn: &ConnInfo,
    reach: Reach,
) -> Result<Principal, GatewayError> {
    // A tenant with mTLS checks the client certificate first (its chain
    // was verified at the handshake for the tenant's own host names; here
    // it is verified against this tenant's policy once per connection, which
    // also covers tenants reached by path on a shared host).
    if let Some(mtls) = &auth.mtls {
        let identity = client_certificate(tenant, mtls, conn)?;
        let bearer_configured =
            !auth.tokens.is_empty() || auth.jwt.is_some() || auth.introspection.is_some();
        match identity {
            Some(id) if !bearer_configured => {
                return Ok(principal(
                    auth,
                    tenant,
                    AuthMethod::ClientCertificate,
                    id.subject.clone(),
                    id.subject,
                    Vec::new(),
                    None,
                ))
            }
            None if !bearer_configured => {
                return Err(cert_refused(
                    crate::tls::CertReason::NoCertificate,
                    "this tenant requires a client certificate",
                ))
            }
            // Both configured: the bearer token names the principal.
            _ => {}
        }
    }
    let token = bearer_token(headers).map_err(|reason| {
        let detail = match reason {
            Reason::MissingToken => "a bearer token is required (Authorization: Bearer <token>)",
            _ => "the Authorization header must be \"Bearer <token>\"",
        };
        unauthorized(tenant, detail, reason)
    })?;
    if let Some(t) = static_token::verify(&auth.tokens, token) {
        return Ok(principal(
            auth,
            tenant,
            AuthMethod::StaticToken,
            t.name.clone(),
            t.name.clone(),
            t.scopes.clone(),
            None,
        ));
    }
    let jws_shaped = token.bytes().filter(|&b| b == b'.').count() == 2;
    if let (Some(jwt), true) = (&auth.jwt, jws_shaped) {
        let now = SystemTime::now();
        // Boxed: the key cache's refresh is a large, rare state; it must
        // not weigh on every request's future.
        let verified = match reach {
            Reach::Full => Box::pin(jwt.keys.verify(token, &jwt.policy, now)).await,
            Reach::Local => Box::pin(jwt.keys.verify_known_keys(token, &jwt.policy, now)).await,
        };
        return match verified {
            Ok(claims) => {
                let subject = claims
                    .raw()
                    .get(&jwt.subject_claim)
                    .and_then(|v| v.as_str())
                    .or(claims.sub())
                    .unwrap_or("-")
                    .to_string();
                let credential = ["azp", "appid", "client_id", "cid"]
                    .iter()
                    .find_map(|c| claims.raw().get(*c).and_then(|v| v.as_str()))
                    .unwrap_or("jwt")
                    .to_string();
                Ok(principal(
                    auth,
                    tenant,
                    AuthMethod::Jwt,
                    subject,
                    credential,
                    claims.scopes(),
                    Some(claims.raw()),
                ))
            }
            Err(e) if e.is_client_error() => Err(unauthorized(
                tenant,
                &format!("the bearer token was refused: {e}"),
                jwt_reason(&e),
            )),
            Err(e) => Err(GatewayError::unavailable(
                "the token issuer's keys are unavailable; try again later",
                Reason::JwksUnavailable,
                30,
            )
            .with_cause(e)),
        };
    }
    if let Some(introspector) = &auth.introspection {
        let introspected = match reach {
            Reach::Full => Box::pin(introspector.introspect(token)).await,
            Reach::Local => introspector
                .introspect_cached(token)
                .ok_or_else(|| not_checked(tenant))?,
        };
        return match introspected {
            Ok(info) => {
                let subject = info
                    .sub()
                    .or(info.username())
                    .or(info.client_id())
                    .unwrap_or("-")
                    .to_string();
                let credential = info.client_id().unwrap_or("introspected").to_string();
                let scopes = info.scopes().map(str::to_string).collect();
                Ok(principal(
                    auth,
                    tenant,
                    AuthMethod::Introspection,
                    subject,
                    credential,
                    scopes,
                    None,
                ))
            }
            Err(e) if e.is_invalid_token() => Err(unauthorized(
                tenant,
                "the bearer token is not active for this tenant",
                Reason::InvalidToken,
            )
            .with_cause(e.reason())),
            Err(e) => Err(GatewayError::unavailable(
                "the token could not be checked; try again later",
                Reason::IntrospectionUnavailable,
                5,
            )
            .with_cause(e)),
        };
    }
    Err(unauthorized(
        tenant,
        "the bearer token is not valid for this tenant",
        Reason::InvalidToken,
    ))
}

fn principal(
    auth: &TenantAuth,
    tenant: &TenantId,
    method: AuthMethod,
    subject: String,
    credential: String,
    scopes: Vec<String>,
    claims: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Principal {
    let grants = auth.grants.applying(Qualities {
        scopes: &scopes,
        claims,
        method,
        credential: &credential,
    });
    let issuer = claims
        .and_then(|c| c.get("iss"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_string);
    Principal {
        tenant: tenant.clone(),
        method,
        subject,
        credential,
        scopes,
        grants,
        issuer,
    }
}

/// The metric reason of a refused JWT.
fn jwt_reason(e: &jwt::JwtError) -> Reason {
    use jwt::JwtError as E;
    match e {
        E::Expired => Reason::TokenExpired,
        E::BadIssuer | E::BadAudience => Reason::TokenWrongAudience,
        E::BadSignature | E::KeyMismatch | E::UnknownKid | E::AmbiguousKey => {
            Reason::TokenSignature
        }
        E::BadAlg => Reason::TokenAlgorithm,
        E::TooLarge
        | E::Malformed(_)
        | E::CritHeader
        | E::NotYetValid
        | E::MissingClaim(_)
        | E::BadClaim(_)
        | E::KeysUnavailable(_) => Reason::InvalidToken,
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive,
/// RFC 7235 §2.1), or the reason it is missing or malformed.
fn bearer_token(headers: &HeaderMap) -> Result<&str, Reason> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(Reason::MissingToken)?;
    if values.next().is_some() {
        return Err(Reason::MalformedAuthorization);
    }
    let value = value.to_str().map_err(|_| Reason::MalformedAuthorization)?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(Reason::MalformedAuthorization)?;
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err(Reason::MalformedAuthorization);
    }
    let token = token.trim();
    // RFC 6750 §2.1 b64token characters.
    let ok = !token.is_empty()
        && token.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
        });
    if ok {
        Ok(token)
    } else {
        Err(Reason::MalformedAuthorization)
    }
}

/// 401 for a token [`Reach::Local`] cannot check (introspection not
/// cached).
fn not_checked(tenant: &TenantId) -> GatewayError {
    unauthorized(
        tenant,
        "the bearer token could not be checked for this client now; try again later",
        Reason::NotChecked,
    )
}

fn unauthorized(tenant: &TenantId, detail: &str, reason: Reason) -> GatewayError {
    let challenge = if reason == Reason::MissingToken {
        // RFC 6750 §3.1: no error code when no credentials were sent.
        format!("Bearer realm=\"{tenant}\"")
    } else {
        format!("Bearer realm=\"{tenant}\", error=\"invalid_token\"")
    };
    GatewayError::unauthorized(detail, reason, challenge)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
