//! The admin listener: `/healthz`, `/readyz`, `/metrics`
//! (`telemetry::admin`), the admin API under `/admin/v1/` ([`api`],
//! [`stats`]) and the web console at `/admin/` ([`console`]).
//!
//! The API answers JSON and only reads, except `POST /admin/v1/drain`,
//! `POST /admin/v1/tenants/{id}/drift` (starts a drift run: [`drift`]) and
//! the guardrail's release and drop ([`guardrail`]) and a shadow backfill
//! (`POST /admin/v1/tenants/{id}/shadow/backfill`: [`shadow`]).
//! With `[admin] token_hash` set, every API request needs
//! `Authorization: Bearer <token>` (compared as SHA-256 digests in
//! constant time, like tenant tokens); the config refuses a listener off
//! loopback without one. The console's files hold no data and are served
//! without the token; the page asks for it and sends it with each call.
//! Health, readiness and metrics stay open (probes and scrapers).
//!
//! It sits with the process wiring (`run`) because it reads everything:
//! the live config, the pipeline's state, the audit journal.
mod api;
mod console;
mod drift;
mod guardrail;
mod prom_text;
mod shadow;
mod stats;
mod verify;

use crate::audit::Journal;
use crate::config::ConfigHandle;
use crate::conn_info::ConnInfo;
use crate::server::RequestBody;
use crate::server::{Drain, Respond};
use crate::stack::Pipeline;
use crate::telemetry::admin::admin_response;
use bytes::Bytes;
use http::header::{
    HeaderValue, ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// What the admin listener reads: handles the run loop already holds.
pub(crate) struct AdminState {
    pub config: Arc<ConfigHandle>,
    pub pipeline: Arc<Pipeline>,
    pub journal: Option<Journal>,
    /// The audit directory (the outbox is beneath it); `None`: no audit.
    pub audit_dir: Option<PathBuf>,
    /// The process's drain (and the readiness it fails), shared with the
    /// shutdown signal.
    pub drain: Arc<Drain>,
    /// The last audit verification asked for (`/audit?verify=true`).
    pub last_verify: verify::LastVerify,
}

impl AdminState {
    fn stats(&self) -> stats::Stats {
        api::current_stats()
    }

    fn respond<B>(&self, req: &Request<B>) -> Response<Full<Bytes>> {
        let path = req.uri().path();
        if path == "/admin" {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
            r.headers_mut()
                .insert(http::header::LOCATION, HeaderValue::from_static("/admin/"));
            return r;
        }
        if let Some(asset) = console::asset(path) {
            return match *req.method() {
                Method::GET | Method::HEAD => console::serve(asset),
                _ => not_allowed("GET, HEAD"),
            };
        }
        let Some(route) = path.strip_prefix("/admin/v1") else {
            return admin_response(req, self.drain.readiness());
        };
        if !self.authorized(req) {
            let mut r = json_response(
                StatusCode::UNAUTHORIZED,
                &json!({ "error": "a bearer token is required: Authorization: Bearer <the admin token>" }),
            );
            r.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim-gateway admin\""),
            );
            return r;
        }
        if let Some(tenant) = route
            .strip_prefix("/tenants/")
            .and_then(|r| r.strip_suffix("/drift"))
        {
            return drift::answer(self, req.method(), tenant);
        }
        if let Some(rest) = route.strip_prefix("/tenants/") {
            if let Some(tenant) = rest.strip_suffix("/shadow") {
                return shadow::answer(self, req.method(), tenant, false);
            }
            if let Some(tenant) = rest.strip_suffix("/shadow/backfill") {
                return shadow::answer(self, req.method(), tenant, true);
            }
        }
        let read = matches!(*req.method(), Method::GET | Method::HEAD);
        let answer = match (route, read) {
            ("" | "/", true) => Some(index()),
            ("/config", true) => Some(api::config(self)),
            ("/tenants", true) => api::tenants(self, None),
            ("/upstreams", true) => Some(api::upstreams(self)),
            ("/events", true) => Some(api::events(self)),
            ("/audit", true) => Some(api::audit(self)),
            ("/errors", true) => Some(api::errors()),
            ("/stats", true) => Some(api::stats(self)),
            ("/drain", false) if req.method() == Method::POST => {
                // What SIGTERM does: readiness fails now, the listeners
                // close after `server.drain_delay`.
                let first = self.drain.begin_drain();
                return json_response(
                    StatusCode::ACCEPTED,
                    &json!({ "draining": true, "already_draining": !first }),
                );
            }
            ("/drain", _) => return not_allowed("POST"),
            (r, true) if r.starts_with("/tenants/") => {
                let id = r.trim_start_matches("/tenants/");
                api::tenants(self, Some(id))
            }
            (_, false) => return not_allowed("GET, HEAD"),
            _ => None,
        };
        match answer {
            Some(body) => json_response(StatusCode::OK, &body),
            None => json_response(
                StatusCode::NOT_FOUND,
                &json!({ "error": "not found", "endpoints": index()["endpoints"] }),
            ),
        }
    }

    /// Whether the request may use the API: always without a token
    /// configured (a loopback listener), else with the right bearer token.
    fn authorized<B>(&self, req: &Request<B>) -> bool {
        let Some(expected) = self.config.load().admin_token else {
            return true;
        };
        let presented = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        let Some(token) = presented else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        bool::from(digest.ct_eq(&expected))
    }
}

impl Respond for AdminState {
    fn call<'a>(
        &'a self,
        req: Request<RequestBody>,
        _conn: Arc<ConnInfo>,
    ) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send + 'a>> {
        Box::pin(async move {
            // The guardrail's answers (a release waits for the upstream).
            let path = req.uri().path();
            if path.starts_with("/admin/v1/tenants/")
                && path.contains("/guardrail")
                && self.authorized(&req)
            {
                let (method, query) = (req.method(), req.uri().query());
                if let Some((status, body)) = guardrail::route(self, method, path, query).await {
                    return json_response(status, &body);
                }
            }
            // The chain verified first.
            if req.uri().path() == "/admin/v1/audit"
                && req.uri().query() == Some("verify=true")
                && req.method() == Method::GET
                && self.authorized(&req)
            {
                if let Some(dir) = &self.audit_dir {
                    self.last_verify.run(dir.clone()).await;
                }
            }
            self.respond(&req)
        })
    }
}

/// `GET /admin/v1/`: what there is.
fn index() -> Value {
    json!({
        "version": "v1",
        "endpoints": [
            "GET /admin/v1/config",
            "GET /admin/v1/tenants",
            "GET /admin/v1/tenants/{id}",
            "GET /admin/v1/tenants/{id}/guardrail",
            "GET /admin/v1/tenants/{id}/guardrail/{held id}",
            "POST /admin/v1/tenants/{id}/guardrail/{held id}/release?by=NAME",
            "POST /admin/v1/tenants/{id}/guardrail/{held id}/drop?by=NAME",
            "GET /admin/v1/tenants/{id}/drift",
            "POST /admin/v1/tenants/{id}/drift",
            "GET /admin/v1/tenants/{id}/shadow",
            "GET /admin/v1/tenants/{id}/shadow/backfill",
            "POST /admin/v1/tenants/{id}/shadow/backfill",
            "GET /admin/v1/upstreams",
            "GET /admin/v1/events",
            "GET /admin/v1/audit",
            "GET /admin/v1/audit?verify=true",
            "GET /admin/v1/errors",
            "GET /admin/v1/stats",
            "POST /admin/v1/drain",
        ],
        "console": "/admin/",
    })
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec_pretty(body).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut r = json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({ "error": "method not allowed" }),
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}
