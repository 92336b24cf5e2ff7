//! Authentication: turns a request's credentials into a [`Principal`] for
//! its tenant, or a 401 with `WWW-Authenticate` (RFC 6750 §3).
//!
//! Methods are tried per tenant in a fixed order: static bearer tokens
//! stored as SHA-256 hashes ([`static_token`]), OAuth 2.0 JWTs checked
//! against the issuer's keys ([`jwt`], [`jwks`]), and opaque tokens
//! checked by introspection ([`introspect`]). Each returns the same
//! [`Principal`].
pub mod damping;
pub mod introspect;
pub mod jwk;
pub mod jwks;
pub mod jwt;
pub mod static_token;

use crate::authz::{Applying, Qualities};
use crate::conn_info::ConnInfo;
use crate::error::GatewayError;
use crate::snapshot::{Tenant, TenantId, TenantMtls};
use crate::tls::{CertError, ClientIdentity};
use http::header::AUTHORIZATION;
use http::HeaderMap;
use rustls::pki_types::UnixTime;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// Who made a request. Carries no secret: safe for logs, metrics, limits
/// and audit records.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub method: AuthMethod,
    /// The authenticated subject (a static token's name, a JWT's subject
    /// claim, an introspected `sub` or `username`).
    pub subject: String,
    /// The name of the credential that matched: a static token's name, the
    /// OAuth client (`azp`, `appid`, `client_id`) of a token.
    pub credential: String,
    /// Granted scopes (JWT `scope`/`scp`/`roles`, introspection `scope`,
    /// a static token's configured scopes).
    pub scopes: Vec<String>,
    /// Which of the tenant's grants apply.
    pub grants: Applying,
    /// The verified token's issuer (`iss` of a JWT or an introspection
    /// answer): evidence for `[tenants.dialect] profile = "auto"`.
    pub issuer: Option<String>,
}

/// How a principal authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    StaticToken,
    Jwt,
    Introspection,
    ClientCertificate,
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

/// Authenticates a request for `tenant`: a static token (checked first:
/// one hash), else a JWT when the tenant accepts them and the token has
/// the JWS compact shape, else introspection when configured.
pub async fn authenticate(
    tenant: &Tenant,
    headers: &HeaderMap,
    conn: &ConnInfo,
    reach: Reach,
) -> Result<Principal, GatewayError> {
    // A tenant with mTLS checks the client certificate first (its chain
    // was verified at the handshake for the tenant's own host names; here
    // it is verified against this tenant's policy once per connection, which
    // also covers tenants reached by path on a shared host).
    if let Some(mtls) = &tenant.mtls {
        let identity = client_certificate(tenant, mtls, conn)?;
        let bearer_configured =
            !tenant.tokens.is_empty() || tenant.jwt.is_some() || tenant.introspection.is_some();
        match identity {
            Some(id) if !bearer_configured => {
                return Ok(principal(
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
                    "no_certificate",
                    "this tenant requires a client certificate",
                ))
            }
            // Both configured: the bearer token names the principal.
            _ => {}
        }
    }
    let token = bearer_token(headers).map_err(|reason| {
        let detail = match reason {
            "missing_token" => "a bearer token is required (Authorization: Bearer <token>)",
            _ => "the Authorization header must be \"Bearer <token>\"",
        };
        unauthorized(tenant, detail, reason)
    })?;
    if let Some(t) = static_token::verify(&tenant.tokens, token) {
        return Ok(principal(
            tenant,
            AuthMethod::StaticToken,
            t.name.clone(),
            t.name.clone(),
            t.scopes.clone(),
            None,
        ));
    }
    let jws_shaped = token.bytes().filter(|&b| b == b'.').count() == 2;
    if let (Some(jwt), true) = (&tenant.jwt, jws_shaped) {
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
                "jwks_unavailable",
                30,
            )
            .with_cause(e)),
        };
    }
    if let Some(introspector) = &tenant.introspection {
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
                "invalid_token",
            )
            .with_cause(e.reason())),
            Err(e) => Err(GatewayError::unavailable(
                "the token could not be checked; try again later",
                "introspection_unavailable",
                5,
            )
            .with_cause(e)),
        };
    }
    Err(unauthorized(
        tenant,
        "the bearer token is not valid for this tenant",
        "invalid_token",
    ))
}

/// The verified identity of the connection's client certificate for this
/// tenant; `None` when none was sent and none is required.
fn client_certificate(
    tenant: &Tenant,
    mtls: &TenantMtls,
    conn: &ConnInfo,
) -> Result<Option<ClientIdentity>, GatewayError> {
    let Some(chain) = &conn.peer_certificates else {
        return if mtls.required {
            Err(cert_refused(
                "no_certificate",
                &format!(
                    "tenant \"{}\" requires a client certificate from its own CA",
                    tenant.id
                ),
            ))
        } else {
            Ok(None)
        };
    };
    conn.cert_checks
        .get_or(mtls.policy.generation(), || {
            mtls.policy.verify(chain, UnixTime::now()).map_err(|e| {
                if let CertError::CrlExpired(_) = e {
                    // The operator's to fix, not the client's: say so.
                    tracing::warn!(
                        tenant = tenant.id.as_str(),
                        "client certificate refused: the tenant's CRL for its issuer is past its nextUpdate; publish a fresh CRL and reload (or set crl_expired = \"allow\")"
                    );
                }
                (e.reason(), e.to_string())
            })
        })
        .map(Some)
        .map_err(|(reason, detail)| cert_refused(reason, &detail))
}

/// 403: the client certificate is not one this tenant accepts.
fn cert_refused(reason: &str, detail: &str) -> GatewayError {
    let label = match reason {
        "no_certificate" => "client_certificate_missing",
        "untrusted" => "client_certificate_untrusted",
        "expired" => "client_certificate_expired",
        "revoked" => "client_certificate_revoked",
        "crl_expired" => "client_certificate_crl_expired",
        "not_pinned" => "client_certificate_not_pinned",
        _ => "client_certificate_invalid",
    };
    GatewayError::client_reason(
        crate::scim::error::ScimError::new(
            403,
            None,
            format!("the client certificate was refused: {detail}"),
        ),
        label,
    )
}

fn principal(
    tenant: &Tenant,
    method: AuthMethod,
    subject: String,
    credential: String,
    scopes: Vec<String>,
    claims: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Principal {
    let grants = tenant.grants.applying(Qualities {
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
        tenant: tenant.id.clone(),
        method,
        subject,
        credential,
        scopes,
        grants,
        issuer,
    }
}

/// The metric reason of a refused JWT.
fn jwt_reason(e: &jwt::JwtError) -> &'static str {
    match e.reason() {
        "expired" => "token_expired",
        "bad_issuer" | "bad_audience" => "token_wrong_audience",
        "bad_signature" | "key_mismatch" | "unknown_kid" | "ambiguous_key" => "token_signature",
        "bad_alg" => "token_algorithm",
        _ => "invalid_token",
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

/// 401 for a token [`Reach::Local`] cannot check (introspection not
/// cached).
fn not_checked(tenant: &Tenant) -> GatewayError {
    unauthorized(
        tenant,
        "the bearer token could not be checked for this client now; try again later",
        "not_checked",
    )
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
            .field("grants", &self.grants)
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::StaticToken => "static_token",
            AuthMethod::Jwt => "jwt",
            AuthMethod::Introspection => "introspection",
            AuthMethod::ClientCertificate => "client_certificate",
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
