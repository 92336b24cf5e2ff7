//! The deprovisioning guardrail's stage (after the schema stage, before
//! the cache and the upstream): a deprovision past the tenant's limit is
//! held (503 with `Retry-After`) and goes no further; everything else
//! passes untouched (docs/safety.md).
//!
//! It reads the request as the tenant's client sent it after the IdP
//! dialect (the body the schema stage checked, in the tenant's names),
//! and the principal the authentication stage found.
//!
//! Imports: `guardrail`, the tenant, the route; the pipeline's `Trace`.
use super::trace::Trace;
use super::Pipeline;
use crate::audit::{AuditKind, AuditRecord, GuardrailNote};
use crate::authn::grants::Applying;
use crate::authn::{AuthMethod, Principal};
use crate::conn_info::ConnInfo;
use crate::error::{GatewayError, Reason};
use crate::guardrail::{
    classify, classify_bulk, Asked, Guardrail, HeldOp, Refusal, Target, Verdict,
};
use crate::scim::error::ScimError;
use crate::scim::route::{Route, RouteKind};
use crate::tenant::resolve::{Routed, Routing};
use crate::tenant::Tenant;
use bytes::Bytes;
use http::Method;
use std::sync::Arc;

/// An operation an operator released, sent through the pipeline by the
/// gateway itself ([`release`]): a request extension set only in-process,
/// never from a client's request.
#[derive(Debug, Clone)]
pub(crate) struct Released {
    pub id: String,
    pub by: String,
    pub tenant: String,
    /// Below the tenant's base, e.g. `/Users/2819c223`.
    pub path: String,
    /// The principal of the request that was held.
    pub auth_method: AuthMethod,
    pub subject: String,
    pub credential: String,
}

/// The tenant and route of a released operation (no host to check: the
/// gateway itself sends it). Locations in its answer use the tenant's
/// first host name, else the listener's address.
pub(super) fn resolve_released<'s>(
    routing: Routing<'s>,
    r: &Released,
) -> Result<Routed<'s>, GatewayError> {
    let tenant = routing.tenants.by_id(&r.tenant).ok_or_else(|| {
        GatewayError::client_reason(
            ScimError::not_found(format!("tenant \"{}\" is no longer configured", r.tenant)),
            Reason::UnknownTenant,
        )
    })?;
    let route = Route::parse(&r.path, &tenant.schema.registry)
        .map_err(|e| GatewayError::client_reason(e, Reason::InvalidPath))?;
    let host = tenant
        .hosts
        .first()
        .cloned()
        .unwrap_or_else(|| "localhost".to_string());
    Ok(Routed {
        tenant,
        route,
        public_base: format!("https://{host}{}", routing.base_path),
        host,
        hook: false,
    })
}

/// The principal of a released operation: the held request's subject and
/// credential name (it authenticated when it was held); its grants are
/// the tenant's, since an operator chose to send it.
pub(super) fn released_principal(tenant: &Tenant, r: &Released) -> Principal {
    Principal {
        tenant: tenant.id.clone(),
        method: r.auth_method,
        subject: r.subject.clone(),
        credential: r.credential.clone(),
        scopes: Vec::new(),
        grants: Applying(u64::MAX),
        issuer: None,
    }
}

/// Releases held operation `id` of `tenant` on `by`'s word: marked
/// `releasing` on disk, the decision audited, then sent through the
/// pipeline (schema, limits, upstream, audit, events) as its held
/// principal. An upstream failure (5xx) puts it back to `held`.
pub(crate) async fn release(
    pipeline: &Pipeline,
    tenant: &str,
    id: &str,
    by: &str,
) -> Result<HeldOp, Refusal> {
    let guardrail = pipeline.guardrail();
    let op = guardrail.begin_release(tenant, id, by)?;
    if let Err(e) = audit_decision(pipeline, &op, "released", by).await {
        let _ = guardrail.hold_again(tenant, id, None);
        return Err(Refusal::Store(e));
    }
    let uri = match &op.query {
        Some(q) => format!("{}?{q}", op.path),
        None => op.path.clone(),
    };
    let method =
        Method::from_bytes(op.method.as_bytes()).map_err(|e| Refusal::Store(e.to_string()))?;
    let mut req = http::Request::builder().method(method).uri(&uri);
    if !op.body.is_empty() {
        req = req.header(http::header::CONTENT_TYPE, "application/scim+json");
    }
    let mut req = req
        .body(http_body_util::Full::new(Bytes::from(op.body.clone())))
        .map_err(|e| Refusal::Store(format!("the held request {uri}: {e}")))?;
    req.extensions_mut().insert(Released {
        id: op.id.clone(),
        by: by.to_string(),
        tenant: op.tenant.clone(),
        path: op.path.clone(),
        auth_method: match op.auth_method.as_str() {
            "jwt" => AuthMethod::Jwt,
            "introspection" => AuthMethod::Introspection,
            "client_certificate" => AuthMethod::ClientCertificate,
            _ => AuthMethod::StaticToken,
        },
        subject: op.subject.clone(),
        credential: op.credential.clone(),
    });
    let conn = Arc::new(ConnInfo {
        socket_peer: ([127, 0, 0, 1], 0).into(),
        proxied: None,
        local: ([127, 0, 0, 1], 0).into(),
        tls: true,
        sni: None,
        alpn: None,
        peer_certificates: None,
        cert_checks: Default::default(),
        auth: Default::default(),
    });
    let response = pipeline.handle(req, conn).await;
    let status = response.status().as_u16();
    if status >= 500 {
        tracing::warn!(
            tenant,
            held = id,
            status,
            "guardrail: a released operation failed upstream; held again"
        );
        return guardrail.hold_again(tenant, id, Some(status));
    }
    guardrail.finish_release(tenant, id, by, status)
}

/// Drops held operation `id` of `tenant` on `by`'s word (audited): never
/// sent; the IdP's retries get 403.
pub(crate) async fn drop_held(
    pipeline: &Pipeline,
    tenant: &str,
    id: &str,
    by: &str,
) -> Result<HeldOp, Refusal> {
    let guardrail = pipeline.guardrail();
    let op = guardrail.drop_op(tenant, id, by)?;
    if let Err(e) = audit_decision(pipeline, &op, "dropped", by).await {
        let _ = guardrail.hold_again(tenant, id, None);
        return Err(Refusal::Store(e));
    }
    Ok(op)
}

/// An `operator` audit record of a decision.
async fn audit_decision(
    pipeline: &Pipeline,
    op: &HeldOp,
    action: &str,
    by: &str,
) -> Result<(), String> {
    let Some(journal) = pipeline.journal() else {
        return Err("no audit journal".into());
    };
    let request_id = crate::request_id::RequestId::generate();
    let mut record = AuditRecord::write(
        request_id.as_str(),
        &op.method,
        std::net::IpAddr::from([127, 0, 0, 1]),
    );
    record.kind = AuditKind::Operator;
    record.tenant = Some(op.tenant.clone());
    record.resource_type = resource_type_of(&op.path);
    record.outcome.status = 200;
    record.guardrail = Some(note(action, Some(&op.id), Some(by)));
    journal
        .append(record, None)
        .await
        .map(|_| ())
        .map_err(|e| format!("the audit journal: {e}"))
}

/// `Users` of `/Users/1`, as the record's resource type (the endpoint).
fn resource_type_of(path: &str) -> Option<String> {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// What the stage needs of the request.
pub(super) struct Request<'a> {
    pub method: &'a Method,
    pub route: &'a Route,
    pub query: Option<&'a str>,
    /// The body after the IdP dialect, before mapping.
    pub body: &'a Bytes,
    pub released: Option<&'a Released>,
    pub request_id: &'a str,
    pub client: String,
}

/// Passes the request on, or refuses it (held, dropped).
pub(super) async fn check(
    guardrail: &Guardrail,
    tenant: &Tenant,
    req: Request<'_>,
    trace: &mut Trace<'_>,
) -> Result<(), GatewayError> {
    let Some(settings) = &tenant.guardrail else {
        return Ok(());
    };
    if let Some(released) = req.released {
        trace.guardrail = Some(note("replay", Some(&released.id), Some(&released.by)));
        return Ok(());
    }
    if !matches!(
        *req.method,
        Method::DELETE | Method::PUT | Method::PATCH | Method::POST
    ) {
        return Ok(());
    }
    let registry = &tenant.schema.registry;
    let method = req.method.as_str();
    let deprovision = match req.route.kind() {
        RouteKind::Bulk if *req.method == Method::POST => {
            let body = match crate::guardrail::classify::parse_unique(req.body) {
                Ok(body) => body,
                Err(crate::guardrail::classify::ParseError::Duplicate(name)) => {
                    return Err(ambiguous(&name));
                }
                Err(_) => return Ok(()),
            };
            // Each operation's path read by the same route parser as a
            // request's (case, percent-encoding, dot segments).
            let targets: Vec<(String, Owned)> = bulk_paths(&body)
                .into_iter()
                .map(|p| {
                    let rooted = format!("/{}", p.trim_start_matches('/'));
                    let target = Route::parse(&rooted, registry)
                        .map_or(Owned::Other, |route| target_of(registry, &route));
                    (p, target)
                })
                .collect();
            classify_bulk(settings, &body, |path| {
                targets
                    .iter()
                    .find(|(p, _)| p == path)
                    .map_or(Target::Other, |(_, t)| t.as_target())
            })
        }
        RouteKind::Resource => {
            let target = target_of(registry, req.route);
            classify(settings, target.as_target(), method, req.body)
        }
        _ => Ok(None),
    };
    let Some(d) = deprovision.map_err(|a| ambiguous(&a.0))? else {
        return Ok(());
    };
    let (auth_method, subject, credential) = trace.principal.as_ref().map_or(("", "", ""), |p| {
        (p.method.as_str(), p.subject.as_str(), p.credential.as_str())
    });
    let asked = Asked {
        tenant: tenant.id.as_str(),
        method,
        path: req.route.path(),
        query: req.query,
        body: req.body,
        auth_method,
        subject,
        credential,
        client: req.client,
        request_id: req.request_id,
    };
    let verdict = guardrail.check(settings, d, &asked).await.map_err(|e| {
        tracing::error!(tenant = tenant.id.as_str(), error = %e, "guardrail");
        GatewayError::unavailable(
            "the deprovisioning guardrail cannot keep held operations; try again later",
            Reason::GuardrailHeld,
            30,
        )
    })?;
    match verdict {
        Verdict::Pass => Ok(()),
        Verdict::WouldHold => {
            trace.guardrail = Some(note("would_hold", None, None));
            tracing::warn!(
                tenant = tenant.id.as_str(),
                "guardrail (dry run): this deprovision would have been held"
            );
            Ok(())
        }
        Verdict::AlreadyReleased { id } => {
            trace.guardrail = Some(note("after_release", Some(&id), None));
            Ok(())
        }
        Verdict::Held { id, .. } => {
            trace.guardrail = Some(note("held", Some(&id), None));
            Err(GatewayError::unavailable(
                &format!(
                    "deprovisioning is held by this tenant's guardrail (more than {} in {}); \
                     held operation {id} waits for an operator's release",
                    settings.max_deprovisions,
                    humantime::format_duration(settings.window)
                ),
                Reason::GuardrailHeld,
                settings.retry_after.as_secs(),
            ))
        }
        Verdict::Full => {
            trace.guardrail = Some(note("held", None, None));
            tracing::error!(
                tenant = tenant.id.as_str(),
                "guardrail: the tenant holds the most operations kept; this deprovision is refused, not kept"
            );
            Err(GatewayError::unavailable(
                "deprovisioning is held by this tenant's guardrail, which holds the most operations it keeps; \
                 an operator must decide on the held ones first",
                Reason::GuardrailHeld,
                settings.retry_after.as_secs(),
            ))
        }
        Verdict::Dropped { id } => {
            trace.guardrail = Some(note("dropped", Some(&id), None));
            Err(GatewayError::client_reason(
                ScimError::new(
                    403,
                    None,
                    format!(
                        "an operator dropped this deprovision (held operation {id}): the gateway will not apply it"
                    ),
                ),
                Reason::GuardrailDropped,
            ))
        }
    }
}

/// 400 for a body the guardrail cannot read one way only.
fn ambiguous(name: &str) -> GatewayError {
    let shown: String = name.chars().take(64).collect();
    GatewayError::client_reason(
        ScimError::new(
            400,
            Some(crate::scim::error::ScimType::InvalidSyntax),
            format!(
                "the member \"{shown}\" appears twice in one object (names compare ignoring case): \
                 this tenant's deprovisioning guardrail cannot tell what the request does"
            ),
        ),
        Reason::BadRequest,
    )
}

fn note(action: &str, id: Option<&str>, by: Option<&str>) -> GuardrailNote {
    GuardrailNote {
        action: action.to_string(),
        id: id.map(str::to_string),
        by: by.map(str::to_string),
    }
}

/// What a route addresses, owned (a Bulk operation's route is parsed
/// from its body).
enum Owned {
    User,
    Group(String),
    Other,
}

impl Owned {
    fn as_target(&self) -> Target<'_> {
        match self {
            Owned::User => Target::User,
            Owned::Group(id) => Target::Group(id),
            Owned::Other => Target::Other,
        }
    }
}

/// A User or Group resource (`/Users/{id}`), by the tenant's resource
/// types, with its id percent-decoded.
fn target_of(registry: &crate::scim::schema::SchemaRegistry, route: &Route) -> Owned {
    if route.kind() != RouteKind::Resource {
        return Owned::Other;
    }
    let (Some(endpoint), Some(id)) = (route.first_segment(), route.id_decoded()) else {
        return Owned::Other;
    };
    match registry
        .resource_type_by_endpoint(endpoint)
        .map(|rt| rt.name.as_str())
    {
        Some(name) if name.eq_ignore_ascii_case("User") => Owned::User,
        Some(name) if name.eq_ignore_ascii_case("Group") => Owned::Group(id.into_owned()),
        _ => Owned::Other,
    }
}

/// The `path` of every operation of a Bulk request.
fn bulk_paths(body: &serde_json::Value) -> Vec<String> {
    body.as_object()
        .and_then(|o| crate::scim::json::get_ci(o, "Operations"))
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|op| op.as_object())
        .filter_map(|op| crate::scim::json::get_ci(op, "path").and_then(serde_json::Value::as_str))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::scim::schema::SchemaRegistry;

    #[test]
    fn a_route_is_read_as_the_upstream_would_read_it() {
        let registry = SchemaRegistry::builtin();
        let group = |raw: &str| match target_of(&registry, &Route::parse(raw, &registry).unwrap()) {
            Owned::Group(id) => Some(id),
            _ => None,
        };
        // Percent-encoded, differently cased endpoint: the same group.
        assert_eq!(group("/Groups/admin%73").as_deref(), Some("admins"));
        assert_eq!(group("/groups/admins").as_deref(), Some("admins"));
        let user = Route::parse("/USERS/u1", &registry).unwrap();
        assert!(matches!(target_of(&registry, &user), Owned::User));
        let list = Route::parse("/Users", &registry).unwrap();
        assert!(matches!(target_of(&registry, &list), Owned::Other));
    }
}
