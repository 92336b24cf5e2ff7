//! The gateway as the server runs it ([`Gateway`]): reads go through the
//! [`Pipeline`] in the connection's task; a write whose cancellation could
//! lose something is counted while in flight and cannot be cancelled
//! half-way: if the connection's task lets go of it before it ends (the
//! client hung up, the connection was closed), the rest of it runs in a
//! task of its own ([`Detachable`]), and shutdown can wait for it
//! ([`Gateway::drained`]).
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
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// The gateway as the server runs it: a write whose cancellation could
/// lose something is [`Detachable`], so a client that hangs up does not
/// cancel it half-way (the upstream may have the change: it is still
/// answered by the upstream, audited and its event kept, and the
/// resource's write turn is held until then). That is every write when
/// the audit journal is on; without it, PUT, PATCH and DELETE (their
/// write-order turn), Bulk, and every create once a tenant has a replay
/// window for creates (docs/safety.md: the window must learn of a create
/// the upstream made, even when the IdP hung up before the answer).
/// Otherwise a create without a journal has nothing to lose (its cache
/// invalidation is a drop guard) and, like reads, is not counted.
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
            return crate::boxed::pinned(|| self.pipeline.handle(req, conn));
        }
        let pipeline = self.pipeline.clone();
        self.writes.count.fetch_add(1, Ordering::AcqRel);
        let running = Running(self.writes.clone());
        Box::pin(Detachable::new(crate::boxed::pinned(|| async move {
            let _running = running;
            pipeline.handle(req, conn).await
        })))
    }
}

/// A write's work.
type Work = Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>;

/// A write run in the task that awaits its answer (the connection's),
/// where it costs nothing more than a read; dropped before it ended, it
/// goes on in a task of its own, to its end. The work is boxed, so it
/// keeps its place in memory when the box is handed to the new task (as
/// `Pin` requires); it is polled again there, with that task's waker.
/// Spawning a task for every write instead cost about 2 µs of CPU per
/// write (the task, its scheduling, and the answer handed back).
///
/// A panic in the work answers 500, as a failed task did; the work is
/// then dropped, never polled again.
struct Detachable {
    work: Option<Work>,
}

impl Detachable {
    fn new(work: Work) -> Detachable {
        Detachable { work: Some(work) }
    }
}

impl Future for Detachable {
    type Output = Response<Full<Bytes>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(work) = this.work.as_mut() else {
            // Polled after it ended: a contract breach by the caller.
            return Poll::Ready(
                GatewayError::internal("a write was polled after its answer").into_response(),
            );
        };
        match catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(response)) => {
                this.work = None;
                Poll::Ready(response)
            }
            Err(_) => {
                this.work = None;
                tracing::error!("a write's work panicked");
                Poll::Ready(GatewayError::internal("a write's work panicked").into_response())
            }
        }
    }
}

impl Drop for Detachable {
    fn drop(&mut self) {
        let Some(work) = self.work.take() else {
            return;
        };
        // Outside a runtime nothing could run it; a runtime shutting down
        // drops the task at once (its in-flight count ends with it).
        // A panic there ends that task alone (tokio catches it).
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            drop(runtime.spawn(work));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::{may_be_bulk, Detachable};
    use bytes::Bytes;
    use http::Response;
    use http_body_util::Full;
    use std::future::Future;
    use std::task::{Context, Poll};
    use tokio::sync::oneshot;

    fn answer(status: u16) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
        response
    }

    /// Awaited to its end, the work runs in the awaiting task itself.
    #[tokio::test]
    async fn a_write_awaited_runs_in_the_awaiting_task() {
        let outer = tokio::task::try_id();
        let (ran_in, task) = oneshot::channel();
        let write = Detachable::new(Box::pin(async move {
            tokio::task::yield_now().await;
            let _ = ran_in.send(tokio::task::id());
            answer(201)
        }));
        let response = tokio::spawn(async move {
            let id = tokio::task::id();
            (write.await, id)
        });
        let (response, awaiting) = response.await.unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(task.await.unwrap(), awaiting);
        assert_ne!(Some(awaiting), outer);
    }

    /// Dropped half-way (a client that hung up), the work goes on to its
    /// end in a task of its own.
    #[tokio::test]
    async fn a_write_let_go_of_half_way_runs_to_its_end() {
        let (release, gate) = oneshot::channel::<()>();
        let (done, finished) = oneshot::channel();
        let mut write = Detachable::new(Box::pin(async move {
            let _ = gate.await;
            // In a task (outside one, `try_id` is `None`).
            let _ = done.send(tokio::task::try_id());
            answer(201)
        }));
        let first =
            std::pin::Pin::new(&mut write).poll(&mut Context::from_waker(std::task::Waker::noop()));
        assert!(matches!(first, Poll::Pending), "waits at the gate");
        drop(write);
        release.send(()).unwrap();
        let ended_in = tokio::time::timeout(std::time::Duration::from_secs(10), finished)
            .await
            .expect("the work went on after it was dropped")
            .unwrap();
        assert!(ended_in.is_some(), "it went on in a task of its own");
        assert_eq!(tokio::task::try_id(), None, "the test's body is no task");
    }

    /// Dropped before it was ever polled, the work still runs.
    #[tokio::test]
    async fn a_write_never_polled_still_runs() {
        let (done, finished) = oneshot::channel();
        let write = Detachable::new(Box::pin(async move {
            let _ = done.send(());
            answer(204)
        }));
        drop(write);
        tokio::time::timeout(std::time::Duration::from_secs(10), finished)
            .await
            .expect("the work ran")
            .unwrap();
    }

    /// A panic in the work answers 500 and is not polled again.
    #[tokio::test]
    async fn a_panicking_write_answers_500() {
        let write = Detachable::new(Box::pin(async move {
            tokio::task::yield_now().await;
            panic!("the work failed");
        }));
        assert_eq!(write.await.status(), 500);
    }
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
