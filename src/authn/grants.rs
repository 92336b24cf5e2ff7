//! Authorization: what an authenticated principal may do, from the
//! tenant's `[[tenants.grants]]`.
//!
//! A grant applies to a principal that has one of its scopes, one of the
//! values of its claim, or is one of its credentials (named with the
//! authentication method: a JWT's client id is no static token's name,
//! [`CredentialName`]); which grants apply is
//! decided once, at authentication ([`Grants::applying`]), and carried in
//! the principal as a bit set. Each request then needs one applying grant
//! that covers its resource type and method. A tenant without grants lets
//! every authenticated principal do everything. Discovery (`GET` of
//! `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`) is open to every
//! authenticated principal.
//!
//! Part of the authentication stage (the grants are a tenant's
//! [`super::TenantAuth`], decided at authentication); the check itself,
//! [`authorize`], runs after it in the pipeline. Depends on the sibling
//! [`super::principal`], `error` and `scim::route`.
use super::principal::{AuthMethod, Principal};
use crate::error::{GatewayError, Reason};
use crate::scim::route::{Route, RouteKind};
use http::Method;
use serde_json::{Map, Value};

/// At most this many grants per tenant (they are a bit set).
pub(crate) const MAX_GRANTS: usize = 64;

/// A tenant's grants.
#[derive(Debug, Default, Clone)]
pub struct Grants(Vec<Grant>);

/// One grant.
#[derive(Debug, Clone)]
pub struct Grant {
    pub scopes: Vec<String>,
    /// A claim and the values of it that qualify.
    pub claim: Option<(String, Vec<String>)>,
    pub credentials: Vec<CredentialName>,
    /// `None` = every resource type.
    pub resources: Option<Vec<String>>,
    pub methods: Methods,
}

/// A credential a grant names: how the client authenticated and the name
/// that method gives it. Names are only unique within a method (a JWT's
/// client id is chosen at the issuer and may equal a static token's name),
/// so a grant never matches a name across methods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialName {
    pub method: AuthMethod,
    pub name: String,
}

/// A set of request kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Methods(u8);

/// Which grants apply to a principal (bit `i` = grant `i`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applying(pub u64);

/// What a principal offers to qualify for grants.
#[derive(Debug, Clone, Copy)]
pub struct Qualities<'a> {
    pub scopes: &'a [String],
    pub claims: Option<&'a Map<String, Value>>,
    /// How the principal authenticated: `credential` is that method's name.
    pub method: AuthMethod,
    pub credential: &'a str,
}

// === impl CredentialName ===

impl CredentialName {
    /// The prefix of each method in `credentials = [...]`.
    const PREFIXES: [(&'static str, AuthMethod); 4] = [
        ("static", AuthMethod::StaticToken),
        ("jwt", AuthMethod::Jwt),
        ("introspection", AuthMethod::Introspection),
        ("cert", AuthMethod::ClientCertificate),
    ];

    /// Parses `static:NAME` (a static token's `name`), `jwt:CLIENT_ID` and
    /// `introspection:CLIENT_ID` (the token's OAuth client), or
    /// `cert:SUBJECT` (a certificate subject DN, `cert:CN=okta,O=Acme`).
    /// A name without a method is refused, with the spellings to choose
    /// from: matching it for every method is what let a JWT client named
    /// like a static token inherit its grants.
    pub fn parse(text: &str) -> Result<CredentialName, String> {
        let Some((prefix, name)) = text.split_once(':') else {
            let choices: Vec<String> = Self::PREFIXES
                .iter()
                .map(|(p, _)| format!("\"{p}:{text}\""))
                .collect();
            return Err(format!(
                "\"{text}\" does not say how the client authenticates (a JWT's client id may equal a static token's name); write one of {}",
                choices.join(", ")
            ));
        };
        let Some((_, method)) = Self::PREFIXES.iter().find(|(p, _)| *p == prefix) else {
            return Err(format!(
                "\"{text}\": \"{prefix}\" is not an authentication method; write static:NAME, jwt:CLIENT_ID, introspection:CLIENT_ID or cert:SUBJECT"
            ));
        };
        if name.is_empty() {
            return Err(format!(
                "\"{text}\" names no credential after \"{prefix}:\""
            ));
        }
        Ok(CredentialName {
            method: *method,
            name: name.to_string(),
        })
    }
}

impl Methods {
    pub const GET: Methods = Methods(1);
    pub const HEAD: Methods = Methods(1 << 1);
    /// `POST` to `/.search`.
    pub const SEARCH: Methods = Methods(1 << 2);
    pub const POST: Methods = Methods(1 << 3);
    pub const PUT: Methods = Methods(1 << 4);
    pub const PATCH: Methods = Methods(1 << 5);
    pub const DELETE: Methods = Methods(1 << 6);
    pub const READ: Methods = Methods(1 | (1 << 1) | (1 << 2));
    pub const WRITE: Methods = Methods((1 << 3) | (1 << 4) | (1 << 5) | (1 << 6));
    pub const ALL: Methods = Methods(0x7f);

    /// `GET`, `read`, `write`, `*`, ... (case-insensitive).
    pub fn parse(name: &str) -> Option<Methods> {
        Some(match name.to_ascii_uppercase().as_str() {
            "GET" => Methods::GET,
            "HEAD" => Methods::HEAD,
            "SEARCH" => Methods::SEARCH,
            "POST" => Methods::POST,
            "PUT" => Methods::PUT,
            "PATCH" => Methods::PATCH,
            "DELETE" => Methods::DELETE,
            "READ" => Methods::READ,
            "WRITE" => Methods::WRITE,
            "*" => Methods::ALL,
            _ => return None,
        })
    }

    pub fn union(self, other: Methods) -> Methods {
        Methods(self.0 | other.0)
    }

    fn contains(self, other: Methods) -> bool {
        other.0 != 0 && self.0 & other.0 == other.0
    }
}

impl Grants {
    pub fn new(grants: Vec<Grant>) -> Grants {
        Grants(grants)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The grants that apply to a principal with these qualities.
    pub fn applying(&self, q: Qualities<'_>) -> Applying {
        let mut bits = 0u64;
        for (i, g) in self.0.iter().enumerate().take(MAX_GRANTS) {
            if g.applies(q) {
                bits |= 1 << i;
            }
        }
        Applying(bits)
    }
}

impl Grant {
    fn applies(&self, q: Qualities<'_>) -> bool {
        if self.scopes.iter().any(|s| q.scopes.contains(s)) {
            return true;
        }
        if self
            .credentials
            .iter()
            .any(|c| c.method == q.method && c.name == q.credential)
        {
            return true;
        }
        let Some((claim, values)) = &self.claim else {
            return false;
        };
        match q.claims.and_then(|c| c.get(claim)) {
            Some(Value::String(s)) => values.contains(s),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .any(|s| values.iter().any(|v| v == s)),
            Some(Value::Bool(b)) => values.iter().any(|v| v == &b.to_string()),
            _ => false,
        }
    }

    fn covers(&self, resource: &str, kind: Methods) -> bool {
        self.methods.contains(kind)
            && self
                .resources
                .as_ref()
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| n.eq_ignore_ascii_case(resource)))
    }
}

/// Checks that `principal` may send `method` to `route` (the request's
/// one parsed target). 403 with `insufficient_scope` (RFC 6750 §3.1)
/// otherwise.
pub(crate) fn authorize(
    grants: &Grants,
    principal: &Principal,
    method: &Method,
    route: &Route,
) -> Result<(), GatewayError> {
    if grants.is_empty() {
        return Ok(());
    }
    let discovery = matches!(route.kind(), RouteKind::Discovery(_));
    if discovery && (*method == Method::GET || *method == Method::HEAD) {
        return Ok(());
    }
    let kind = if route.is_search(method) {
        Methods::SEARCH
    } else {
        match *method {
            Method::GET => Methods::GET,
            Method::HEAD => Methods::HEAD,
            Method::POST => Methods::POST,
            Method::PUT => Methods::PUT,
            Method::PATCH => Methods::PATCH,
            Method::DELETE => Methods::DELETE,
            _ => Methods(0),
        }
    };
    // A search at the root (whatever the method) spans every resource
    // type: only a grant for all of them covers it. Otherwise the
    // route's first segment, in its canonical spelling.
    let resource = match route.kind() {
        RouteKind::RootSearch => "*",
        _ => route.first_segment().unwrap_or(""),
    };
    let allowed = grants.0.iter().enumerate().any(|(i, g)| {
        i < MAX_GRANTS
            && principal.grants.0 & (1 << i) != 0
            && (if resource == "*" {
                g.resources.is_none() && g.methods.contains(kind)
            } else {
                g.covers(resource, kind)
            })
    });
    if allowed {
        return Ok(());
    }
    let what = if resource.is_empty() { "/" } else { resource };
    Err(GatewayError::forbidden(
        &format!(
            "this credential may not {method} {what}; none of its grants covers it",
            method = method.as_str()
        ),
        Reason::InsufficientScope,
        format!(
            "Bearer realm=\"{}\", error=\"insufficient_scope\"",
            principal.tenant
        ),
    ))
}

#[cfg(test)]
#[path = "grants_tests.rs"]
mod tests;
