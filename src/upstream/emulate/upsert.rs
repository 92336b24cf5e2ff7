//! A PATCH marked `filtered_upsert` (Entra's dialect) for an upstream that
//! applies PATCH itself: the resource is read, the value-filtered adds and
//! replaces that select nothing are turned into adds of the element
//! ([`crate::dialect::resolve_upserts`], which explains why), and the
//! PATCH that results is sent. When nothing needs creating, the PATCH is
//! sent as it came.
//!
//! A tenant whose PATCH the schema stage kept (a mapped one, above all)
//! resolves in its own view instead ([`Resolver::View`]): behind a mapping
//! table the filter names the tenant's attributes, which the table may
//! have moved into an extension the schema-less application cannot reach,
//! or into another element; the view gives the PatchOp to send.
//!
//! The read and the PATCH are two calls: another writer could add the
//! element between them, and the PATCH would then add a second one. The
//! pipeline's write ordering (one write per resource at a time, or a shared
//! lease across replicas) keeps the gateway's own writers apart; against
//! writers behind its back, a PATCH that was rewritten carries `If-Match`
//! with the version read when the upstream has versions (and the client
//! sent no precondition of its own), and a 412 starts over, up to
//! `patch_attempts` times, as emulated PATCH does. The emulated PATCH
//! ([`super::patch`]) resolves the same way against the resource it reads.
use super::patch::View;
use super::{endpoint_of, etag, schema_less, Context};
use crate::dialect::{has_upsert_candidates, resolve_upserts};
use crate::error::GatewayError;
use crate::mapping::patch_to_json;
use crate::offload;
use crate::scim::patch::PatchRequest;
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use http::header::{HeaderValue, IF_MATCH};
use http::{Method, Response, StatusCode};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;

/// The parsed PATCH when it has operations that may be upserts (a large
/// body is parsed off the reactor, `crate::offload`).
pub(crate) async fn candidates(req: &UpstreamRequest) -> Option<Arc<PatchRequest>> {
    if !req.filtered_upsert || req.method != Method::PATCH {
        return None;
    }
    let parse = |body: &[u8]| {
        let body: Value = serde_json::from_slice(body).ok()?;
        let patch = PatchRequest::parse(&body).ok()?;
        has_upsert_candidates(&patch).then(|| Arc::new(patch))
    };
    if offload::worth_it(req.body.len()) {
        let body = req.body.clone();
        offload::blocking(move || parse(&body)).await.ok()?
    } else {
        parse(&req.body)
    }
}

/// `patch` with its upserts resolved against `resource` (read from
/// `endpoint`, the first path segment); `None` when nothing changes.
pub(crate) fn resolve(
    endpoint: &str,
    resource: &Value,
    patch: &PatchRequest,
) -> Option<PatchRequest> {
    resolve_upserts(resource, patch, |r, p| schema_less::apply(endpoint, r, p))
}

/// What resolves the upserts of a PATCH sent natively.
pub(crate) enum Resolver {
    /// The request's own PatchOp, in the upstream's names, resolved
    /// schema-lessly against the upstream resource ([`candidates`]).
    Upstream(Arc<PatchRequest>),
    /// The client's PatchOp, resolved in its view (a mapped tenant's:
    /// its filters name the tenant's attributes, which the table may have
    /// moved anywhere upstream), which gives the PatchOp to send.
    View(Arc<dyn View>),
}

impl Resolver {
    /// The PatchOp to send against `resource`; `None` when nothing
    /// changes. A view's error is the client's (a resolved operation the
    /// table cannot map).
    fn resolve(&self, endpoint: &str, resource: &Value) -> Result<Option<Value>, GatewayError> {
        let resolved = match self {
            Resolver::Upstream(patch) => resolve(endpoint, resource, patch),
            Resolver::View(view) => view
                .resolve_upserts(resource)
                .map_err(GatewayError::client)?,
        };
        Ok(resolved.map(|p| patch_to_json(&p)))
    }
}

/// The read resource and the PATCH body with its upserts resolved;
/// `None` when there is nothing to resolve against or nothing changes.
/// Off the reactor when large.
async fn resolve_read(
    endpoint: &str,
    current: &Response<Bytes>,
    resolver: &Arc<Resolver>,
) -> Result<Option<(Value, Bytes)>, GatewayError> {
    let work = |endpoint: &str, body: &[u8], resolver: &Resolver| {
        let Some(resource) = serde_json::from_slice::<Value>(body)
            .ok()
            .filter(Value::is_object)
        else {
            return Ok(None);
        };
        let Some(resolved) = resolver.resolve(endpoint, &resource)? else {
            return Ok(None);
        };
        let bytes = serde_json::to_vec(&resolved).unwrap_or_default();
        Ok(Some((resource, Bytes::from(bytes))))
    };
    if offload::worth_it(current.body().len()) {
        let (endpoint, body, resolver) = (
            endpoint.to_string(),
            current.body().clone(),
            resolver.clone(),
        );
        offload::blocking(move || work(&endpoint, &body, &resolver))
            .await
            .map_err(|e| GatewayError::internal(e.detail()))?
    } else {
        work(endpoint, current.body(), resolver)
    }
}

/// Sends the PATCH natively, its upserts resolved first (see the module
/// doc).
pub(crate) async fn native<S, F>(
    ctx: &Context<'_>,
    req: UpstreamRequest,
    resolver: Resolver,
    send: &S,
) -> Result<Response<Bytes>, GatewayError>
where
    S: Fn(UpstreamRequest) -> F,
    F: Future<Output = Result<Response<Bytes>, GatewayError>>,
{
    let endpoint = endpoint_of(&req.path);
    let resolver = Arc::new(resolver);
    let client_precondition = req.headers.contains_key(IF_MATCH);
    let attempts = ctx.emulation.settings.patch_attempts.max(1);
    let mut last = None;
    for _ in 0..attempts {
        let current = send(req.derive(Method::GET, &req.path, None, Bytes::new())).await?;
        if current.status() != StatusCode::OK {
            // No resource to resolve against: the PATCH as sent gets the
            // upstream's own answer (a 404 most likely).
            return send(req.clone_request()).await;
        }
        let Some((resource, body)) = resolve_read(&endpoint, &current, &resolver).await? else {
            return send(req.clone_request()).await;
        };
        upserted(ctx);
        let mut rewritten = req.derive(Method::PATCH, &req.path, req.query.clone(), body);
        let version = etag::native_version(current.headers(), &resource);
        let guarded = !client_precondition && version.is_some();
        if let Some(v) = version
            .filter(|_| guarded)
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            rewritten.headers.insert(IF_MATCH, v);
        }
        let answer = send(rewritten).await?;
        if guarded && answer.status() == StatusCode::PRECONDITION_FAILED {
            last = Some(answer);
            continue;
        }
        return Ok(answer);
    }
    last.ok_or_else(|| GatewayError::internal("upsert resolution made no attempt"))
}

/// Counts a PATCH whose upserts were resolved
/// (`scim_gateway_emulated_total{capability="filtered_upsert"}`).
pub(crate) fn upserted(ctx: &Context<'_>) {
    crate::telemetry::emit::Emulated {
        upstream: ctx.upstream,
        capability: "filtered_upsert",
    }
    .emit();
}
