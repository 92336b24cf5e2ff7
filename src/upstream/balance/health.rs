//! Active health checks: one background task per upstream with several
//! endpoints, which GETs `path` (default `/ServiceProviderConfig`, RFC 7644
//! §4) below every endpoint's base each `interval`, through the endpoint's
//! own pool and with the upstream's credential. A 2xx within `timeout`
//! passes.
//!
//! Lifetime: the task holds only a weak reference to the [`Balancer`],
//! which lives in the upstream of one config snapshot. It starts when the
//! snapshot is installed ([`start_all`], from the config handle; a snapshot
//! that is only checked, as by `check-config`, never probes anything), or
//! at the latest on the upstream's first request. When a reload replaces
//! the snapshot and the last request using the old one is done, the
//! balancer is dropped and the task ends at its next tick.
use super::Balancer;
use crate::upstream::target::{Upstream, UpstreamAuth, UpstreamTarget};
use bytes::Bytes;
use http::{HeaderValue, Request};
use std::sync::{Arc, Weak};

/// The most of a health answer read: a larger one fails the check.
const MAX_HEALTH_BODY: usize = 64 * 1024;

/// Starts the health-check task of `balancer` once (later calls return at
/// once). Without a Tokio runtime nothing starts.
pub(crate) fn start(
    balancer: &Arc<Balancer>,
    auth: &UpstreamAuth,
) -> Option<tokio::task::JoinHandle<()>> {
    if balancer.health_checks_started() {
        return None;
    }
    let handle = tokio::runtime::Handle::try_current().ok()?;
    if !balancer.claim_health_checks() {
        return None;
    }
    Some(handle.spawn(run(Arc::downgrade(balancer), auth.clone())))
}

/// Starts the health checks of every upstream with several endpoints
/// among `upstreams` (a snapshot's: each once; nothing without a Tokio
/// runtime).
pub(crate) fn start_all<'a>(upstreams: impl IntoIterator<Item = &'a Arc<Upstream>>) {
    for upstream in upstreams {
        if let UpstreamTarget::Http(http) = &upstream.target {
            if let Some(balancer) = http.balancer() {
                start(balancer, &upstream.auth);
            }
        }
    }
}

/// Checks every endpoint each interval until the balancer is gone.
async fn run(balancer: Weak<Balancer>, auth: UpstreamAuth) {
    let Some(interval) = balancer.upgrade().map(|b| {
        b.register_metrics();
        b.health.interval
    }) else {
        return;
    };
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(b) = balancer.upgrade() else {
            tracing::debug!("upstream replaced by a reload: its health checks stop");
            return;
        };
        let mut checks = tokio::task::JoinSet::new();
        for i in 0..b.endpoints().len() {
            let (b, auth) = (b.clone(), auth.clone());
            checks.spawn(async move {
                let passed = check(&b, i, &auth).await;
                b.checked(i, passed);
            });
        }
        drop(b);
        while checks.join_next().await.is_some() {}
    }
}

/// One check of endpoint `i`: `true` when it answered 2xx in time.
async fn check(b: &Balancer, i: usize, auth: &UpstreamAuth) -> bool {
    let Some(member) = b.endpoint(i) else {
        return false;
    };
    let timeout = b.health.timeout;
    let probe = async {
        let authorization = match auth {
            UpstreamAuth::OAuth2(source) => match source.token().await {
                Ok(token) => Some(token.header_value()),
                Err(e) => {
                    tracing::debug!(upstream = %b.upstream(), error = %e, "no token for the health check");
                    return false;
                }
            },
            other => other.header_value(),
        };
        let Ok(uri) = member.endpoint.target(&b.health.path, None) else {
            return false;
        };
        let mut request = Request::new(Bytes::new());
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert(http::header::HOST, member.endpoint.host.clone());
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/scim+json, application/json"),
        );
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static("scim-gateway-health-check"),
        );
        if let Some(v) = authorization {
            headers.insert(http::header::AUTHORIZATION, v);
        }
        // Read to the end, so the connection can serve traffic again.
        let passed = member
            .endpoint
            .pool
            .exchange(request, MAX_HEALTH_BODY)
            .await
            .is_ok_and(|response| response.status().is_success());
        passed
    };
    let passed = tokio::time::timeout(timeout, probe).await.unwrap_or(false);
    if !passed {
        tracing::debug!(upstream = %b.upstream(), endpoint = %member.label, "health check failed");
    }
    passed
}
