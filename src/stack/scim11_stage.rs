//! SCIM 1.1 upstreams (`[upstreams.NAME] dialect = "scim1.1"`): the
//! upstream-facing SCIM 2.0 request (after mapping) translated to 1.1, the
//! answer translated back, with the pure functions of [`crate::scim11`].
//!
//! - POST and PUT bodies: 1.1 resources (core schema
//!   `urn:scim:schemas:core:1.0`, no `$ref`, enterprise 1.0 extension).
//! - PATCH: a 1.1 partial resource (`meta.attributes`, `"operation":
//!   "delete"`); what 1.1 cannot say (a filter selecting by something other
//!   than `value`, a replace of one element's sub-attribute, ...) is done
//!   here: GET, apply the 2.0 operations, PUT with `If-Match` (up to three
//!   tries when the version moved under us: 412). The operations are the
//!   client's in the tenant's view when the schema stage kept them (a
//!   mapped tenant's: `schema_stage::emulated_patch`), as the mapped ones
//!   name the backend's own extensions, unknown to the built-in schemas.
//! - Lists: the query in 1.1 terms (`sortBy`, `startIndex`, `count`, the
//!   filter operators 1.1 has); `/.search` becomes a GET.
//! - Answers: resources, lists and the 1.1 error format
//!   (`{"Errors": [{"code", "description"}]}`) as SCIM 2.0.
//! - Bulk has no translation yet: 501 (and the tenant's
//!   /ServiceProviderConfig says `bulk.supported: false`).
use crate::error::{GatewayError, Reason};
use crate::scim::error::ScimError;
use crate::scim::patch::PatchRequest;
use crate::scim::query::ListQuery;
use crate::scim::schema::SchemaRegistry;
use crate::scim11::{
    emulate_patch_put, patch_to_scim11, query_to_scim11, resource_from_scim11, resource_to_scim11,
    response_from_scim11, ResourceKind,
};
use crate::upstream::emulate::patch::{View, Views};
use crate::upstream::{self, Deadline, UpstreamRequest};
use crate::upstream::{Upstream, UpstreamTarget};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MATCH};
use http::{HeaderValue, Method, Response};
use serde_json::Value;
use std::sync::Arc;

/// Tries of GET + apply + PUT when the resource changes in between.
const EMULATION_TRIES: usize = 3;

/// Sends a SCIM 2.0 request to a SCIM 1.1 upstream and answers in 2.0.
pub(super) async fn forward(
    upstream: &Upstream,
    req: UpstreamRequest,
    max_response_body: usize,
    deadline: Deadline,
    patch_view: Option<Views>,
) -> Result<Response<Bytes>, GatewayError> {
    let mut segments = req.path.split('/').filter(|s| !s.is_empty());
    let (first, second) = (segments.next().unwrap_or(""), segments.next());
    let kind = [ResourceKind::User, ResourceKind::Group]
        .into_iter()
        .find(|k| k.endpoint().eq_ignore_ascii_case(first));
    let bulk = first.eq_ignore_ascii_case("Bulk");
    let (is_item, search) = (
        second.is_some(),
        second.is_some_and(|s| s.eq_ignore_ascii_case(".search")),
    );
    let Some(kind) = kind else {
        if bulk {
            return Err(client(ScimError::not_implemented(
                "Bulk is not available for this tenant: its backend speaks SCIM 1.1",
            )));
        }
        // Nothing to translate (discovery never gets here).
        return upstream::forward(upstream, req, max_response_body, deadline).await;
    };
    let base = match &upstream.target {
        UpstreamTarget::Http(http) => Some(http.rebase().as_str().to_string()),
        UpstreamTarget::Builtin(_) => None,
    };
    let mut req = req;
    match req.method.clone() {
        Method::POST if search => {
            let query = parse_json(&req.body).and_then(|b| ListQuery::from_search_body(&b));
            let query = query.map_err(client)?;
            let q11 = query_to_scim11(&query).map_err(|e| client(e.into_scim_error()))?;
            req.method = Method::GET;
            req.path = format!("/{}", kind.endpoint());
            req.query = Some(q11.to_query_string()).filter(|q| !q.is_empty());
            req.body = Bytes::new();
            req.headers.remove(CONTENT_TYPE);
        }
        Method::GET if !is_item => {
            if let Some(q) = req.query.take() {
                let query = ListQuery::from_query(&q).map_err(client)?;
                let q11 = query_to_scim11(&query).map_err(|e| client(e.into_scim_error()))?;
                req.query = Some(q11.to_query_string()).filter(|q| !q.is_empty());
            }
        }
        Method::POST | Method::PUT => {
            let body = parse_json(&req.body).map_err(client)?;
            set_body(&mut req, &resource_to_scim11(&body));
        }
        Method::PATCH => {
            let patch = parse_json(&req.body)
                .and_then(|b| PatchRequest::parse(&b))
                .map_err(client)?;
            match patch_to_scim11(&patch) {
                Ok(body) => set_body(&mut req, &body),
                Err(e) if e.needs_emulation() => {
                    // The client's PatchOp in its own view, when the
                    // schema stage kept it (`schema_stage::emulated_patch`).
                    let how = match patch_view {
                        Some(Views::One(view)) => How::View(view),
                        _ => How::Upstream(&patch),
                    };
                    return Box::pin(emulate_patch(
                        upstream,
                        req,
                        kind,
                        how,
                        base.as_deref(),
                        max_response_body,
                        deadline,
                    ))
                    .await;
                }
                Err(e) => return Err(client(e.into_scim_error())),
            }
        }
        _ => {}
    }
    let response = upstream::forward(upstream, req, max_response_body, deadline).await?;
    Ok(translate(response, kind, base.as_deref()))
}

/// The PATCH an emulation applies.
enum How<'p> {
    /// The mapped (upstream-named) PatchOp, with the built-in schemas: an
    /// unmapped tenant's.
    Upstream(&'p PatchRequest),
    /// The client's PatchOp in the tenant's view: the upstream resource
    /// (as 2.0) mapped to the tenant's names, patched with the tenant's
    /// schemas, mapped back. The mapped PatchOp names the upstream's own
    /// attributes and extensions, which the built-in schemas do not
    /// define (an `invalidPath`).
    View(Arc<dyn View>),
}

/// GET, apply the 2.0 operations at the gateway, PUT with `If-Match`.
async fn emulate_patch(
    upstream: &Upstream,
    req: UpstreamRequest,
    kind: ResourceKind,
    how: How<'_>,
    base: Option<&str>,
    max_response_body: usize,
    deadline: Deadline,
) -> Result<Response<Bytes>, GatewayError> {
    let registry = SchemaRegistry::builtin();
    for _ in 0..EMULATION_TRIES {
        let read = upstream::forward(
            upstream,
            derived(&req, Method::GET, Bytes::new()),
            max_response_body,
            deadline,
        )
        .await?;
        if !read.status().is_success() {
            return Ok(translate(read, kind, base));
        }
        let version = read.headers().get(ETAG).cloned().or_else(|| {
            parse_json(read.body())
                .ok()
                .and_then(|v| {
                    v.pointer("/meta/version")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .and_then(|v| HeaderValue::from_str(&v).ok())
        });
        let current = parse_json(read.body()).map_err(|_| {
            GatewayError::upstream(
                "the SCIM 1.1 backend answered a read with something that is not JSON",
                Reason::UpstreamProtocol,
                "scim1.1 emulation read",
            )
        })?;
        let put = match &how {
            How::Upstream(patch) => {
                emulate_patch_put(&registry, kind, &current, patch).map_err(client)?
            }
            How::View(view) => {
                let resource = resource_from_scim11(&current, kind, None);
                let viewed = view.apply(&resource, req.filtered_upsert).map_err(client)?;
                let Some(mut written) = viewed.written else {
                    // Nothing changes: the resource as read.
                    return Ok(translate(read, kind, base));
                };
                // `meta` is readOnly (RFC 7643 §3.1).
                if let Value::Object(o) = &mut written {
                    crate::scim::json::remove_ci(o, "meta");
                }
                resource_to_scim11(&written)
            }
        };
        let mut write = derived(&req, Method::PUT, Bytes::new());
        set_body(&mut write, &put);
        if let Some(v) = version {
            write.headers.insert(IF_MATCH, v);
        }
        let written = upstream::forward(upstream, write, max_response_body, deadline).await?;
        if written.status() != http::StatusCode::PRECONDITION_FAILED {
            return Ok(translate(written, kind, base));
        }
    }
    Err(client(ScimError::new(
        409,
        None,
        format!(
            "the resource kept changing while the gateway applied this PATCH \
             ({EMULATION_TRIES} tries); send it again"
        ),
    )))
}

/// A request to the same resource with another method and body.
fn derived(req: &UpstreamRequest, method: Method, body: Bytes) -> UpstreamRequest {
    let mut headers = req.headers.clone();
    headers.remove(CONTENT_LENGTH);
    headers.remove(IF_MATCH);
    if body.is_empty() {
        headers.remove(CONTENT_TYPE);
    }
    UpstreamRequest {
        method,
        path: req.path.clone(),
        query: None,
        headers,
        body,
        request_id: req.request_id.clone(),
        client_ip: req.client_ip,
        forwarded_for: req.forwarded_for.clone(),
        client_proto: req.client_proto,
        client_host: req.client_host.clone(),
        public_base: req.public_base.clone(),
        filtered_upsert: false,
    }
}

fn set_body(req: &mut UpstreamRequest, body: &Value) {
    req.body = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    req.headers.remove(CONTENT_LENGTH);
    req.headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
}

/// A 1.1 answer in 2.0: resources and lists translated, errors in the 2.0
/// error format; empty bodies (204) as they are.
fn translate(response: Response<Bytes>, kind: ResourceKind, base: Option<&str>) -> Response<Bytes> {
    let (mut parts, body) = response.into_parts();
    if body.is_empty() {
        return Response::from_parts(parts, body);
    }
    let status = parts.status.as_u16();
    let value = match parse_json(&body) {
        Ok(v) => v,
        Err(_) if status >= 400 => Value::Null,
        Err(_) => return Response::from_parts(parts, body),
    };
    let out = match response_from_scim11(status, &value, kind, base) {
        Ok(v) => v,
        Err(e) => {
            if e.status() != status {
                // A list the backend broke: the gateway's 502.
                parts.status =
                    http::StatusCode::from_u16(e.status()).unwrap_or(http::StatusCode::BAD_GATEWAY);
            }
            e.to_json()
        }
    };
    let bytes = Bytes::from(serde_json::to_vec(&out).unwrap_or_default());
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    parts.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json"),
    );
    Response::from_parts(parts, bytes)
}

fn parse_json(body: &Bytes) -> Result<Value, ScimError> {
    serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}")))
}

fn client(e: ScimError) -> GatewayError {
    GatewayError::client_reason(e, Reason::Scim11)
}
