//! The upstream stage, the one door to the upstream: the request built
//! from the route (it cannot leave the tenant's upstream base), sent to a
//! SCIM 2.0 upstream (with the emulations it needs: `upstream::emulate`),
//! translated for a SCIM 1.1 one (`scim11_stage`), or, for a list whose
//! filter the mapping cannot send, answered by listing and filtering at
//! the gateway (`schema_stage::emulated_filter`, whose page reads go
//! through this same door). On the way back, locations point at the
//! gateway, never upstream.
//!
//! Imports: `upstream` (the call, its request and deadline), the stages
//! that translate for it (`scim11_stage`, `schema_stage`), the request's
//! tenant, route and connection.
use super::schema_stage::emulated_filter::{self, EmulatedList};
use super::schema_stage::{emulated_patch, Inbound};
use super::scim11_stage;
use crate::client_addr::Client;
use crate::conn_info::ConnInfo;
use crate::dialect::{Rule, RuleSet};
use crate::error::GatewayError;
use crate::request_id::RequestId;
use crate::rewrite::Rebase;
use crate::scim::route::Route;
use crate::telemetry::emit::Emulated;
use crate::tenant::Tenant;
use crate::upstream::emulate::patch::Views;
use crate::upstream::emulate::{Context, Support};
use crate::upstream::{self, Deadline, UpstreamRequest};
use crate::upstream::{Upstream, UpstreamProtocol, UpstreamTarget};
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, LOCATION};
use http::Response;

/// What goes upstream besides the client's request: the schema stage's
/// query and body, and what the upstream call may have to emulate.
#[derive(Debug)]
pub(super) struct Outgoing {
    pub query: Option<String>,
    pub body: Bytes,
    /// Entra's upserts, resolved before the PATCH is applied.
    pub filtered_upsert: bool,
    /// The view an emulated PATCH applies in.
    pub patch_view: Option<Views>,
}

/// Takes the query and body the schema stage made. The tenant's PATCH,
/// should the upstream need it emulated (a SCIM 1.1 upstream's stage may
/// too), is applied in the tenant's schema (`schema_stage::emulated_patch`),
/// and Entra's upserts are resolved there; nothing to build where neither
/// can happen.
pub(super) fn outgoing(
    tenant: &Tenant,
    rules: Option<&RuleSet>,
    route: &Route,
    inbound: &mut Inbound<'_>,
) -> Outgoing {
    let (query, body) = (inbound.query.take(), std::mem::take(&mut inbound.body));
    let builtin = matches!(tenant.upstream.target, UpstreamTarget::Builtin(_));
    let filtered_upsert = rules.is_some_and(|r| r.is_on(Rule::FilteredUpsert) && !r.shadow);
    let patch_view = if tenant.upstream.emulation.may_emulate_patch(builtin)
        || filtered_upsert
        || matches!(tenant.upstream.protocol, UpstreamProtocol::Scim11)
    {
        emulated_patch::view(
            &tenant.schema,
            route.first_segment().unwrap_or(""),
            std::mem::take(&mut inbound.tenant_patch),
        )
    } else {
        None
    };
    Outgoing {
        query,
        body,
        filtered_upsert,
        patch_view,
    }
}

/// The upstream request. The target is built from the route: it cannot
/// leave the tenant's upstream base.
#[allow(clippy::too_many_arguments)] // the pieces the pipeline still owns
pub(super) fn request(
    parts: http::request::Parts,
    route: Route,
    host: String,
    public_base: &str,
    upstream: &Upstream,
    outgoing: &mut Outgoing,
    request_id: &RequestId,
    conn: &ConnInfo,
    client: &Client,
) -> UpstreamRequest {
    UpstreamRequest {
        method: parts.method,
        path: route.into_path(),
        query: outgoing.query.take(),
        headers: parts.headers,
        body: std::mem::take(&mut outgoing.body),
        request_id: request_id.clone(),
        client_ip: client.ip,
        forwarded_for: client.forwarded_for.clone(),
        client_proto: if conn.tls { "https" } else { "http" },
        client_host: host,
        public_base: match upstream.target {
            UpstreamTarget::Builtin(_) => Some(public_base.to_string()),
            UpstreamTarget::Http(_) => None,
        },
        filtered_upsert: outgoing.filtered_upsert,
    }
}

/// The upstream call: credentials swapped, headers cleaned, timeouts and
/// the response cap applied inside; a list whose filter the mapping
/// cannot send upstream is listed and filtered here.
pub(super) async fn forward(
    upstream: &Upstream,
    emulated: Option<&EmulatedList<'_>>,
    request: UpstreamRequest,
    max_response: usize,
    deadline: Deadline,
    patch_view: Option<Views>,
) -> Result<Response<Bytes>, GatewayError> {
    match (emulated, upstream.protocol) {
        // Boxed: rare, and its state is large.
        (Some(plan), _) => Box::pin(list(plan, upstream, request, max_response, deadline)).await,
        (None, UpstreamProtocol::Scim2) => {
            upstream::forward_with(upstream, request, max_response, deadline, patch_view).await
        }
        (None, UpstreamProtocol::Scim11) => {
            Box::pin(scim11_stage::forward(
                upstream,
                request,
                max_response,
                deadline,
                patch_view,
            ))
            .await
        }
    }
}

/// One plain read of the upstream in its protocol, nothing emulated: the
/// pages of an emulated list.
async fn read(
    upstream: &Upstream,
    request: UpstreamRequest,
    max_response: usize,
    deadline: Deadline,
) -> Result<Response<Bytes>, GatewayError> {
    match upstream.protocol {
        UpstreamProtocol::Scim2 => upstream::send(upstream, request, max_response, deadline).await,
        UpstreamProtocol::Scim11 => {
            // A listing: no PATCH.
            Box::pin(scim11_stage::forward(
                upstream,
                request,
                max_response,
                deadline,
                None,
            ))
            .await
        }
    }
}

/// Answers an emulated list. Every upstream call goes through the normal
/// upstream path (credential, timeouts, retries, the circuit breaker)
/// within `deadline`.
async fn list(
    plan: &EmulatedList<'_>,
    upstream: &Upstream,
    req: UpstreamRequest,
    max_response: usize,
    deadline: Deadline,
) -> Result<Response<Bytes>, GatewayError> {
    Emulated {
        upstream: &upstream.name,
        capability: emulated_filter::CAPABILITY,
    }
    .emit();
    let ctx = Context {
        upstream: &upstream.name,
        emulation: &upstream.emulation,
        builtin: matches!(upstream.target, UpstreamTarget::Builtin(_)),
        deadline,
        patch_view: None,
    };
    // Plain list reads: nothing of them needs emulating.
    let send = |r: UpstreamRequest| read(upstream, r, max_response, deadline);
    let narrow = upstream_filters(&ctx, upstream);
    emulated_filter::run(plan, &ctx, &req, narrow, &send).await
}

/// Whether the upstream is known to filter (so a narrowing filter may go
/// with each page): declared, the built-in store, or discovered. A SCIM 1.1
/// upstream gets none (its stage would have to translate it).
fn upstream_filters(ctx: &Context<'_>, upstream: &Upstream) -> bool {
    if upstream.protocol != UpstreamProtocol::Scim2 {
        return false;
    }
    match ctx.emulation.settings.filter {
        Support::Yes => true,
        Support::No => false,
        Support::Auto => ctx.builtin || ctx.emulation.discovery.peek().is_some_and(|s| s.filter),
    }
}

/// On the way back: locations point at the gateway, never upstream. (The
/// in-process store already wrote them with the public base.)
pub(super) fn rebase(
    response: Response<Bytes>,
    upstream: &Upstream,
    public_base: &str,
) -> Response<Bytes> {
    match &upstream.target {
        UpstreamTarget::Builtin(_) => response,
        UpstreamTarget::Http(http) => rewrite_response(response, http.rebase(), public_base),
    }
}

/// `Location` and the JSON locations rewritten from the upstream's base to
/// the tenant's public base.
fn rewrite_response(
    response: Response<Bytes>,
    rebase: &Rebase,
    public_base: &str,
) -> Response<Bytes> {
    let (mut parts, body) = response.into_parts();
    if let Some(loc) = parts.headers.get(LOCATION).and_then(|v| v.to_str().ok()) {
        if let Some(new) = rebase.location(loc, public_base) {
            if let Ok(v) = HeaderValue::from_str(&new) {
                parts.headers.insert(LOCATION, v);
            }
        }
    }
    let body = match rebase.body(&body, public_base) {
        Some(new) => {
            parts.headers.remove(CONTENT_LENGTH);
            new
        }
        None => body,
    };
    Response::from_parts(parts, body)
}
