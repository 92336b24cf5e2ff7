//! The gateway as the server runs it ([`Gateway`]): reads go through the
//! [`Pipeline`] in the connection's task; a write whose cancellation could lose
//! something runs in a task of its own, counted while in flight, so that a
//! client hanging up cannot cancel it half-way and shutdown can wait for
//! it ([`Gateway::drained`]).
//!
//! Imports: the pipeline (`Pipeline`), the server's `Respond` trait and
//! `ConnInfo`, the epilogue's handshake report (`access_log`).
use super::{access_log, Pipeline};
use crate::conn_info::ConnInfo;
use crate::error::GatewayError;
use crate::server::RequestBody;
use crate::server::Respond;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The gateway as the server runs it: a write whose cancellation could
/// lose something is handled in a task of its own, so a client that hangs
/// up does not cancel it half-way (the upstream may have the change: it is
/// still answered by the upstream, audited and its event kept, and the
/// resource's write turn is held until then). That is every write when
/// the audit journal is on; without it, PUT, PATCH and DELETE (their
/// write-order turn), Bulk, and every create once a tenant has a replay
/// window for creates (docs/safety.md: the window must learn of a create
/// the upstream made, even when the IdP hung up before the answer).
/// Otherwise a create without a journal has nothing to lose (its cache
/// invalidation is a drop guard) and, like reads, stays in the
/// connection's task: a task per request costs about 2 µs of CPU.
#[derive(Debug, Clone)]
pub struct Gateway {
    pipeline: Arc<Pipeline>,
    writes: Arc<InFlight>,
}

/// Whether a POST to `path` may be Bulk: its last segment is `Bulk` in any
/// case, or is percent-encoded. Decided before the pipeline parses the
/// route, so it must never be weaker than the parse: the route decodes
/// each segment (`/%42ulk` is Bulk), and a Bulk request run in the
/// connection's task could be cancelled between its operations. When in
/// doubt the request is detached, which costs a task, never a write.
fn may_be_bulk(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    let last = path.rsplit('/').next().unwrap_or(path);
    last.eq_ignore_ascii_case("Bulk") || last.contains('%')
}

/// Detached writes still running.
#[derive(Debug, Default)]
struct InFlight {
    count: AtomicUsize,
    idle: tokio::sync::Notify,
}

/// Counts a detached write until it ends (also by a panic).
struct Running(Arc<InFlight>);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Gateway {
    pub fn new(pipeline: Arc<Pipeline>) -> Gateway {
        Gateway {
            pipeline,
            writes: Arc::default(),
        }
    }

    /// Waits (at most `within`) until no detached write runs: at shutdown,
    /// before the journal closes.
    pub async fn drained(&self, within: Duration) {
        let _ = tokio::time::timeout(within, async {
            loop {
                let idle = self.writes.idle.notified();
                if self.writes.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        })
        .await;
    }
}

impl Respond for Gateway {
    fn client_certificate_refused(
        &self,
        peer: std::net::SocketAddr,
        sni: Option<&str>,
        reason: &str,
    ) {
        // A refusal on a tenant's host is that tenant's failed
        // authentication: counted, logged and audited like a 401.
        let snapshot = self.pipeline.config.load();
        let Some(tenant) = sni.and_then(|h| snapshot.tenant_by_host(h)) else {
            return;
        };
        access_log::handshake_refused(self.pipeline.journal.as_ref(), tenant, peer, reason);
    }

    fn call<'a>(
        &'a self,
        req: Request<RequestBody>,
        conn: Arc<ConnInfo>,
    ) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send + 'a>> {
        let read = matches!(
            *req.method(),
            http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
        );
        // A create some tenant's replay window must record: a hang-up
        // after the upstream made it would leave the retry unrecognised.
        let lone_create = *req.method() == http::Method::POST
            && self.pipeline.journal.is_none()
            && !may_be_bulk(req.uri().path())
            && !self.pipeline.config.load().tenants.replays_creates();
        if read || lone_create {
            return Box::pin(self.pipeline.handle(req, conn));
        }
        let pipeline = self.pipeline.clone();
        self.writes.count.fetch_add(1, Ordering::AcqRel);
        let running = Running(self.writes.clone());
        let task = tokio::spawn(async move {
            let _running = running;
            pipeline.handle(req, conn).await
        });
        Box::pin(async move {
            task.await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "a write's task failed");
                GatewayError::internal(e).into_response()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::may_be_bulk;
    use crate::scim::route::{Route, RouteKind};
    use crate::scim::schema::SchemaRegistry;

    /// Every path the route parser takes for Bulk is detached, however it
    /// is spelled; plain creates are not.
    #[test]
    fn every_path_the_route_reads_as_bulk_is_detached() {
        let registry = SchemaRegistry::builtin();
        let bulk = [
            "/Bulk",
            "/bulk",
            "/BULK",
            "/%42ulk",
            "/%42%55%4C%4B",
            "/b%75lk",
        ];
        for path in bulk {
            let parsed = Route::parse(path, &registry).map(|r| r.kind());
            assert!(
                matches!(parsed, Ok(RouteKind::Bulk)),
                "{path} parses as {parsed:?}"
            );
            let under_tenant = format!("/tenants/acme/scim/v2{path}");
            assert!(may_be_bulk(path) && may_be_bulk(&under_tenant), "{path}");
        }
        for path in ["/Users", "/Groups/", "/scim/v2/Users", "/Bulkx", "/x/Bulk2"] {
            assert!(!may_be_bulk(path), "{path}");
        }
    }
}
