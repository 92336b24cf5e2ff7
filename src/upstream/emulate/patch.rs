//! PATCH for upstreams without it (RFC 7644 §3.5.2): GET the resource,
//! apply the operations at the gateway ([`crate::scim::patch::apply_patch`]),
//! PUT the result with `If-Match: <version of the GET>` (§3.14). A 412
//! means someone wrote in between: read again and re-apply, up to
//! `patch_attempts` times, then 412 to the client.
//!
//! Without native versions (no `ETag`, no `meta.version`), the gateway
//! compares derived tags instead: it reads the resource once more right
//! before the PUT and starts over when it changed. That narrows the window
//! but cannot close it at the upstream; the pipeline's write ordering
//! (one write per resource at a time, per gateway, or a shared lease
//! across replicas) is what makes concurrent PATCHes safe then.
//!
//! The answer is what a PATCH returns (§3.5.2): the upstream's answer to
//! the PUT, 200 with the resource (the client's `attributes` apply), or
//! 200 with the resource as read when the PATCH changed nothing.
//!
//! What the PATCH means is the client's: without a [`View`] the request's
//! own (upstream-named) PatchOp is applied schema-lessly to the upstream
//! resource; with one (`Context::patch_view`: the tenant's) the view
//! applies the client's PatchOp in the client's schema and gives back the
//! upstream resource to write, and the request's body is not read here.
use super::{endpoint_of, etag, json_of, json_response, schema_less, Context};
use crate::dialect::has_upsert_candidates;
use crate::error::{GatewayError, Reason};
use crate::offload;
use crate::scim::error::ScimError;
use crate::scim::etag::check_if_match;
use crate::scim::patch::PatchRequest;
use crate::telemetry::emit::EmulationConflict;
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use http::header::{HeaderValue, IF_MATCH};
use http::{Method, Response, StatusCode};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;

/// Runs one PATCH as GET + apply + PUT.
pub(crate) async fn run<S, F>(
    ctx: &Context<'_>,
    req: UpstreamRequest,
    send: &S,
) -> Result<Response<Bytes>, GatewayError>
where
    S: Fn(UpstreamRequest) -> F,
    F: Future<Output = Result<Response<Bytes>, GatewayError>>,
{
    let client = |e: ScimError| GatewayError::client(e);
    let endpoint = endpoint_of(&req.path);
    let how = match &ctx.patch_view {
        // The client's PatchOp, parsed once by the schema stage.
        Some(Views::One(view)) => How::View(view.clone()),
        _ => {
            let body: Value = serde_json::from_slice(&req.body).map_err(|e| {
                client(ScimError::invalid_syntax(format!(
                    "the PATCH body is not valid JSON: {e}"
                )))
            })?;
            let patch = Arc::new(PatchRequest::parse(&body).map_err(client)?);
            // Entra's upserts on filtered paths (`super::upsert`).
            let upsert = req.filtered_upsert && has_upsert_candidates(&patch);
            How::Upstream {
                endpoint,
                patch,
                upsert,
            }
        }
    };
    let if_match = req
        .headers
        .get(IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let attempts = ctx.emulation.settings.patch_attempts.max(1);
    for attempt in 1..=attempts {
        let read = || req.derive(Method::GET, &req.path, None, Bytes::new());
        let current = send(read()).await?;
        if current.status() != StatusCode::OK {
            return Ok(current);
        }
        let step = Step {
            how: how.clone(),
            filtered_upsert: req.filtered_upsert,
        };
        // A large resource is parsed, versioned and patched off the
        // reactor (`crate::offload`).
        let applied = if offload::worth_it(current.body().len()) {
            let current = current.clone();
            offload::blocking(move || step.apply(&current))
                .await
                .map_err(|e| GatewayError::internal(e.detail()))??
        } else {
            step.apply(&current)?
        };
        if applied.upserted {
            super::upsert::upserted(ctx);
        }
        // The client's own precondition, against what is there now.
        check_if_match(if_match.as_deref(), Some(&applied.tag))
            .map_err(|e| GatewayError::client_reason(e, Reason::PreconditionFailed))?;
        let body = match applied.put {
            Err(e) => return Err(client(e)),
            Ok(None) => {
                return Ok(etag::derive(
                    ctx,
                    json_response(StatusCode::OK, &applied.resource),
                    true,
                ))
            }
            Ok(Some(body)) => body,
        };
        if applied.native.is_none() {
            // Best effort without versions: did it change since the read?
            let again = send(read()).await?;
            let unchanged = again.status() == StatusCode::OK
                && json_of(&again).is_some_and(|v| etag::derived_version(&v) == applied.tag);
            if !unchanged {
                conflict(ctx, attempt);
                continue;
            }
        }
        let native = applied.native;
        let mut put = req.derive(Method::PUT, &req.path, req.query.clone(), body);
        if let Some(v) = native
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            put.headers.insert(IF_MATCH, v);
        }
        let written = send(put).await?;
        if written.status() == StatusCode::PRECONDITION_FAILED {
            conflict(ctx, attempt);
            continue;
        }
        return Ok(etag::derive(ctx, written, true));
    }
    Err(GatewayError::client_reason(
        ScimError::precondition_failed(format!(
            "the resource changed during each of {attempts} attempts to apply the PATCH \
             (the upstream has no PATCH: the gateway reads, patches and writes back with \
             If-Match); send the PATCH again"
        )),
        Reason::EmulationConflict,
    ))
}

/// A PATCH applied in a view of the resource other than the upstream's
/// (a mapped tenant's). Errors are the client's (RFC 7644 §3.12), in the
/// client's names.
pub trait View: Send + Sync + std::fmt::Debug {
    /// `current`, the resource as the upstream holds it, with the PATCH
    /// applied. `filtered_upsert`: the tenant's dialect makes a filtered
    /// add or replace that selects nothing create the element
    /// (`super::upsert`), resolved in the view against `current`.
    fn apply(&self, current: &Value, filtered_upsert: bool) -> Result<Viewed, ScimError>;

    /// The same PATCH with `resolve` applied to every operation's value
    /// (a Bulk operation's `bulkId:` references replaced by the ids the
    /// run created, RFC 7644 §3.7.2).
    fn with_references(&self, resolve: &dyn Fn(&mut Value)) -> Arc<dyn View>;

    /// Whether the PATCH has operations that may be upserts
    /// (`crate::dialect::has_upsert_candidates`) upstream: only then is
    /// the resource read first.
    fn has_upsert_candidates(&self) -> bool {
        false
    }

    /// For an upstream that applies PATCH itself (`super::upsert`): the
    /// PatchOp to send, in the upstream's names, with the upserts resolved
    /// in the view against `current` (the resource as the upstream holds
    /// it); `None` when nothing had to be created (the request's own
    /// PatchOp goes as it is).
    fn resolve_upserts(&self, _current: &Value) -> Result<Option<PatchRequest>, ScimError> {
        Ok(None)
    }
}

/// What a [`View`] made of the resource read.
#[derive(Debug, Default, PartialEq)]
pub struct Viewed {
    /// The upstream resource to write; `None` when the PATCH changes
    /// nothing.
    pub written: Option<Value>,
    /// Upserts were resolved (`super::upsert`).
    pub upserted: bool,
}

/// The views of a request's PATCHes.
#[derive(Debug, Clone)]
pub enum Views {
    /// The request's own PATCH.
    One(Arc<dyn View>),
    /// A Bulk request's: by the operation's place in `Operations` (`None`
    /// for an operation that is not a mapped PATCH).
    PerOperation(Arc<[Option<Arc<dyn View>>]>),
}

/// The PATCH to apply to what a read returned (owned, so that it can run
/// on the blocking pool).
struct Step {
    how: How,
    /// The tenant's dialect turns filtered adds that select nothing into
    /// upserts (`super::upsert`).
    filtered_upsert: bool,
}

#[derive(Clone)]
enum How {
    /// The request's own PatchOp, in the upstream's names.
    Upstream {
        endpoint: String,
        patch: Arc<PatchRequest>,
        /// Resolve upserts against the resource read (`super::upsert`).
        upsert: bool,
    },
    /// The client's PatchOp in its own view.
    View(Arc<dyn View>),
}

/// A read resource with the PATCH applied.
struct Applied {
    resource: Value,
    /// The upstream's own version, if it has one.
    native: Option<String>,
    /// The version the client's `If-Match` is checked against.
    tag: String,
    /// The body to PUT; `None` when the PATCH changes nothing.
    put: Result<Option<Bytes>, ScimError>,
    /// Upserts were resolved (`super::upsert`).
    upserted: bool,
}

impl Step {
    fn apply(&self, current: &Response<Bytes>) -> Result<Applied, GatewayError> {
        let Some(resource) = json_of(current).filter(Value::is_object) else {
            return Err(GatewayError::upstream(
                "the upstream's resource could not be read to apply the PATCH",
                Reason::UpstreamProtocol,
                "emulated PATCH: the GET body is not a JSON object",
            ));
        };
        let native = etag::native_version(current.headers(), &resource);
        let tag = native
            .clone()
            .unwrap_or_else(|| etag::derived_version(&resource));
        let (patched, upserted) = match &self.how {
            How::Upstream {
                endpoint,
                patch,
                upsert,
            } => {
                let resolved = upsert
                    .then(|| super::upsert::resolve(endpoint, &resource, patch))
                    .flatten();
                let patched =
                    schema_less::apply(endpoint, &resource, resolved.as_ref().unwrap_or(patch))
                        .map(|patched| (patched != resource).then_some(patched));
                (patched, resolved.is_some())
            }
            How::View(view) => match view.apply(&resource, self.filtered_upsert) {
                Ok(viewed) => (Ok(viewed.written), viewed.upserted),
                Err(e) => (Err(e), false),
            },
        };
        let put = patched.map(|patched| {
            // `meta` is readOnly (RFC 7643 §3.1): a PUT need not carry it,
            // and some upstreams refuse it.
            let mut patched = patched?;
            if let Value::Object(o) = &mut patched {
                crate::scim::json::remove_ci(o, "meta");
            }
            Some(Bytes::from(
                serde_json::to_vec(&patched).unwrap_or_default(),
            ))
        });
        Ok(Applied {
            resource,
            native,
            tag,
            put,
            upserted,
        })
    }
}

fn conflict(ctx: &Context<'_>, attempt: u32) {
    EmulationConflict {
        upstream: ctx.upstream,
        attempt,
    }
    .emit();
}
