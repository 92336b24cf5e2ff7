//! Tenant resolution: which tenant a request is for, from the `Host`
//! header (checked against the TLS SNI) or from a path prefix
//! `/tenants/{id}/scim/v2/...`, and what the tenant's public SCIM base URL
//! is. A hash lookup per request, however many tenants there are.
use crate::error::GatewayError;
use crate::scim::error::ScimError;
use crate::snapshot::{strip_port, Snapshot, Tenant};
use http::header::HOST;
use http::{HeaderMap, StatusCode, Uri};
use std::sync::Arc;

/// The path prefix of path-routed tenants.
pub const TENANT_PATH_PREFIX: &str = "/tenants/";
/// A tenant's Okta Event Hook endpoint, beside (not under) its SCIM base:
/// `/hooks/okta` on its hosts, `/tenants/{id}/hooks/okta` by path.
pub const OKTA_HOOK_PATH: &str = "/hooks/okta";

/// A request matched to a tenant.
#[derive(Debug, Clone)]
pub struct Routed<'s> {
    pub tenant: &'s Arc<Tenant>,
    /// The path relative to the tenant's SCIM base, e.g. `/Users/123`
    /// (empty for the base itself).
    pub scim_path: String,
    /// The tenant's public SCIM base URL as this client reaches it, e.g.
    /// `https://acme.example:8443/scim/v2`: the base of every location the
    /// gateway returns.
    pub public_base: String,
    /// The host the client asked for (with port, as sent).
    pub host: String,
    /// The request is for the tenant's Okta Event Hook endpoint
    /// ([`OKTA_HOOK_PATH`]), not SCIM.
    pub hook: bool,
}

/// What the connection tells about the request's origin.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The SNI host name of the TLS handshake, if any.
    pub sni: Option<&'a str>,
}

/// Resolves the tenant of a request.
pub fn resolve_tenant<'s>(
    snapshot: &'s Snapshot,
    uri: &Uri,
    headers: &HeaderMap,
    origin: Origin<'_>,
) -> Result<Routed<'s>, GatewayError> {
    let host = request_host(uri, headers)?;
    let scheme = if origin.tls { "https" } else { "http" };
    let path = uri.path();
    let base_path = snapshot.server.base_path.as_str();

    if let Some(tenant) = snapshot.tenant_by_host(host) {
        // RFC 9110 §15.5.20: a request for a host this connection was not
        // set up for (SNI) is misdirected; this keeps one tenant's TLS
        // identity (and, with mTLS, its client certificate) from being
        // used for another tenant's host.
        if let Some(sni) = origin.sni {
            if !sni.eq_ignore_ascii_case(strip_port(host)) {
                return Err(misdirected(host));
            }
        }
        let hook = path == OKTA_HOOK_PATH;
        let rest = if hook {
            ""
        } else {
            strip_base(path, base_path).ok_or_else(|| {
                not_found(format!(
                    "no SCIM endpoint at \"{path}\"; this tenant's SCIM base URL is {scheme}://{host}{base_path}"
                ))
            })?
        };
        return Ok(Routed {
            tenant,
            scim_path: rest.to_string(),
            public_base: concat(&[scheme, "://", host, base_path]),
            host: host.to_string(),
            hook,
        });
    }

    if snapshot.server.path_routing {
        if let Some(after) = path.strip_prefix(TENANT_PATH_PREFIX) {
            let (id, rest) = after.split_once('/').map_or((after, ""), |(id, r)| (id, r));
            let tenant = snapshot
                .tenant(id)
                .ok_or_else(|| unknown_tenant(format!("unknown tenant \"{}\"", printable(id))))?;
            if let Some(sni) = origin.sni {
                // A host name that belongs to another tenant must not reach
                // this one by path.
                if let Some(owner) = snapshot.tenant_by_host(sni) {
                    if owner.id != tenant.id {
                        return Err(misdirected(host));
                    }
                }
            }
            let rest = format!("/{rest}");
            let hook = rest == OKTA_HOOK_PATH;
            let scim = if hook {
                ""
            } else {
                strip_base(&rest, base_path).ok_or_else(|| {
                    not_found(format!(
                        "no SCIM endpoint at \"{path}\"; this tenant's SCIM base URL is {scheme}://{host}{TENANT_PATH_PREFIX}{id}{base_path}"
                    ))
                })?
            };
            return Ok(Routed {
                tenant,
                scim_path: scim.to_string(),
                public_base: format!("{scheme}://{host}{TENANT_PATH_PREFIX}{id}{base_path}"),
                host: host.to_string(),
                hook,
            });
        }
    }
    Err(unknown_tenant(format!(
        "no tenant serves host \"{}\"",
        printable(strip_port(host))
    )))
}

/// The pieces joined (one allocation, no formatting machinery).
fn concat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// The `Host` header, or the `:authority` of an HTTP/2 request.
fn request_host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Result<&'a str, GatewayError> {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            GatewayError::client_reason(
                ScimError::bad_request("the request has no valid Host header"),
                "no_host",
            )
        })?;
    Ok(host)
}

/// `path` below `base` (`/scim/v2/Users` → `/Users`, `/scim/v2` → ``).
fn strip_base<'p>(path: &'p str, base: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// Echo client input only when it is short and plain.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

fn not_found(detail: String) -> GatewayError {
    GatewayError::client_reason(ScimError::not_found(detail), "not_found")
}

fn unknown_tenant(detail: String) -> GatewayError {
    GatewayError::client_reason(ScimError::not_found(detail), "unknown_tenant")
}

fn misdirected(host: &str) -> GatewayError {
    GatewayError::client_reason(
        ScimError::new(
            StatusCode::MISDIRECTED_REQUEST.as_u16(),
            None,
            format!(
                "this connection was not set up for host \"{}\"; open a new connection with that server name",
                printable(strip_port(host))
            ),
        ),
        "misdirected",
    )
}

#[cfg(test)]
#[path = "tenant_tests.rs"]
pub(crate) mod tests;
