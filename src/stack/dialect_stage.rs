//! The dialect stage of the pipeline: a tenant's `[tenants.dialect]`
//! profile applied to the request (authorization header, query, JSON
//! body) before anything else reads them, with every rule that fired
//! counted (and, in shadow mode, only counted).
use crate::dialect::{
    normalize_authorization, normalize_patch, normalize_query, normalize_resource, Applied,
    RuleSet, TenantDialect, WriteKind,
};
use crate::offload;
use crate::scim::error::ScimResult;
use crate::scim::patch::{check_operation_count, operation_count};
use crate::scim::route::Route;
use crate::scim::schema::{ResourceType, SchemaRegistry};
use crate::telemetry::emit::DialectApplied;
use crate::tenant::Tenant;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method};
use std::sync::OnceLock;

/// The rules for one request of a tenant (`auto` resolved from what the
/// request shows).
pub(super) fn rules(dialect: &TenantDialect, headers: &HeaderMap, query: Option<&str>) -> RuleSet {
    let ua = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
    dialect.rules(ua, query)
}

/// The rules again once the token is verified, for `auto` when the token
/// names an issuer (Entra sends its own token when the tenant leaves
/// Entra's "Secret Token" blank); `None` when they cannot change.
pub(super) fn rules_after_auth(
    dialect: &TenantDialect,
    headers: &HeaderMap,
    query: Option<&str>,
    issuer: Option<&str>,
) -> Option<RuleSet> {
    if dialect.profile != crate::dialect::Profile::Auto || issuer.is_none() {
        return None;
    }
    let ua = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
    Some(dialect.rules_for(ua, issuer, query))
}

/// The tenant-facing schemas the rules consult (core User and Group with
/// the enterprise extension).
fn registry() -> &'static SchemaRegistry {
    static REGISTRY: OnceLock<SchemaRegistry> = OnceLock::new();
    REGISTRY.get_or_init(SchemaRegistry::builtin)
}

fn report(tenant: &Tenant, applied: &Applied) {
    for rule in applied.rules() {
        DialectApplied {
            tenant: tenant.id.as_str(),
            rule: rule.name(),
            shadow: applied.shadow,
        }
        .emit();
    }
}

/// `Bearer Bearer <token>` and the like, before authentication.
pub(super) fn authorization(tenant: &Tenant, rules: &RuleSet, headers: &mut HeaderMap) {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return;
    };
    let (fixed, applied) = normalize_authorization(value, rules);
    report(tenant, &applied);
    if applied.is_empty() || applied.shadow {
        return;
    }
    if let Ok(mut v) = HeaderValue::from_str(&fixed) {
        v.set_sensitive(true);
        headers.insert(AUTHORIZATION, v);
    }
}

/// The query without IdP-only flags; `None` when unchanged.
pub(super) fn query(tenant: &Tenant, rules: &RuleSet, query: Option<&str>) -> Option<String> {
    let (fixed, applied) = normalize_query(query?, rules);
    report(tenant, &applied);
    (!applied.is_empty() && !applied.shadow).then_some(fixed)
}

/// A JSON write body in canonical form; `None` when unchanged (or not a
/// JSON body of a known resource type: validation decides about those).
/// A PATCH over the tenant's `max_patch_operations` is refused here,
/// before any rule looks at its operations; a large body is worked on off
/// the reactor (`crate::offload`).
pub(super) async fn body(
    tenant: &Tenant,
    rules: &RuleSet,
    method: &Method,
    headers: &HeaderMap,
    route: &Route,
    body: &Bytes,
) -> ScimResult<Option<Bytes>> {
    let segment = route.first_segment().unwrap_or("");
    let kind = match *method {
        Method::POST if !route.is_search(method) => WriteKind::Create,
        Method::PUT => WriteKind::Replace,
        Method::PATCH => WriteKind::Replace,
        _ => return Ok(None),
    };
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    if !json || body.is_empty() {
        return Ok(None);
    }
    let Some(resource_type) = registry().resource_type_by_endpoint(segment) else {
        return Ok(None);
    };
    let work = Work {
        rules: *rules,
        kind,
        patch: *method == Method::PATCH,
        resource_type,
        max_operations: tenant.schema.max_patch_operations,
    };
    let (fixed, applied) = if offload::worth_it(body.len()) {
        let body = body.clone();
        // Boxed: the pipeline's future does not carry the handoff's state.
        Box::pin(offload::blocking(move || work.run(&body))).await??
    } else {
        work.run(body)?
    };
    report(tenant, &applied);
    Ok(fixed)
}

/// What [`body`] does with the bytes (owned, so it can run on the
/// blocking pool).
struct Work {
    rules: RuleSet,
    kind: WriteKind,
    patch: bool,
    resource_type: &'static ResourceType,
    max_operations: usize,
}

impl Work {
    fn run(self, body: &Bytes) -> ScimResult<(Option<Bytes>, Applied)> {
        let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(body) else {
            return Ok((None, Applied::default()));
        };
        let (rules, registry, rt) = (&self.rules, registry(), self.resource_type);
        let applied = if self.patch {
            check_operation_count(operation_count(&value), self.max_operations)?;
            normalize_patch(&mut value, rules, registry, rt)
        } else {
            normalize_resource(&mut value, self.kind, rules, registry, rt)
        };
        if applied.is_empty() || applied.shadow {
            return Ok((None, applied));
        }
        Ok((serde_json::to_vec(&value).ok().map(Bytes::from), applied))
    }
}

/// The pipeline's first dialect step, right after the tenant: the rules
/// for this request, and the authorization header fixed before
/// authentication reads it (`None`: the tenant has no dialect).
pub(super) fn before_auth<B>(tenant: &Tenant, req: &mut http::Request<B>) -> Option<RuleSet> {
    let dialect = tenant.dialect.as_ref()?;
    let rules = rules(dialect, req.headers(), req.uri().query());
    authorization(tenant, &rules, req.headers_mut());
    Some(rules)
}

/// `auto` weighs the verified token's issuer too (the authorization
/// header was fixed before there was a token to read).
pub(super) fn after_auth<B>(
    tenant: &Tenant,
    rules: Option<RuleSet>,
    req: &http::Request<B>,
    issuer: Option<&str>,
) -> Option<RuleSet> {
    let after = tenant
        .dialect
        .as_ref()
        .and_then(|d| rules_after_auth(d, req.headers(), req.uri().query(), issuer));
    after.or(rules)
}

/// The query and the body in canonical form (as they came without a
/// dialect).
pub(super) async fn request(
    tenant: &Tenant,
    rules: Option<&RuleSet>,
    parts: &http::request::Parts,
    route: &Route,
    body: Bytes,
) -> Result<(Option<String>, Bytes), crate::error::GatewayError> {
    let raw = parts.uri.query();
    let Some(rules) = rules else {
        return Ok((raw.map(str::to_string), body));
    };
    let query = query(tenant, rules, raw).or_else(|| raw.map(str::to_string));
    let body = self::body(tenant, rules, &parts.method, &parts.headers, route, &body)
        .await
        .map_err(|e| crate::error::GatewayError::client_reason(e, crate::error::Reason::Dialect))?
        .unwrap_or(body);
    Ok((query, body))
}
