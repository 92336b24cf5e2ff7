//! The schema stage (after the dialect, before the cache and the
//! upstream): every write and search is parsed and validated against the
//! tenant's schemas, then rewritten through the tenant's mapping table;
//! discovery is answered by the gateway itself; on the way back, responses
//! are mapped to the tenant's schema. (RFC 7644 §3.3-§3.7, §4.)
//!
//! What is checked, per request (the upstream sees nothing when it fails):
//! - POST and PUT of a resource: [`validate_resource`] (types, required,
//!   unknown attributes, `schemas`); the normalized resource goes on
//!   (readOnly input such as `id`, `meta` and `groups` dropped).
//! - PATCH: at most `max_patch_operations` operations (400 `tooMany`,
//!   also for each PATCH of a Bulk request, and also when the tenant
//!   neither validates nor maps), then [`check_patch`] (paths, mutability,
//!   value types).
//! - Bulk: each operation, as above; `bulkId` references are left as they
//!   are for the upstream to resolve.
//! - `/.search` and list queries: filter, `sortBy` and projection syntax.
//!   A filter the mapping cannot send upstream, with `emulate = true`, is
//!   evaluated by the gateway ([`emulated_filter`]).
//! - A request to an endpoint the tenant's schema does not define: 404.
//!
//! The stage's parts: request bodies (`body`), list and search parameters
//! (`query`), Bulk (`bulk`), discovery (`discovery`), the way back
//! (`outbound`), large bodies off the reactor (`offloaded`), and the two
//! emulations that work in the tenant's schema (`emulated_filter`,
//! `emulated_patch`).
//!
//! Imports: `scim`, `mapping`, the tenant's schema; the pipeline's `Step`.
use super::Step;
use crate::error::{GatewayError, Reason};
use crate::mapping::{CompiledMapping, ResourceMapping};
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::patch::PatchRequest;
use crate::scim::query::ListQuery;
use crate::scim::route::{Route, RouteKind};
use crate::scim::validate_raw::Scanned;
use crate::tenant::schema::TenantSchema;
use body::{deactivates_patch, deactivates_put, json_body, patch_body, resource_body};
use bytes::Bytes;
use http::{HeaderMap, Method, Response};
use http_body_util::Full;
use query::{list_query, resource_query, root_search_body, search_body};
use std::sync::Arc;

mod body;
mod bulk;
mod discovery;
pub(crate) mod emulated_filter;
pub(crate) mod emulated_patch;
mod offloaded;
mod outbound;
mod query;
#[cfg(test)]
mod tests;

pub(super) use bulk::bulk_outcomes;
pub(super) use discovery::json_response;
pub(super) use emulated_filter::EmulatedList;
pub(super) use offloaded::{inbound_bounded, outbound_bounded};
pub(super) use outbound::outbound;

/// The pipeline's call: [`inbound_bounded`] on the request's parts; an
/// answer of the stage's own (discovery) ends the pipeline. `audited`:
/// the write's record will name its attributes ([`Inbound::scanned`]).
pub(super) async fn step<'t>(
    schema: &'t Arc<TenantSchema>,
    parts: &http::request::Parts,
    route: &Route,
    query: Option<String>,
    body: Bytes,
    public_base: &str,
    audited: bool,
) -> Result<Step<Inbound<'t>>, GatewayError> {
    let (method, headers) = (&parts.method, &parts.headers);
    let request = Request {
        method,
        headers,
        route,
        audited,
    };
    // Off the reactor when the body is large: `crate::offload`.
    let stage = inbound_bounded(schema, request, query, body, public_base)
        .await
        .map_err(|e| GatewayError::client_reason(e, Reason::Schema))?;
    Ok(match stage {
        Stage::Forward(inbound) => Step::Next(inbound),
        Stage::Answer(answer) => {
            let (parts, body) = answer.into_parts();
            Step::Answer(Response::from_parts(parts, Full::new(body)))
        }
    })
}

/// The query of a list read by `filter` (the tenant's view), checked and
/// mapped like a client's list query (the create stage's lookup of an
/// existing resource). `Ok(None)` never happens for a filter.
pub(super) fn lookup_query(
    schema: &TenantSchema,
    mapping: Option<&ResourceMapping>,
    filter: &str,
) -> ScimResult<Option<String>> {
    let query = format!("filter={}", crate::scim::query::encode_component(filter));
    list_query(schema, mapping, Some(query))
}

/// What the upstream answer will be, for mapping it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// One resource (or an error about one).
    Resource,
    /// A ListResponse.
    List,
    /// A BulkResponse.
    Bulk,
    /// A ListResponse of several resource types (`/.search` at the root).
    Mixed,
    /// Nothing to map (DELETE, unmapped tenants, other endpoints).
    Opaque,
}

/// The request as it goes upstream, and how to read the answer.
#[derive(Debug)]
pub(super) struct Inbound<'t> {
    pub query: Option<String>,
    pub body: Bytes,
    /// The resource type's mapping, when the tenant maps.
    pub mapping: Option<&'t ResourceMapping>,
    /// The whole table (Bulk responses, errors), when the tenant maps.
    pub table: Option<&'t CompiledMapping>,
    pub shape: Shape,
    /// A User deprovisioned: deleted, or `active` set to false (for the
    /// deprovision-latency SLI).
    pub deprovision: bool,
    /// A Bulk request (its answer is counted per operation).
    pub bulk: bool,
    /// A list whose filter the gateway evaluates itself (the mapping
    /// cannot send it upstream): answered by listing the collection
    /// (`stack::upstream_stage`, [`emulated_filter::run`]) instead of
    /// forwarding.
    pub emulated: Option<Box<EmulatedList<'t>>>,
    /// The tenant's PATCH as the client sent it (after the dialect),
    /// parsed once here (when the tenant validates or maps): what an
    /// emulated PATCH applies in the tenant's schema ([`emulated_patch`]).
    pub tenant_patch: TenantPatch,
    /// An audited POST or PUT body's members as the validation's scan
    /// found them (its fast path): what the audit record names, without
    /// reading the body again.
    pub scanned: Option<Box<Scanned>>,
}

/// What the stage reads of a request besides its query and body.
#[derive(Debug, Clone, Copy)]
pub(super) struct Request<'r> {
    pub method: &'r Method,
    pub headers: &'r HeaderMap,
    /// Its one parsed target below the tenant's base (`/Users/123`).
    pub route: &'r Route,
    /// A write the audit records: a POST or PUT body's scan is kept
    /// ([`Inbound::scanned`]).
    pub audited: bool,
}

/// A tenant's PATCHes as the client sent them (after the dialect).
#[derive(Debug, Default)]
pub(super) enum TenantPatch {
    #[default]
    None,
    /// The request's (of the resource type its route names).
    One(PatchRequest),
    /// A Bulk request's, by the operation's place in `Operations`: the
    /// tenant-facing resource type and the PatchOp of each PATCH.
    Bulk(Vec<Option<(String, PatchRequest)>>),
}

/// The outcome of the stage.
#[derive(Debug)]
pub(super) enum Stage<'t> {
    /// Send this upstream.
    Forward(Inbound<'t>),
    /// Answered here (discovery).
    Answer(Response<Bytes>),
}

/// Validates and maps one request; `public_base` is the tenant's public
/// base URL (for discovery locations).
pub(super) fn inbound<'t>(
    schema: &'t TenantSchema,
    request: Request<'_>,
    query: Option<String>,
    body: Bytes,
    public_base: &str,
) -> ScimResult<Stage<'t>> {
    let Request {
        method,
        headers,
        route,
        audited,
    } = request;
    let kind = route.kind();
    if matches!(kind, RouteKind::Search | RouteKind::RootSearch) && *method != Method::POST {
        // RFC 7644 §3.4.3: a search is POSTed.
        return Err(ScimError::method_not_allowed(format!(
            "{} takes POST only (RFC 7644 §3.4.3)",
            route.path()
        )));
    }
    let Some(first) = route.first_segment() else {
        return Ok(forward(query, body));
    };
    if let RouteKind::Discovery(d) = kind {
        let id = route.id_decoded();
        let answer = discovery::answer(schema, method, d, id.as_deref(), public_base)?;
        return Ok(Stage::Answer(answer));
    }
    let table = schema.mapping.as_ref();
    if kind == RouteKind::Bulk {
        if *method != Method::POST {
            return Ok(forward(query, body));
        }
        if schema.capabilities.bulk.is_none() {
            return Err(ScimError::not_implemented(
                "Bulk is not available for this tenant (see /ServiceProviderConfig)",
            ));
        }
        return bulk::bulk(schema, headers, query, body);
    }
    if kind == RouteKind::RootSearch {
        if !schema.validate && table.is_none() {
            return Ok(forward(query, body));
        }
        let Some(table) = table else {
            ListQuery::from_search_body(&json_body(headers, &body)?)?;
            return Ok(forward(query, body));
        };
        return Ok(Stage::Forward(Inbound {
            query,
            body: root_search_body(schema, table, headers, &body)?,
            mapping: None,
            table: Some(table),
            shape: Shape::Mixed,
            deprovision: false,
            bulk: false,
            emulated: None,
            tenant_patch: TenantPatch::None,
            scanned: None,
        }));
    }
    if kind == RouteKind::Me {
        return Ok(forward(query, body));
    }
    let passthrough = !schema.validate && table.is_none();
    let rt = match schema.registry.resource_type_by_endpoint(first) {
        Some(rt) if kind != RouteKind::SubPath => rt,
        // Below a resource there is no SCIM endpoint: only a pass-through
        // tenant's backend may have one of its own.
        Some(_) if passthrough => return Ok(forward(query, body)),
        Some(_) => {
            return Err(ScimError::not_found(format!(
                "no SCIM endpoint below a resource (\"{}\"): see RFC 7644 §3.2",
                route.path().chars().take(80).collect::<String>()
            )))
        }
        None if passthrough => return Ok(forward(query, body)),
        None => {
            return Err(ScimError::not_found(format!(
                "\"/{first}\" is not an endpoint of this tenant: see /ResourceTypes"
            )))
        }
    };
    let mapping = table.and_then(|t| t.resource(&rt.name));
    let is_user = rt.name.eq_ignore_ascii_case("User");
    let mut out = Inbound {
        query,
        body,
        mapping,
        table,
        shape: if table.is_some() {
            Shape::Resource
        } else {
            Shape::Opaque
        },
        deprovision: false,
        bulk: false,
        emulated: None,
        tenant_patch: TenantPatch::None,
        scanned: None,
    };
    match kind {
        RouteKind::Collection if *method == Method::GET => {
            let registry = &schema.registry;
            match emulated_filter::plan_query(registry, rt, mapping, out.query.as_deref())? {
                // Answered at the gateway, already in the tenant's schema.
                Some(plan) => emulate(&mut out, plan),
                None => {
                    out.query = list_query(schema, mapping, out.query.take())?;
                    out.shape = list_shape(table);
                }
            }
        }
        RouteKind::Collection if *method == Method::POST => {
            (out.body, out.scanned) =
                resource_body(schema, rt, mapping, headers, &out.body, audited)?;
        }
        RouteKind::Search => {
            let plan = match mapping.filter(|m| m.emulates()) {
                Some(_) => {
                    let body = json_body(headers, &out.body)?;
                    emulated_filter::plan_search(&schema.registry, rt, mapping, &body)?
                }
                None => None,
            };
            match plan {
                Some(plan) => emulate(&mut out, plan),
                None => {
                    out.body = search_body(schema, mapping, headers, &out.body)?;
                    out.shape = list_shape(table);
                }
            }
        }
        RouteKind::Resource => match *method {
            Method::GET => out.query = resource_query(mapping, out.query.take())?,
            Method::PUT => {
                out.deprovision = is_user && deactivates_put(&out.body);
                (out.body, out.scanned) =
                    resource_body(schema, rt, mapping, headers, &out.body, audited)?;
                out.query = resource_query(mapping, out.query.take())?;
            }
            Method::PATCH => {
                out.deprovision = is_user && deactivates_patch(&out.body);
                let (body, tenant_patch) = patch_body(schema, rt, mapping, headers, &out.body)?;
                out.body = body;
                out.tenant_patch = tenant_patch.map_or(TenantPatch::None, TenantPatch::One);
                out.query = resource_query(mapping, out.query.take())?;
            }
            Method::DELETE => out.deprovision = is_user,
            _ => {}
        },
        _ => {}
    }
    Ok(Stage::Forward(out))
}

fn forward<'t>(query: Option<String>, body: Bytes) -> Stage<'t> {
    Stage::Forward(Inbound {
        query,
        body,
        mapping: None,
        table: None,
        shape: Shape::Opaque,
        deprovision: false,
        bulk: false,
        emulated: None,
        tenant_patch: TenantPatch::None,
        scanned: None,
    })
}

/// A list the gateway answers from an unfiltered listing: nothing of the
/// client's query or body goes upstream, and the answer is already in the
/// tenant's schema (only upstream errors are mapped back).
fn emulate<'t>(out: &mut Inbound<'t>, plan: EmulatedList<'t>) {
    out.query = None;
    out.body = Bytes::new();
    out.shape = Shape::Opaque;
    out.emulated = Some(Box::new(plan));
}

fn list_shape(table: Option<&CompiledMapping>) -> Shape {
    if table.is_some() {
        Shape::List
    } else {
        Shape::Opaque
    }
}
