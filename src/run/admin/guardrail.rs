//! The guardrail's admin API (docs/safety.md):
//!
//! - `GET /admin/v1/tenants/{tenant}/guardrail`: the tenant's limit,
//!   window count and held operations (without their bodies);
//! - `GET /admin/v1/tenants/{tenant}/guardrail/{id}`: one, with its body;
//! - `POST /admin/v1/tenants/{tenant}/guardrail/{id}/release?by=NAME`:
//!   sends it upstream through the pipeline, audited;
//! - `POST /admin/v1/tenants/{tenant}/guardrail/{id}/drop?by=NAME`:
//!   never sends it, audited.
//!
//! `by` names the operator in the audit record (required: a decision on
//! an identity change has an author).
use super::AdminState;
use crate::guardrail::{HeldOp, Refusal};
use http::{Method, StatusCode};
use serde_json::{json, Value};

/// What a guardrail path asks for.
#[derive(Clone, Copy)]
enum Ask<'a> {
    List(&'a str),
    One(&'a str, &'a str),
    Release(&'a str, &'a str),
    Drop(&'a str, &'a str),
}

/// The answer to a guardrail path (`None`: not one).
pub(super) async fn route(
    state: &AdminState,
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Option<(StatusCode, Value)> {
    let rest = path.strip_prefix("/admin/v1/tenants/")?;
    let (tenant, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("guardrail")?;
    let ask = match rest.trim_end_matches('/').split('/').collect::<Vec<_>>()[..] {
        [""] => Ask::List(tenant),
        ["", id] => Ask::One(tenant, id),
        ["", id, "release"] => Ask::Release(tenant, id),
        ["", id, "drop"] => Ask::Drop(tenant, id),
        _ => return Some((StatusCode::NOT_FOUND, json!({ "error": "not found" }))),
    };
    let snapshot = state.config.load();
    let Some(t) = snapshot.tenants.values().find(|t| t.id.as_str() == tenant) else {
        return Some((
            StatusCode::NOT_FOUND,
            json!({ "error": format!("no tenant \"{tenant}\"") }),
        ));
    };
    // Without `[tenants.guardrail]` (any more), what was held before
    // can still be listed and decided on.
    let settings = t.guardrail.as_ref();
    let guardrail = state.pipeline.guardrail();
    let read = matches!(*method, Method::GET | Method::HEAD);
    let answer = match ask {
        Ask::List(tenant) if read => match guardrail.list(tenant) {
            Ok(ops) => (
                StatusCode::OK,
                json!({
                    "tenant": tenant,
                    "mode": settings.map(|s| s.mode.as_str()),
                    "max_deprovisions": settings.map(|s| s.max_deprovisions),
                    "window_seconds": settings.map(|s| s.window.as_secs()),
                    "pending": ops.iter().filter(|o| o.state.pending()).count(),
                    "held": ops.iter().map(|o| summary(o, false)).collect::<Vec<_>>(),
                }),
            ),
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, json!({ "error": e })),
        },
        Ask::One(tenant, id) if read => match guardrail.list(tenant) {
            Ok(ops) => match ops.iter().find(|o| o.id == id) {
                Some(op) => (StatusCode::OK, summary(op, true)),
                None => not_found(id),
            },
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, json!({ "error": e })),
        },
        Ask::Release(tenant, id) | Ask::Drop(tenant, id) if *method == Method::POST => {
            let Some(by) = operator(query) else {
                return Some((
                    StatusCode::BAD_REQUEST,
                    json!({ "error": "name the operator: ?by=NAME (1 to 128 printable characters)" }),
                ));
            };
            let decided = match ask {
                Ask::Release(..) => crate::stack::release(&state.pipeline, tenant, id, &by).await,
                _ => crate::stack::drop_held(&state.pipeline, tenant, id, &by).await,
            };
            match decided {
                Ok(op) => (StatusCode::OK, summary(&op, false)),
                Err(Refusal::NotFound) => not_found(id),
                Err(Refusal::Decided(s)) => (
                    StatusCode::CONFLICT,
                    json!({ "error": format!("held operation {id} is already {}", state_name(s)) }),
                ),
                Err(Refusal::Store(e)) => (StatusCode::SERVICE_UNAVAILABLE, json!({ "error": e })),
            }
        }
        Ask::List(_) | Ask::One(..) => {
            return Some((
                StatusCode::METHOD_NOT_ALLOWED,
                json!({ "error": "GET only" }),
            ))
        }
        Ask::Release(..) | Ask::Drop(..) => {
            return Some((
                StatusCode::METHOD_NOT_ALLOWED,
                json!({ "error": "POST only" }),
            ))
        }
    };
    Some(answer)
}

fn not_found(id: &str) -> (StatusCode, Value) {
    let shown: String = id.chars().take(64).collect();
    (
        StatusCode::NOT_FOUND,
        json!({ "error": format!("no held operation \"{shown}\"") }),
    )
}

/// `by` from the query: the operator's name, percent-decoded, printable.
fn operator(query: Option<&str>) -> Option<String> {
    let by = form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "by")
        .map(|(_, v)| v.trim().to_string())?;
    let ok = !by.is_empty() && by.chars().count() <= 128 && !by.chars().any(char::is_control);
    ok.then_some(by)
}

fn state_name(s: crate::guardrail::HeldState) -> &'static str {
    use crate::guardrail::HeldState::*;
    match s {
        Held => "held",
        Releasing => "releasing",
        Released => "released",
        Dropped => "dropped",
    }
}

/// One held operation as JSON (with its body when asked).
fn summary(op: &HeldOp, body: bool) -> Value {
    let mut v = json!({
        "id": op.id,
        "state": state_name(op.state),
        "kind": op.kind,
        "weight": op.weight,
        "method": op.method,
        "path": op.path,
        "held_at": op.held_at,
        "asked_by": { "auth_method": op.auth_method, "subject": op.subject, "credential": op.credential },
        "client": op.client,
        "request_id": op.request_id,
        "retries": op.retries,
        "decided_by": op.decided_by,
        "decided_at": op.decided_at,
        "upstream_status": op.outcome,
    });
    if body {
        v["query"] = json!(op.query);
        v["body"] = serde_json::from_str::<Value>(&op.body).unwrap_or_else(|_| json!(op.body));
    }
    v
}
