//! The one way a drain begins, whoever asks: the shutdown signal
//! (SIGTERM, Ctrl-C: the future `run` is given) or `POST /admin/v1/drain`.
//! Both end in [`begin`]: readiness fails and the listeners stop
//! accepting; requests in flight finish within `server.shutdown_timeout`.
use crate::telemetry::admin::Readiness;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{watch, Notify};

/// A drain asked for from inside the process (the admin API).
#[derive(Debug, Default)]
pub(crate) struct DrainRequest {
    asked: Notify,
    begun: AtomicBool,
}

impl DrainRequest {
    /// Asks for the drain; `false` when one was already asked for.
    pub(crate) fn ask(&self) -> bool {
        let first = !self.begun.swap(true, Ordering::AcqRel);
        if first {
            // A stored permit: the waiter need not be waiting yet.
            self.asked.notify_one();
        }
        first
    }

    /// Resolves once [`ask`](Self::ask) was called.
    pub(crate) async fn asked(&self) {
        self.asked.notified().await;
    }
}

/// Begins the drain: readiness fails, then every listener is told to stop
/// accepting and to finish what it serves (what the shutdown signal has
/// always done).
pub(crate) fn begin(readiness: &Readiness, stop: &watch::Sender<bool>, why: &'static str) {
    tracing::info!(
        by = why,
        "shutting down: no new connections, finishing requests in flight"
    );
    readiness.set(false);
    let _ = stop.send(true);
}
