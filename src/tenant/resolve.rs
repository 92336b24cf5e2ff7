//! Tenant resolution: which tenant a request is for, from the `Host`
//! header (checked against the TLS SNI) or from a path prefix
//! `/tenants/{id}/scim/v2/...`, and what the tenant's public SCIM base URL
//! is. A hash lookup per request, however many tenants there are.
//!
//! Reads the tenants and the listener's routing settings ([`Routing`],
//! which the snapshot lends), never the snapshot itself.
use super::host::{strip_port, valid_host_name};
use super::{Tenant, Tenants};
use crate::error::{GatewayError, Reason};
use crate::scim::error::ScimError;
use crate::scim::route::{check_raw_path, Route};
use http::header::HOST;
use http::{HeaderMap, StatusCode, Uri};
use std::sync::Arc;

/// The path prefix of path-routed tenants.
pub(crate) const TENANT_PATH_PREFIX: &str = "/tenants/";
/// A tenant's Okta Event Hook endpoint, beside (not under) its SCIM base:
/// `/hooks/okta` on its hosts, `/tenants/{id}/hooks/okta` by path.
pub(crate) const OKTA_HOOK_PATH: &str = "/hooks/okta";

/// A request matched to a tenant.
#[derive(Debug, Clone)]
pub(crate) struct Routed<'s> {
    pub tenant: &'s Arc<Tenant>,
    /// The request target below the tenant's SCIM base, parsed once
    /// ([`Route`]): every later stage and the upstream call read it.
    pub route: Route,
    /// The tenant's public SCIM base URL as this client reaches it, e.g.
    /// `https://acme.example:8443/scim/v2`: the base of every location the
    /// gateway returns. Built from a checked host (one of the tenant's or
    /// the listener's names) and a numeric port.
    pub public_base: String,
    /// The host the client asked for (checked; with its port, as sent).
    pub host: String,
    /// The request is for the tenant's Okta Event Hook endpoint
    /// ([`OKTA_HOOK_PATH`]), not SCIM.
    pub hook: bool,
}

/// What the connection tells about the request's origin.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The SNI host name of the TLS handshake, if any.
    pub sni: Option<&'a str>,
}

/// What resolution reads: the tenants and how the listener routes to
/// them (`[server]`'s `base_path`, `path_routing` and `hosts`).
#[derive(Debug, Clone, Copy)]
pub struct Routing<'s> {
    pub tenants: &'s Tenants,
    /// The SCIM base path under a tenant host, e.g. `/scim/v2`.
    pub base_path: &'s str,
    /// Whether `/tenants/{id}/scim/v2/...` selects a tenant.
    pub path_routing: bool,
    /// The lower-case host names (`*.` wildcards of one label) on which
    /// path-routed tenants are served.
    pub listener_hosts: &'s [String],
}

/// Resolves the tenant of a request and parses its route.
pub(crate) fn resolve_tenant<'s>(
    routing: Routing<'s>,
    uri: &Uri,
    headers: &HeaderMap,
    origin: Origin<'_>,
) -> Result<Routed<'s>, GatewayError> {
    let host = request_host(uri, headers)?;
    let path = uri.path();
    // A routed path is checked whole: its prefix (a tenant id, the base
    // path) is matched exactly and the rest by the route's own parse. A
    // path that routes nowhere is checked here, so that its refusal names
    // the problem (a `..` that would have meant another path) rather than
    // a missing endpoint. One pass over the path on the hot path, not two.
    route_by(routing, path, host, origin).map_err(|e| match check_raw_path(path) {
        Err(problem) => invalid_path(problem.into_error()),
        Ok(()) => e,
    })
}

/// [`resolve_tenant`] once the host is known to be well-formed.
fn route_by<'s>(
    routing: Routing<'s>,
    path: &str,
    host: &str,
    origin: Origin<'_>,
) -> Result<Routed<'s>, GatewayError> {
    let scheme = if origin.tls { "https" } else { "http" };
    let base_path = routing.base_path;

    if let Some(tenant) = routing.tenants.by_host(host) {
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
                    "no SCIM endpoint at \"{}\"; this tenant's SCIM base URL is {scheme}://{host}{base_path}",
                    printable(path)
                ))
            })?
        };
        return Ok(Routed {
            tenant,
            route: route(tenant, rest)?,
            public_base: concat(&[scheme, "://", host, base_path]),
            host: host.to_string(),
            hook,
        });
    }

    if routing.path_routing {
        if let Some(after) = path.strip_prefix(TENANT_PATH_PREFIX) {
            let (id, rest) = after.split_once('/').map_or((after, ""), |(id, r)| (id, r));
            let tenant = routing
                .tenants
                .by_id(id)
                .ok_or_else(|| unknown_tenant(format!("unknown tenant \"{}\"", printable(id))))?;
            // Only the listener's own names serve tenants by path: the
            // public base URL (every location the gateway writes) is built
            // from this host.
            if !listener_host(routing.listener_hosts, strip_port(host)) {
                return Err(misdirected(host));
            }
            if let Some(sni) = origin.sni {
                // A host name that belongs to another tenant must not reach
                // this one by path.
                if let Some(owner) = routing.tenants.by_host(sni) {
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
                        "no SCIM endpoint at \"{}\"; this tenant's SCIM base URL is {scheme}://{host}{TENANT_PATH_PREFIX}{id}{base_path}",
                        printable(path)
                    ))
                })?
            };
            return Ok(Routed {
                tenant,
                route: route(tenant, scim)?,
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

/// The route of `scim_path` in the tenant's resource types.
fn route(tenant: &Tenant, scim_path: &str) -> Result<Route, GatewayError> {
    Route::parse(scim_path, &tenant.schema.registry).map_err(invalid_path)
}

fn invalid_path(e: ScimError) -> GatewayError {
    let reason = if e.status() == 404 {
        Reason::NotFound
    } else {
        Reason::InvalidPath
    };
    GatewayError::client_reason(e, reason)
}

/// Whether `name` (a host without port) is one of the listener's names;
/// `*.example.com` covers one label.
fn listener_host(names: &[String], name: &str) -> bool {
    names.iter().any(|n| match n.strip_prefix("*.") {
        Some(suffix) => name
            .len()
            .checked_sub(suffix.len() + 1)
            .filter(|&cut| cut > 0)
            .is_some_and(|cut| {
                name.as_bytes()[cut] == b'.'
                    && name[cut + 1..].eq_ignore_ascii_case(suffix)
                    && !name[..cut].contains('.')
            }),
        None => n.eq_ignore_ascii_case(name),
    })
}

/// The pieces joined (one allocation, no formatting machinery).
fn concat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// The `Host` header, or the `:authority` of an HTTP/2 request (or of an
/// absolute-form request line): `host [":" port]` (RFC 9110 §7.2), a
/// host name, an IPv4 address or a bracketed IPv6 address, and a numeric
/// port. Anything else (user info, a second authority, a bad port) is
/// 400: the host becomes every location the gateway writes.
fn request_host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Result<&'a str, GatewayError> {
    let bad = |detail: &str| {
        GatewayError::client_reason(ScimError::bad_request(detail.to_string()), Reason::BadHost)
    };
    let mut fields = headers.get_all(HOST).iter();
    let header = fields.next();
    if fields.next().is_some() {
        return Err(bad("the request has more than one Host header"));
    }
    let header = match header {
        Some(h) => Some(
            h.to_str()
                .map_err(|_| bad("the Host header is not a valid host[:port]"))?,
        ),
        None => None,
    };
    let authority = uri.authority().map(|a| a.as_str());
    let host = match (header, authority) {
        // RFC 9113 §8.3.1, RFC 9112 §3.2.2: two authorities that disagree
        // are one request too many.
        (Some(h), Some(a)) if !h.eq_ignore_ascii_case(a) => {
            return Err(bad(
                "the Host header and the request's authority name different hosts",
            ))
        }
        (Some(h), _) => h,
        (None, Some(a)) => a,
        (None, None) => {
            return Err(GatewayError::client_reason(
                ScimError::bad_request("the request has no valid Host header"),
                Reason::NoHost,
            ))
        }
    };
    if !valid_host(host) {
        return Err(bad(
            "the Host header is not a valid host[:port] (a host name or IP address and a numeric port)",
        ));
    }
    Ok(host)
}

/// `host [":" port]` with a numeric port of at most 65535.
fn valid_host(s: &str) -> bool {
    let split = if s.starts_with('[') {
        s.find(']').and_then(|end| {
            let (name, rest) = s.split_at(end + 1);
            match rest {
                "" => Some((name, None)),
                r => r.strip_prefix(':').map(|p| (name, Some(p))),
            }
        })
    } else {
        Some(s.split_once(':').map_or((s, None), |(h, p)| (h, Some(p))))
    };
    let Some((name, port)) = split else {
        return false;
    };
    let port_ok = port.is_none_or(|p| {
        (1..=5).contains(&p.len())
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|n| n <= 65535)
    });
    port_ok && valid_host_name(name)
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
    GatewayError::client_reason(ScimError::not_found(detail), Reason::NotFound)
}

fn unknown_tenant(detail: String) -> GatewayError {
    GatewayError::client_reason(ScimError::not_found(detail), Reason::UnknownTenant)
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
        Reason::Misdirected,
    )
}

#[cfg(test)]
pub(crate) mod tests;
