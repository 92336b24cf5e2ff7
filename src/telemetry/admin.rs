//! The admin listener's open endpoints: `/healthz`, `/readyz`, `/metrics`
//! (plain HTTP: keep it private). The admin API and console beside them
//! are `run::admin`'s.
use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use std::sync::atomic::{AtomicBool, Ordering};

/// Readiness: set once the config is loaded and the listeners are bound,
/// cleared when shutdown begins.
#[derive(Debug, Default)]
pub(crate) struct Readiness(AtomicBool);

impl Readiness {
    pub(crate) fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::SeqCst);
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Answers one admin request.
pub(crate) fn admin_response<B>(req: &Request<B>, readiness: &Readiness) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n".into(),
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n".into()),
        "/readyz" if readiness.is_ready() => text(StatusCode::OK, "ready\n".into()),
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n".into()),
        "/metrics" => {
            let mut r = text(StatusCode::OK, super::render_metrics());
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /healthz, /readyz, /metrics, /admin/v1/ or /admin/\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Request<()> {
        let mut r = Request::new(());
        *r.uri_mut() = path.parse().unwrap_or_default();
        r
    }

    #[test]
    fn health_readiness_and_metrics() {
        let ready = Readiness::default();
        assert_eq!(admin_response(&get("/healthz"), &ready).status(), 200);
        assert_eq!(admin_response(&get("/readyz"), &ready).status(), 503);
        ready.set(true);
        assert_eq!(admin_response(&get("/readyz"), &ready).status(), 200);
        assert_eq!(admin_response(&get("/metrics"), &ready).status(), 200);
        assert_eq!(admin_response(&get("/nope"), &ready).status(), 404);
        let mut post = get("/healthz");
        *post.method_mut() = Method::POST;
        assert_eq!(admin_response(&post, &ready).status(), 405);
    }
}
