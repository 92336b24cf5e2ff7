//! `POST /admin/v1/tenants/{tenant}/drift` starts a drift run (202 with
//! the run; 409 with the running one while one runs), `GET` gives the
//! last or current run's report. Unknown tenant: 404; a tenant without
//! `[tenants.drift]`: 409. Reports name resources by type and id only.
use super::{json_response, not_allowed, AdminState};
use crate::stack::drift_run;
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::json;

pub(super) fn answer(state: &AdminState, method: &Method, tenant: &str) -> Response<Full<Bytes>> {
    let Some(settings) = drift_run::settings(&state.pipeline, tenant) else {
        return json_response(StatusCode::NOT_FOUND, &json!({ "error": "no such tenant" }));
    };
    if settings.is_none() {
        return json_response(
            StatusCode::CONFLICT,
            &json!({ "error": "drift reports are off for this tenant: add [tenants.drift] to its config" }),
        );
    }
    let drift = state.pipeline.drift();
    match *method {
        Method::GET | Method::HEAD => json_response(
            StatusCode::OK,
            &json!({ "tenant": tenant, "run": drift.and_then(|d| d.last_run(tenant)) }),
        ),
        Method::POST => match drift_run::start(&state.pipeline, tenant) {
            Ok(run) => json_response(
                StatusCode::ACCEPTED,
                &json!({ "tenant": tenant, "run_id": run.run_id, "run": run }),
            ),
            Err(running) => json_response(
                StatusCode::CONFLICT,
                &json!({
                    "error": "a drift run of this tenant is running: GET this path for its report",
                    "tenant": tenant,
                    "run_id": running.run_id,
                    "run": running,
                }),
            ),
        },
        _ => not_allowed("GET, HEAD, POST"),
    }
}
