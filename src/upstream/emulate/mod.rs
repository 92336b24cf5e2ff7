//! Capability emulation for legacy upstreams (docs/emulation.md): what an
//! upstream cannot do, the gateway does in front of it.
//!
//! | capability | when the upstream lacks it, the gateway... | module |
//! |---|---|---|
//! | PATCH (RFC 7644 §3.5.2) | GETs the resource, applies the PATCH itself, PUTs the result with `If-Match`; retries on 412 (bounded) | [`patch`] |
//! | Bulk (§3.7) | runs the operations one by one with `bulkId` resolution and `failOnErrors` | [`bulk`] |
//! | filtering (§3.4.2.2) | pages through the upstream and evaluates filter, sort and paging itself (bounded) | [`filter`] |
//! | ETags (§3.14) | derives weak ETags and evaluates `If-Match`/`If-None-Match` itself | [`etag`] |
//!
//! A mapped tenant's filter the mapping cannot send upstream is evaluated
//! the same way, in the tenant's schema, by the schema stage
//! (`stack::schema_stage::emulated_filter`, reusing `filter::read_all`
//! and `filter::evaluate` and this upstream's bounds).
//!
//! What an upstream supports is configured per upstream
//! (`[upstreams.X.capabilities]`: `true`, `false` or `"auto"`); `"auto"`
//! reads the upstream's `/ServiceProviderConfig` the first time a request
//! needs to know, and keeps the answer for a while ([`discover`]).
//!
//! Emulation works on upstream-facing requests (after mapping), in the
//! upstream's own attribute names; a PATCH the schema stage parsed is
//! applied in the tenant's view instead (`Context::patch_view`, given by
//! the schema stage's `emulated_patch`). Every call it makes goes through the
//! normal upstream path (credential, timeout, retries, circuit breaker),
//! within the request's deadline; the limits were admitted once, for the
//! client's request as a whole. The core is generic over "the upstream"
//! (an async function from request to response), so it is tested against
//! in-process fakes. What an emulation reads of the request, and the
//! requests it derives from it, are in `request`.
pub(crate) mod bulk;
pub(crate) mod discover;
pub(crate) mod etag;
pub(crate) mod filter;
pub(crate) mod patch;
mod request;
mod schema_less;
mod settings;
pub(crate) mod upsert;

pub(crate) use discover::Discovery;
pub(crate) use settings::{EmulationSettings, Support};

use request::{endpoint_of, has_filter, has_patch_operation, is_discovery, is_special, segments};

use super::{Deadline, UpstreamRequest};
use crate::error::GatewayError;
use crate::scim::schema::SchemaRegistry;
use crate::telemetry::emit::Emulated;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH};
use http::{HeaderValue, Method, Response, StatusCode};
use std::future::Future;
use std::sync::OnceLock;

/// The SCIM media type (RFC 7644 §8.1).
const SCIM_JSON: &str = "application/scim+json";

/// An upstream's emulation: its settings and what was discovered about it
/// (one per compiled upstream: a reload starts afresh).
#[derive(Debug, Default)]
pub struct Emulation {
    pub settings: EmulationSettings,
    pub discovery: Discovery,
}

/// The capabilities, as known for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Supported {
    pub patch: bool,
    pub bulk: bool,
    pub filter: bool,
    pub etag: bool,
}

/// One capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Patch,
    Bulk,
    Filter,
    Etag,
}

/// What the emulation of one request needs to know.
pub struct Context<'a> {
    pub upstream: &'a str,
    pub emulation: &'a Emulation,
    /// The in-process store supports everything: `"auto"` needs no look.
    pub builtin: bool,
    pub deadline: Deadline,
    /// How an emulated PATCH applies to the resource read: `None`, the
    /// upstream-named PATCH of the request, schema-less; `Some`, in the
    /// view of whoever sent the PATCH (a mapped tenant's: the schema
    /// stage's `emulated_patch`), which then writes the upstream resource;
    /// per operation for a Bulk request.
    pub patch_view: Option<patch::Views>,
}

// === impl Emulation ===

impl Emulation {
    /// Whether a PATCH to this upstream may be emulated (so its view is
    /// worth building): not when it is declared to PATCH, nor for the
    /// in-process store on `"auto"`.
    pub fn may_emulate_patch(&self, builtin: bool) -> bool {
        match self.settings.patch {
            Support::Yes => false,
            Support::No => true,
            Support::Auto => !builtin,
        }
    }
}

// === impl Capability ===

impl Capability {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Patch => "patch",
            Capability::Bulk => "bulk",
            Capability::Filter => "filter",
            Capability::Etag => "etag",
        }
    }
}

impl Supported {
    pub const ALL: Supported = Supported {
        patch: true,
        bulk: true,
        filter: true,
        etag: true,
    };

    fn get(self, c: Capability) -> bool {
        match c {
            Capability::Patch => self.patch,
            Capability::Bulk => self.bulk,
            Capability::Filter => self.filter,
            Capability::Etag => self.etag,
        }
    }
}

// === impl Context ===

impl Context<'_> {
    /// Whether the upstream supports `c`: as configured, or (for
    /// `"auto"`) as its `/ServiceProviderConfig` says.
    pub async fn supports<S, F>(&self, c: Capability, req: &UpstreamRequest, send: &S) -> bool
    where
        S: Fn(UpstreamRequest) -> F,
        F: Future<Output = Result<Response<Bytes>, GatewayError>>,
    {
        match self.emulation.settings.get(c) {
            Support::Yes => true,
            Support::No => false,
            Support::Auto if self.builtin => true,
            Support::Auto => self
                .emulation
                .discovery
                .supported(self, req, send)
                .await
                .get(c),
        }
    }

    fn emulated(&self, c: Capability) {
        Emulated {
            upstream: self.upstream,
            capability: c.as_str(),
        }
        .emit();
    }
}

/// Sends `req` upstream through `send`, emulating what the upstream
/// lacks. The one entry point: [`super::forward`] calls it.
///
/// A plain `fn` returning an `async move` block rather than an `async fn`
/// (as [`single`]): as an `async fn` it kept `req` (368 bytes) in its
/// future twice, as the argument and as the body's local
/// (`-Zprint-type-sizes`), and this future rides in every request's.
#[allow(clippy::manual_async_fn)] // the point: see the doc above
pub(crate) fn forward<'a, 'c, S, F>(
    ctx: &'a Context<'c>,
    req: UpstreamRequest,
    send: &'a S,
) -> impl Future<Output = Result<Response<Bytes>, GatewayError>> + use<'a, 'c, S, F>
where
    S: Fn(UpstreamRequest) -> F,
    F: Future<Output = Result<Response<Bytes>, GatewayError>>,
{
    async move {
        let segments = segments(&req.path);
        let is = |s: Option<&&str>, name: &str| s.is_some_and(|s| s.eq_ignore_ascii_case(name));
        match (&req.method, segments.as_slice()) {
            (&Method::POST, [s]) if s.eq_ignore_ascii_case("Bulk") => {
                // A native Bulk runs its PATCH operations natively too: where
                // the upstream lacks PATCH, the gateway runs the Bulk itself so
                // that each PATCH operation is emulated.
                if Box::pin(ctx.supports(Capability::Bulk, &req, send)).await
                    && (!has_patch_operation(&req.body)
                        || Box::pin(ctx.supports(Capability::Patch, &req, send)).await)
                {
                    return send(req).await;
                }
                ctx.emulated(Capability::Bulk);
                Box::pin(bulk::run(ctx, req, send)).await
            }
            // The emulations are boxed: their state is large, and a request
            // that needs none (most) should not carry it.
            (&Method::GET, [s]) if s.eq_ignore_ascii_case("ServiceProviderConfig") => {
                Box::pin(discover::serve_config(ctx, req, send)).await
            }
            (&Method::GET, [kind]) if !is_discovery(kind) && has_filter(req.query.as_deref()) => {
                Box::pin(filter::list(ctx, req, send)).await
            }
            (&Method::POST, [kind, s]) if is(Some(s), ".search") && !is_discovery(kind) => {
                Box::pin(filter::list(ctx, req, send)).await
            }
            _ => single(ctx, req, send).await,
        }
    }
}

/// A request on one resource (or anything else that needs no Bulk or list
/// emulation): PATCH and ETag emulation. Bulk operations come here too.
///
/// A plain `fn` returning an `async move` block: see [`forward`].
#[allow(clippy::manual_async_fn)] // the point: see the doc above
pub(crate) fn single<'a, 'c, S, F>(
    ctx: &'a Context<'c>,
    req: UpstreamRequest,
    send: &'a S,
) -> impl Future<Output = Result<Response<Bytes>, GatewayError>> + use<'a, 'c, S, F>
where
    S: Fn(UpstreamRequest) -> F,
    F: Future<Output = Result<Response<Bytes>, GatewayError>>,
{
    async move {
        let segments = segments(&req.path);
        let resource = matches!(segments.as_slice(), [kind, _] if !is_discovery(kind));
        let conditional =
            req.headers.contains_key(IF_MATCH) || req.headers.contains_key(IF_NONE_MATCH);
        if req.method == Method::PATCH && resource {
            // `"auto"` with nothing discovered yet: the PATCH itself is the
            // cheapest question (a 405 or 501 answers it), so no extra call.
            let patch_known = match ctx.emulation.settings.patch {
                Support::Yes => Some(true),
                Support::No => Some(false),
                Support::Auto if ctx.builtin => Some(true),
                Support::Auto => ctx.emulation.discovery.peek().map(|s| s.patch),
            };
            if patch_known == Some(false) {
                ctx.emulated(Capability::Patch);
                return Box::pin(patch::run(ctx, req, send)).await;
            }
            if conditional && !Box::pin(ctx.supports(Capability::Etag, &req, send)).await {
                ctx.emulated(Capability::Etag);
                return Box::pin(etag::conditional(ctx, req, send)).await;
            }
            // An upstream that claims PATCH and then refuses the method is
            // emulated all the same (and remembered). Entra's upserts on
            // filtered paths are resolved against the resource first.
            let resolver = match &ctx.patch_view {
                // The client's PatchOp, in its view (a mapped tenant's).
                Some(patch::Views::One(view)) if req.filtered_upsert => view
                    .has_upsert_candidates()
                    .then(|| upsert::Resolver::View(view.clone())),
                _ => upsert::candidates(&req)
                    .await
                    .map(upsert::Resolver::Upstream),
            };
            let response = match resolver {
                Some(r) => Box::pin(upsert::native(ctx, req.clone_request(), r, send)).await?,
                None => send(req.clone_request()).await?,
            };
            if !matches!(response.status().as_u16(), 405 | 501) {
                return Ok(etag::derive(ctx, response, true));
            }
            ctx.emulation
                .discovery
                .learn_unsupported(Capability::Patch, ctx.emulation.settings.discovery_ttl);
            ctx.emulated(Capability::Patch);
            return Box::pin(patch::run(ctx, req, send)).await;
        }
        if resource && conditional && !Box::pin(ctx.supports(Capability::Etag, &req, send)).await {
            ctx.emulated(Capability::Etag);
            return Box::pin(etag::conditional(ctx, req, send)).await;
        }
        let single_resource = resource
            || (req.method == Method::POST && segments.len() == 1 && !is_special(&segments));
        let response = send(req).await?;
        Ok(etag::derive(ctx, response, single_resource))
    }
}

// === helpers shared by the emulations ===

/// The built-in schemas: emulation reads upstream-facing resources, whose
/// attribute names are mostly those of RFC 7643 (others are handled
/// schema-lessly, see [`schema_less`]).
fn registry() -> &'static SchemaRegistry {
    static REGISTRY: OnceLock<SchemaRegistry> = OnceLock::new();
    REGISTRY.get_or_init(SchemaRegistry::builtin)
}

/// The JSON body of a response, if it has one.
fn json_of(response: &Response<Bytes>) -> Option<serde_json::Value> {
    serde_json::from_slice(response.body()).ok()
}

/// A SCIM JSON response made at the gateway.
fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Bytes> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

#[cfg(test)]
mod tests;
