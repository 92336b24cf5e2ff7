//! `GET /admin/v1/tenants/{tenant}/shadow`: the tenant's shadow
//! comparison summary (counts, the attribute paths that differed, the
//! latest differences by id and path, the last backfill); `POST
//! /admin/v1/tenants/{tenant}/shadow/backfill` starts a backfill (202;
//! 409 while one runs). Unknown tenant: 404; a tenant without
//! `[tenants.shadow]`: 409. Nothing here holds an attribute's value.
use super::{json_response, not_allowed, AdminState};
use crate::stack::shadow_run;
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::json;

pub(super) fn answer(
    state: &AdminState,
    method: &Method,
    tenant: &str,
    backfill: bool,
) -> Response<Full<Bytes>> {
    let Some(report) = shadow_run::report(&state.pipeline, tenant) else {
        return json_response(StatusCode::NOT_FOUND, &json!({ "error": "no such tenant" }));
    };
    let Some(report) = report else {
        return json_response(
            StatusCode::CONFLICT,
            &json!({ "error": "this tenant has no shadow upstream: add [tenants.shadow] to its config" }),
        );
    };
    match (backfill, method) {
        (false, &Method::GET | &Method::HEAD) => json_response(StatusCode::OK, &json!(report)),
        (false, _) => not_allowed("GET, HEAD"),
        (true, &Method::POST) => match shadow_run::start(&state.pipeline, tenant) {
            Ok(b) => json_response(
                StatusCode::ACCEPTED,
                &json!({ "tenant": tenant, "backfill": b }),
            ),
            Err((_, why)) => json_response(
                StatusCode::CONFLICT,
                &json!({ "error": why, "tenant": tenant, "backfill": report.backfill }),
            ),
        },
        (true, &Method::GET | &Method::HEAD) => json_response(
            StatusCode::OK,
            &json!({ "tenant": tenant, "backfill": report.backfill }),
        ),
        (true, _) => not_allowed("GET, HEAD, POST"),
    }
}
