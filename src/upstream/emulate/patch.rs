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
use crate::error::GatewayError;
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
    let patch = PatchRequest::parse(&body).map_err(client)?;
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
        let Some(resource) = json_of(&current).filter(Value::is_object) else {
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
        // The client's own precondition, against what is there now.
        check_if_match(if_match.as_deref(), Some(&tag))
            .map_err(|e| GatewayError::client_reason(e, "precondition_failed"))?;
        let patched = schema_less::apply(&endpoint, &resource, &patch).map_err(client)?;
        if patched == resource {
            return Ok(etag::derive(
                ctx,
                json_response(StatusCode::OK, &resource),
                true,
            ));
        }
        if native.is_none() {
            // Best effort without versions: did it change since the read?
            let again = send(read()).await?;
            let unchanged = again.status() == StatusCode::OK
                && json_of(&again).is_some_and(|v| etag::derived_version(&v) == tag);
            if !unchanged {
                conflict(ctx, attempt);
                continue;
            }
        }
        // `meta` is readOnly (RFC 7643 §3.1): a PUT need not carry it, and
        // some upstreams refuse it.
        let mut patched = patched;
        if let Value::Object(o) = &mut patched {
            crate::scim::json::remove_ci(o, "meta");
        }
        let body = serde_json::to_vec(&patched).unwrap_or_default();
        let mut put = req.derive(Method::PUT, &req.path, req.query.clone(), Bytes::from(body));
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

fn conflict(ctx: &Context<'_>, attempt: u32) {
    EmulationConflict {
        upstream: ctx.upstream,
        attempt,
    }
    .emit();
}
