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
use crate::mapping::{patch_to_json, CompiledMapping, ResourceMapping};
use crate::scim::bulk::{BulkMethod, BulkRequest};
use crate::scim::discovery;
use crate::scim::error::{ScimError, ScimResult};
use crate::scim::filter::Filter;
use crate::scim::patch::{check_operation_count, check_patch, operation_count, PatchRequest};
use crate::scim::path::AttrPath;
use crate::scim::query::{encode_component, query_pairs, ListQuery};
use crate::scim::route::{Discovery, Route, RouteKind};
use crate::scim::schema::ResourceType;
use crate::scim::validate::{validate_resource, validate_resource_owned};
use crate::scim::validate_raw::verbatim;
use crate::tenant_schema::TenantSchema;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Response};
use serde_json::Value;

pub mod emulated_filter;
pub mod emulated_patch;
mod offloaded;
mod outbound;
#[cfg(test)]
mod tests;

pub use emulated_filter::EmulatedList;
pub use offloaded::{inbound_bounded, outbound_bounded};
pub use outbound::outbound;

/// What the upstream answer will be, for mapping it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
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
pub struct Inbound<'t> {
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
    /// cannot send it upstream): answer with [`emulated_filter::list`]
    /// instead of forwarding.
    pub emulated: Option<Box<EmulatedList<'t>>>,
    /// The tenant's PATCH as the client sent it (after the dialect),
    /// parsed once here (when the tenant validates or maps): what an
    /// emulated PATCH applies in the tenant's schema ([`emulated_patch`]).
    pub tenant_patch: TenantPatch,
}

/// A tenant's PATCHes as the client sent them (after the dialect).
#[derive(Debug, Default)]
pub enum TenantPatch {
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
pub enum Stage<'t> {
    /// Send this upstream.
    Forward(Inbound<'t>),
    /// Answered here (discovery).
    Answer(Response<Bytes>),
}

/// Validates and maps one request. `route` is the request's one parsed
/// target below the tenant's base (`/Users/123`); `public_base` is the
/// tenant's public base URL (for discovery locations).
pub fn inbound<'t>(
    schema: &'t TenantSchema,
    method: &Method,
    headers: &HeaderMap,
    route: &Route,
    query: Option<String>,
    body: Bytes,
    public_base: &str,
) -> ScimResult<Stage<'t>> {
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
        let answer = discovery_answer(schema, method, d, id.as_deref(), public_base)?;
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
        return bulk(schema, headers, query, body);
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
            out.body = resource_body(schema, rt, mapping, headers, &out.body)?;
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
                out.body = resource_body(schema, rt, mapping, headers, &out.body)?;
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

/// `/ServiceProviderConfig`, `/Schemas[/URN]`, `/ResourceTypes[/NAME]`:
/// the tenant-facing view (RFC 7644 §4), never the upstream's. `item` is
/// the decoded second segment.
fn discovery_answer(
    schema: &TenantSchema,
    method: &Method,
    kind: Discovery,
    item: Option<&str>,
    base: &str,
) -> ScimResult<Response<Bytes>> {
    if *method != Method::GET {
        return Err(ScimError::new(
            405,
            None,
            format!("/{} is read-only: use GET", kind.name()),
        ));
    }
    let registry = &schema.registry;
    let body = match (kind, item) {
        (Discovery::ServiceProviderConfig, _) => {
            discovery::service_provider_config(&schema.capabilities, base)
        }
        (Discovery::Schemas, None) => discovery::schemas_response(registry, base),
        (Discovery::Schemas, Some(urn)) => registry
            .schema(urn)
            .map(|s| s.to_json(&format!("{base}/Schemas/{}", s.id)))
            .ok_or_else(|| ScimError::not_found(format!("schema \"{urn}\" not found")))?,
        (Discovery::ResourceTypes, None) => discovery::resource_types_response(registry, base),
        (Discovery::ResourceTypes, Some(name)) => registry
            .resource_type(name)
            .map(|rt| rt.to_json(base))
            .ok_or_else(|| ScimError::not_found(format!("resource type \"{name}\" not found")))?,
    };
    Ok(json_response(200, &body))
}

/// A JSON answer with the SCIM media type.
pub fn json_response(status: u16, body: &Value) -> Response<Bytes> {
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    let mut response = Response::new(bytes);
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json"),
    );
    response
}

/// Bodies must be JSON: `application/scim+json` or `application/json`
/// (RFC 7644 §3.1; `+json` suffixes too); a missing type is accepted.
fn json_body(headers: &HeaderMap, body: &Bytes) -> ScimResult<Value> {
    check_media_type(headers)?;
    parse_body(body)
}

/// The body as JSON (its media type already checked).
fn parse_body(body: &Bytes) -> ScimResult<Value> {
    if body.is_empty() {
        return Err(ScimError::invalid_syntax(
            "the request body is empty; a JSON object is required",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")))
}

/// 415 unless the body is declared JSON (or not declared at all).
fn check_media_type(headers: &HeaderMap) -> ScimResult<()> {
    if let Some(ct) = headers.get(CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        let media = ct.split(';').next().unwrap_or("").trim();
        let ok = media.eq_ignore_ascii_case("application/scim+json")
            || media.eq_ignore_ascii_case("application/json")
            || media
                .get(media.len().saturating_sub(5)..)
                .is_some_and(|s| s.eq_ignore_ascii_case("+json"));
        if !ok {
            return Err(ScimError::unsupported_media_type(format!(
                "Content-Type \"{}\" is not supported; send application/scim+json",
                ct.chars().take(64).collect::<String>()
            )));
        }
    }
    Ok(())
}

fn to_bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// POST and PUT bodies: validated, normalized, mapped.
fn resource_body(
    schema: &TenantSchema,
    rt: &ResourceType,
    mapping: Option<&ResourceMapping>,
    headers: &HeaderMap,
    body: &Bytes,
) -> ScimResult<Bytes> {
    if !schema.validate && mapping.is_none() {
        return Ok(body.clone());
    }
    check_media_type(headers)?;
    if mapping.is_none() {
        // Most bodies need no normalization: checked without building
        // values and forwarded as written, readOnly members cut.
        if let Some(bytes) = verbatim(&schema.registry, rt, body) {
            return Ok(bytes);
        }
    }
    let value = parse_body(body)?;
    let value = if schema.validate {
        validate_resource_owned(&schema.registry, rt, value, None)?
    } else {
        value
    };
    let value = match mapping {
        Some(m) => m.into_upstream(value)?,
        None => value,
    };
    Ok(to_bytes(&value))
}

/// PATCH bodies: checked, then mapped (paths, filters, values). The
/// parsed request comes back too, for an emulated PATCH to apply in the
/// tenant's schema.
fn patch_body(
    schema: &TenantSchema,
    rt: &ResourceType,
    mapping: Option<&ResourceMapping>,
    headers: &HeaderMap,
    body: &Bytes,
) -> ScimResult<(Bytes, Option<PatchRequest>)> {
    if !schema.validate && mapping.is_none() {
        // Not parsed here; still bounded before an emulated PATCH or the
        // built-in store applies it (a document the scanner declines is
        // parsed to count).
        let count = std::str::from_utf8(body)
            .ok()
            .and_then(crate::scim::json_scan::operations_len)
            .or_else(|| parse_body(body).ok().map(|v| operation_count(&v)))
            .unwrap_or(0);
        check_operation_count(count, schema.max_patch_operations)?;
        return Ok((body.clone(), None));
    }
    let value = json_body(headers, body)?;
    // After the dialect, which may have split operations (a remove by a
    // value list becomes one remove per value).
    check_operation_count(operation_count(&value), schema.max_patch_operations)?;
    let request = PatchRequest::parse(&value)?;
    if schema.validate {
        check_patch(&schema.registry, rt, &request)?;
    }
    match mapping {
        Some(m) => {
            let mapped = m.patch_to_upstream(&request)?;
            if mapped.operations.is_empty() {
                // Only attributes that never go upstream: RFC 7644 §3.5.2
                // has no empty PatchOp; refuse rather than lose it quietly.
                return Err(ScimError::invalid_value(
                    "every operation of this PATCH targets attributes this tenant keeps \
                     at the gateway only; nothing would change",
                ));
            }
            Ok((to_bytes(&patch_to_json(&mapped)), Some(request)))
        }
        None => Ok((body.clone(), Some(request))),
    }
}

/// A Bulk request: every operation validated and mapped by its path.
fn bulk<'t>(
    schema: &'t TenantSchema,
    headers: &HeaderMap,
    query: Option<String>,
    body: Bytes,
) -> ScimResult<Stage<'t>> {
    let table = schema.mapping.as_ref();
    if !schema.validate && table.is_none() {
        let mut stage = forward(query, body);
        if let Stage::Forward(i) = &mut stage {
            i.bulk = true;
        }
        return Ok(stage);
    }
    json_body(headers, &body)?;
    let request = BulkRequest::parse(&body, schema.bulk)?;
    for (i, op) in request.operations.iter().enumerate() {
        let checked = match (op.method, &op.data) {
            (BulkMethod::Patch, Some(data)) => {
                check_operation_count(operation_count(data), schema.max_patch_operations)
            }
            _ => Ok(()),
        };
        checked.map_err(|e| e.with_context(&format!("Operations[{i}]")))?;
    }
    // Each PATCH parsed once: checked, and kept for an emulated PATCH.
    let mut patches = Vec::new();
    if schema.validate || table.is_some() {
        for (i, op) in request.operations.iter().enumerate() {
            let kept = check_bulk_op(schema, op).map_err(|e| {
                let id = op
                    .bulk_id
                    .as_deref()
                    .map(|b| format!(" (bulkId \"{b}\")"))
                    .unwrap_or_default();
                e.with_context(&format!("Operations[{i}]{id}"))
            })?;
            patches.push(kept);
        }
    }
    let body = match table {
        Some(t) => {
            let value: Value = serde_json::from_slice(&body)
                .map_err(|e| ScimError::invalid_syntax(format!("not valid JSON: {e}")))?;
            to_bytes(&t.bulk_request_to_upstream(&value)?)
        }
        None => body,
    };
    Ok(Stage::Forward(Inbound {
        query,
        body,
        mapping: None,
        table,
        shape: if table.is_some() {
            Shape::Bulk
        } else {
            Shape::Opaque
        },
        deprovision: false,
        bulk: true,
        emulated: None,
        tenant_patch: if patches.iter().any(Option::is_some) {
            TenantPatch::Bulk(patches)
        } else {
            TenantPatch::None
        },
    }))
}

/// One Bulk operation checked (when the tenant validates); a PATCH comes
/// back parsed, with its resource type.
fn check_bulk_op(
    schema: &TenantSchema,
    op: &crate::scim::bulk::BulkOperation,
) -> ScimResult<Option<(String, PatchRequest)>> {
    let first = op.path.split('/').find(|s| !s.is_empty()).unwrap_or("");
    let Some(rt) = schema.registry.resource_type_by_endpoint(first) else {
        if !schema.validate {
            return Ok(None);
        }
        return Err(ScimError::invalid_path(format!(
            "\"{}\" is not an endpoint of this tenant",
            op.path
        )));
    };
    let mapped = schema
        .mapping
        .as_ref()
        .is_some_and(|t| t.resource(&rt.name).is_some());
    match (op.method, &op.data) {
        (BulkMethod::Post | BulkMethod::Put, Some(data)) if schema.validate => {
            validate_resource(&schema.registry, rt, data, None).map(|_| None)
        }
        (BulkMethod::Patch, Some(data)) if schema.validate || mapped => {
            let request = PatchRequest::parse(data)?;
            if schema.validate {
                check_patch(&schema.registry, rt, &request)?;
            }
            Ok(Some((rt.name.clone(), request)))
        }
        (BulkMethod::Post | BulkMethod::Put | BulkMethod::Patch, Some(_))
        | (BulkMethod::Delete, _) => Ok(None),
        (method, None) if schema.validate => Err(ScimError::invalid_syntax(format!(
            "{} needs \"data\"",
            method.as_str()
        ))),
        (_, None) => Ok(None),
    }
}

/// A SearchRequest body: checked, then its filter, sortBy and projection
/// mapped.
fn search_body(
    schema: &TenantSchema,
    mapping: Option<&ResourceMapping>,
    headers: &HeaderMap,
    body: &Bytes,
) -> ScimResult<Bytes> {
    if !schema.validate && mapping.is_none() {
        return Ok(body.clone());
    }
    let mut value = json_body(headers, body)?;
    ListQuery::from_search_body(&value)?;
    if mapping.is_none() {
        return Ok(body.clone());
    }
    rewrite_search(&[mapping], &mut value)?;
    Ok(to_bytes(&value))
}

/// A SearchRequest across resource types (RFC 7644 §3.4.3 at the root):
/// filter and sortBy must mean the same upstream for every type (a type
/// the table does not map reads them as sent), else they cannot be sent as
/// one search; projections take the union.
fn root_search_body(
    schema: &TenantSchema,
    table: &CompiledMapping,
    headers: &HeaderMap,
    body: &Bytes,
) -> ScimResult<Bytes> {
    let mut value = json_body(headers, body)?;
    if let Some(filter) = ListQuery::from_search_body(&value)?.filter {
        emulated_filter::refuse_at_root(table, &filter)?;
    }
    let unmapped = schema
        .registry
        .resource_types()
        .iter()
        .any(|rt| table.resource(&rt.name).is_none());
    let mut ms: Vec<Option<&ResourceMapping>> = table.resources().map(Some).collect();
    if unmapped {
        ms.push(None);
    }
    rewrite_search(&ms, &mut value)?;
    Ok(to_bytes(&value))
}

/// Rewrites the parameters of a SearchRequest for every reader in `ms`
/// (`None`: a type read as sent).
fn rewrite_search(ms: &[Option<&ResourceMapping>], value: &mut Value) -> ScimResult<()> {
    let Value::Object(obj) = value else {
        return Ok(());
    };
    for (key, v) in obj.iter_mut() {
        if is_projection(key) {
            // `attributes` is a list of strings (RFC 7644 §3.4.3); some
            // clients send one comma-separated string. Same form back.
            let names: Vec<&str> = match &*v {
                Value::String(s) => s.split(',').collect(),
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => continue,
            };
            let joined = names.join(",");
            // Naming an attribute a type lacks is harmless in a
            // projection: the union serves every type.
            let mut union: Vec<String> = Vec::new();
            for m in ms {
                let mapped = match m {
                    Some(m) => map_param(m, key, &joined)?.unwrap_or_else(|| joined.clone()),
                    None => joined.clone(),
                };
                for name in mapped.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    if !union.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                        union.push(name.to_string());
                    }
                }
            }
            *v = match &*v {
                Value::String(_) => Value::String(union.join(",")),
                _ => Value::Array(union.into_iter().map(Value::String).collect()),
            };
            continue;
        }
        let Some(s) = v.as_str() else {
            continue;
        };
        let mut agreed: Option<String> = None;
        for m in ms {
            let mapped = match m {
                Some(m) => map_param(m, key, s)?.unwrap_or_else(|| s.to_string()),
                None => s.to_string(),
            };
            match &agreed {
                Some(a) if *a != mapped => {
                    let endpoint = ms
                        .iter()
                        .flatten()
                        .next()
                        .map_or("Users", |m| m.endpoint().trim_start_matches('/'));
                    return Err(ScimError::invalid_filter(format!(
                        "{key} \"{s}\" names attributes kept differently per resource type \
                         at this tenant's backend; search /{endpoint}/.search instead"
                    )));
                }
                _ => agreed = Some(mapped),
            }
        }
        if let Some(a) = agreed {
            *v = Value::String(a);
        }
    }
    Ok(())
}

fn is_projection(key: &str) -> bool {
    key.eq_ignore_ascii_case("attributes") || key.eq_ignore_ascii_case("excludedAttributes")
}

/// One list parameter in upstream terms; `None` when it is not mapped.
fn map_param(m: &ResourceMapping, key: &str, value: &str) -> ScimResult<Option<String>> {
    if key.eq_ignore_ascii_case("filter") {
        let filter = Filter::parse(value)?;
        let mapped = m.filter_to_upstream(&filter).map_err(|e| e.into_scim())?;
        return Ok(Some(mapped.to_string()));
    }
    if key.eq_ignore_ascii_case("sortBy") {
        let path = AttrPath::parse(value.trim())?;
        return Ok(Some(m.sort_by_to_upstream(&path)?.to_string()));
    }
    if is_projection(key) {
        let paths = value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(AttrPath::parse)
            .collect::<ScimResult<Vec<_>>>()?;
        let mapped = m.attributes_to_upstream(&paths);
        let text: Vec<String> = mapped.iter().map(ToString::to_string).collect();
        return Ok(Some(text.join(",")));
    }
    Ok(None)
}

/// A list query string: checked (when validating) and mapped.
fn list_query(
    schema: &TenantSchema,
    mapping: Option<&ResourceMapping>,
    query: Option<String>,
) -> ScimResult<Option<String>> {
    let Some(q) = query else {
        return Ok(None);
    };
    if schema.validate && mapping.is_none() {
        ListQuery::from_query(&q)?;
        return Ok(Some(q));
    }
    rewrite_query(mapping, q)
}

/// `attributes` / `excludedAttributes` of a single-resource request.
fn resource_query(
    mapping: Option<&ResourceMapping>,
    query: Option<String>,
) -> ScimResult<Option<String>> {
    match query {
        Some(q) if mapping.is_some() => rewrite_query(mapping, q),
        other => Ok(other),
    }
}

/// Rewrites the mapped parameters of a raw query; the others pass as they
/// came.
fn rewrite_query(mapping: Option<&ResourceMapping>, q: String) -> ScimResult<Option<String>> {
    let Some(m) = mapping else {
        return Ok(Some(q));
    };
    let mut out = String::with_capacity(q.len() + 16);
    for (raw, (key, value)) in q.split('&').filter(|p| !p.is_empty()).zip(query_pairs(&q)) {
        if !out.is_empty() {
            out.push('&');
        }
        match map_param(m, &key, &value)? {
            Some(mapped) => {
                out.push_str(&encode_component(&key));
                out.push('=');
                out.push_str(&encode_component(&mapped));
            }
            None => out.push_str(raw),
        }
    }
    Ok(Some(out))
}

/// A PUT body with `"active": false` (the tenant's names, before mapping).
fn deactivates_put(body: &Bytes) -> bool {
    // Cheap test first: most bodies never mention it.
    memchr::memmem::find(body, b"false").is_some()
        && serde_json::from_slice::<Value>(body).ok().and_then(|v| {
            v.as_object()
                .and_then(|o| crate::scim::json::get_ci(o, "active").cloned())
        }) == Some(Value::Bool(false))
}

/// A PATCH that sets `active` to false: `replace`/`add` with path `active`,
/// or a path-less value holding `"active": false`.
fn deactivates_patch(body: &Bytes) -> bool {
    if memchr::memmem::find(body, b"false").is_none() {
        return false;
    }
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let ops = v
        .as_object()
        .and_then(|o| crate::scim::json::get_ci(o, "Operations"))
        .and_then(Value::as_array);
    ops.into_iter().flatten().any(|op| {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        if kind.eq_ignore_ascii_case("remove") {
            return false;
        }
        let value = op.get("value");
        match op.get("path").and_then(Value::as_str) {
            Some(p) => p.eq_ignore_ascii_case("active") && value == Some(&Value::Bool(false)),
            None => {
                value
                    .and_then(Value::as_object)
                    .and_then(|o| crate::scim::json::get_ci(o, "active"))
                    == Some(&Value::Bool(false))
            }
        }
    })
}

/// The operations of a BulkResponse: (succeeded, failed), by each
/// operation's `status` (RFC 7644 §3.7.3).
pub fn bulk_outcomes(body: &[u8]) -> Option<(u64, u64)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let ops = v
        .as_object()
        .and_then(|o| crate::scim::json::get_ci(o, "Operations"))?
        .as_array()?;
    let failed = ops
        .iter()
        .filter(|op| {
            let status = match op.get("status") {
                Some(Value::String(s)) => s.parse::<u16>().unwrap_or(500),
                Some(Value::Number(n)) => n
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .unwrap_or(500),
                _ => 500,
            };
            status >= 400
        })
        .count() as u64;
    Some((ops.len() as u64 - failed, failed))
}

/// Sets `Content-Length` for a rewritten body (hyper would otherwise
/// trust the upstream's).
fn fix_length(headers: &mut HeaderMap, len: usize) {
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
}
