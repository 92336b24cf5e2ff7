//! Who made a request: the [`Principal`] every authentication method
//! returns, and [`AuthMethod`], how it authenticated. Read by the stages
//! after authentication (grants, limits, audit records, access log).
//!
//! Depends on `tenant_id` and on the sibling [`super::grants`] (which
//! grants apply is decided once, at authentication, and carried here).
use super::grants::Applying;
use crate::tenant_id::TenantId;
use std::fmt;

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
