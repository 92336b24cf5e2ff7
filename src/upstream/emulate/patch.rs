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
use super::{etag, json_of, json_response, schema_less, Context};
use crate::dialect::has_upsert_candidates;
use crate::error::GatewayError;
use crate::offload;
use crate::scim::error::ScimError;
use crate::scim::etag::check_if_match;
use crate::scim::patch::PatchRequest;
use crate::telemetry::events::EmulationConflict;
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use http::header::{HeaderValue, IF_MATCH};
use http::{Method, Response, StatusCode};
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;

/// Runs one PATCH as GET + apply + PUT.
pub async fn run<S, F>(
    ctx: &Context<'_>,
    req: UpstreamRequest,
    send: &S,
) -> Result<Response<Bytes>, GatewayError>
where
    S: Fn(UpstreamRequest) -> F,
    F: Future<Output = Result<Response<Bytes>, GatewayError>>,
{
    let client = |e: ScimError| GatewayError::client(e);
    let body: Value = serde_json::from_slice(&req.body).map_err(|e| {
        client(ScimError::invalid_syntax(format!(
            "the PATCH body is not valid JSON: {e}"
        )))
    })?;
    let patch = Arc::new(PatchRequest::parse(&body).map_err(client)?);
    // Entra's upserts on filtered paths (`super::upsert`).
    let upsert = req.filtered_upsert && has_upsert_candidates(&patch);
    let if_match = req
        .headers
        .get(IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let endpoint = req
        .path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("")
        .to_string();
    let attempts = ctx.emulation.settings.patch_attempts.max(1);
    for attempt in 1..=attempts {
        let read = || req.derive(Method::GET, &req.path, None, Bytes::new());
        let current = send(read()).await?;
        if current.status() != StatusCode::OK {
            return Ok(current);
        }
        let step = Step {
            endpoint: endpoint.clone(),
            patch: patch.clone(),
            upsert,
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
            .map_err(|e| GatewayError::client_reason(e, "precondition_failed"))?;
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
        "emulation_conflict",
    ))
}

/// The PATCH to apply to what a read returned (owned, so that it can run
/// on the blocking pool).
struct Step {
    endpoint: String,
    patch: Arc<PatchRequest>,
    /// Resolve upserts against the resource read (`super::upsert`).
    upsert: bool,
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
                502,
                "the upstream's resource could not be read to apply the PATCH",
                "upstream_protocol",
                "emulated PATCH: the GET body is not a JSON object",
            ));
        };
        let native = etag::native_version(current.headers(), &resource);
        let tag = native
            .clone()
            .unwrap_or_else(|| etag::derived_version(&resource));
        let resolved = self
            .upsert
            .then(|| super::upsert::resolve(&self.endpoint, &resource, &self.patch))
            .flatten();
        let patch = resolved.as_ref().unwrap_or(&self.patch);
        let put = schema_less::apply(&self.endpoint, &resource, patch).map(|patched| {
            if patched == resource {
                return None;
            }
            // `meta` is readOnly (RFC 7643 §3.1): a PUT need not carry it,
            // and some upstreams refuse it.
            let mut patched = patched;
            if let Value::Object(o) = &mut patched {
                crate::scim::json::remove_ci(o, "meta");
            }
            Some(Bytes::from(
                serde_json::to_vec(&patched).unwrap_or_default(),
            ))
        });
        let upserted = resolved.is_some();
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
