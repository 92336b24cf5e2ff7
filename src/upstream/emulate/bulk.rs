//! Bulk for upstreams without it (RFC 7644 §3.7): the gateway runs the
//! operations one by one, in order, through the normal upstream path
//! (each one may itself be emulated: a PATCH to an upstream without
//! PATCH), resolving `bulkId:` references from the ids of earlier creates
//! (also inside values such as `members[].value`), honouring
//! `failOnErrors`, and answers the BulkResponse. The order and reference
//! rules are [`crate::scim::bulk::BulkRun`]'s, shared with the built-in
//! store.
//!
//! Bounded by `bulk_max_operations` (413 beyond, §3.7.4) and by the
//! request's deadline: operations not started when it passes fail with
//! 504 in the BulkResponse. The gateway's rate limits admitted the Bulk
//! request once, as a whole; the operations are not counted again.
//! Operations are not write-ordered against other requests one by one;
//! emulated PATCHes inside still use `If-Match`.
use super::patch::Views;
use super::{json_of, json_response, single, Context};
use crate::error::GatewayError;
use crate::scim::bulk::{BulkLimits, BulkMethod, BulkOperation, BulkOutcome, BulkRequest, BulkRun};
use crate::scim::error::ScimError;
use crate::scim::json::get_ci;
use crate::upstream::UpstreamRequest;
use bytes::Bytes;
use http::header::{ETAG, IF_MATCH, LOCATION};
use http::{HeaderValue, Method, Response, StatusCode};
use serde_json::Value;
use std::future::Future;

/// Runs a BulkRequest operation by operation.
pub(crate) async fn run<S, F>(
    ctx: &Context<'_>,
    req: UpstreamRequest,
    send: &S,
) -> Result<Response<Bytes>, GatewayError>
where
    S: Fn(UpstreamRequest) -> F,
    F: Future<Output = Result<Response<Bytes>, GatewayError>>,
{
    let limits = BulkLimits {
        max_operations: ctx.emulation.settings.bulk_max_operations,
        // The pipeline already bounded the body.
        max_payload_size: usize::MAX,
    };
    let request = BulkRequest::parse(&req.body, limits).map_err(GatewayError::client)?;
    let mut run = BulkRun::new(&request);
    while let Some((i, op)) = run.next_operation() {
        let outcome = if tokio::time::Instant::now() >= ctx.deadline.at {
            failed(&ScimError::new(
                504,
                None,
                format!(
                    "not run: the request did not complete within {}",
                    humantime::format_duration(ctx.deadline.within)
                ),
            ))
        } else {
            // A PATCH in the view of whoever sent it (a mapped tenant's),
            // its references resolved like the operation's.
            let view = match &ctx.patch_view {
                Some(Views::PerOperation(views)) => views
                    .get(i)
                    .and_then(Option::as_ref)
                    .map(|v| Views::One(v.with_references(&|value| run.resolve_refs(value)))),
                _ => None,
            };
            let sub = Context {
                upstream: ctx.upstream,
                emulation: ctx.emulation,
                builtin: ctx.builtin,
                deadline: ctx.deadline,
                patch_view: view,
            };
            match single(&sub, operation_request(&req, &op), send).await {
                Ok(response) => outcome_of(&response),
                Err(e) => failed(e.scim()),
            }
        };
        run.record(i, outcome);
    }
    Ok(json_response(StatusCode::OK, &run.finish()))
}

/// The upstream request for one operation.
fn operation_request(req: &UpstreamRequest, op: &BulkOperation) -> UpstreamRequest {
    let method = match op.method {
        BulkMethod::Post => Method::POST,
        BulkMethod::Put => Method::PUT,
        BulkMethod::Patch => Method::PATCH,
        BulkMethod::Delete => Method::DELETE,
    };
    let body = op
        .data
        .as_ref()
        .map(|d| Bytes::from(serde_json::to_vec(d).unwrap_or_default()))
        .unwrap_or_default();
    let (path, query) = match op.path.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (op.path.as_str(), None),
    };
    let mut sub = req.derive(method, path, query, body);
    // RFC 7644 §3.7: `version` is the operation's If-Match.
    if let Some(v) = op
        .version
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        sub.headers.insert(IF_MATCH, v);
    }
    sub
}

/// What an upstream answer means for the BulkResponse.
fn outcome_of(response: &Response<Bytes>) -> BulkOutcome {
    let body = json_of(response);
    let field = |name: &str| {
        body.as_ref()
            .and_then(Value::as_object)
            .and_then(|o| get_ci(o, name))
    };
    let meta = |name: &str| {
        field("meta")
            .and_then(Value::as_object)
            .and_then(|m| get_ci(m, name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let status = response.status().as_u16();
    BulkOutcome {
        status,
        id: field("id").and_then(Value::as_str).map(str::to_string),
        location: header(LOCATION).or_else(|| meta("location")),
        version: header(ETAG).or_else(|| meta("version")),
        response: if status >= 400 {
            Some(body.unwrap_or_else(|| {
                ScimError::new(status, None, format!("the upstream answered {status}")).to_json()
            }))
        } else {
            body
        },
    }
}

fn failed(e: &ScimError) -> BulkOutcome {
    BulkOutcome {
        status: e.status(),
        id: None,
        location: None,
        version: None,
        response: Some(e.to_json()),
    }
}
