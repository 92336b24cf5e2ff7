//! The drain: how the gateway leaves a balancer's rotation without
//! refusing anyone. [`Drain::begin_drain`] first fails readiness (`/readyz`
//! answers 503, systemd hears `STOPPING=1`) while the listeners keep
//! serving for `server.drain_delay`, long enough for balancers to notice;
//! then the listeners close and requests in flight finish (within
//! `server.shutdown_timeout`, in [`super::serve`]).
//!
//! Without the delay, readiness and the port would fail at the same
//! instant, and a balancer that has not yet probed `/readyz` sends new
//! connections to a closed port. SIGTERM, SIGINT and the admin API's
//! drain all come here.
use crate::telemetry::admin::Readiness;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The drain delay as the current config has it (read when the drain
/// begins, so a reload applies to it).
pub(crate) type DelaySource = Box<dyn Fn() -> Duration + Send + Sync>;

/// One process's drain: begun at most once.
pub(crate) struct Drain {
    readiness: Arc<Readiness>,
    delay: DelaySource,
    begun: AtomicBool,
    /// `true` once the listeners are to close (after the delay).
    close: watch::Sender<bool>,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain")
            .field("begun", &self.begun)
            .finish_non_exhaustive()
    }
}

impl Drain {
    pub(crate) fn new(readiness: Arc<Readiness>, delay: DelaySource) -> Arc<Drain> {
        Arc::new(Drain {
            readiness,
            delay,
            begun: AtomicBool::new(false),
            close: watch::channel(false).0,
        })
    }

    /// Starts the drain: readiness fails now, the listeners close after
    /// `drain_delay`. Returns `false` when a drain had already begun (the
    /// call changes nothing then). Must be called within the Tokio
    /// runtime (it spawns the delay's timer); outside one, the listeners
    /// close at once.
    pub(crate) fn begin_drain(self: &Arc<Self>) -> bool {
        if self.begun.swap(true, Ordering::SeqCst) {
            return false;
        }
        self.readiness.set(false);
        crate::telemetry::sd_notify::notify("STOPPING=1");
        let delay = (self.delay)();
        tracing::info!(
            drain_delay = ?delay,
            "draining: /readyz answers 503; the listeners close after the drain delay, then requests in flight finish"
        );
        let this = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) if !delay.is_zero() => {
                rt.spawn(async move {
                    tokio::time::sleep(delay).await;
                    this.close_now();
                });
            }
            _ => this.close_now(),
        }
        true
    }

    /// The readiness this drain fails (what `/readyz` answers).
    pub(crate) fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Readiness on, once serving, unless a drain has begun (a signal
    /// during start-up): set first, then checked, so that whichever of
    /// this and [`Drain::begin_drain`] runs last, a begun drain is unready.
    pub(crate) fn mark_ready(&self) {
        self.readiness.set(true);
        if self.is_draining() {
            self.readiness.set(false);
        }
    }

    /// Whether a drain has begun (readiness fails from then on).
    pub(crate) fn is_draining(&self) -> bool {
        self.begun.load(Ordering::SeqCst)
    }

    fn close_now(&self) {
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        self.close.send_replace(true);
    }

    /// Completes when the listeners are to close: the drain has begun and
    /// its delay has passed.
    pub(crate) fn closing(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.close.subscribe();
        async move {
            let _ = rx.wait_for(|closed| *closed).await;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readiness_fails_first_and_the_listeners_close_after_the_delay() {
        let readiness = Arc::new(Readiness::default());
        readiness.set(true);
        let drain = Drain::new(readiness.clone(), Box::new(|| Duration::from_millis(400)));
        let closing = drain.closing();
        tokio::pin!(closing);
        assert!(drain.begin_drain());
        assert!(!readiness.is_ready(), "readiness fails at once");
        assert!(drain.is_draining());
        assert!(!drain.begin_drain(), "a second drain changes nothing");
        // Not closed before the delay (a timer never fires early)...
        assert!(
            tokio::time::timeout(Duration::from_millis(200), &mut closing)
                .await
                .is_err(),
            "the listeners stay open during the drain delay"
        );
        // ...closed after it.
        tokio::time::timeout(Duration::from_secs(10), &mut closing)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_drain_begun_during_start_up_stays_unready() {
        let drain = Drain::new(Arc::new(Readiness::default()), Box::new(|| Duration::ZERO));
        drain.mark_ready();
        assert!(drain.readiness().is_ready());
        assert!(drain.begin_drain());
        drain.mark_ready();
        assert!(!drain.readiness().is_ready());
    }

    #[tokio::test]
    async fn a_zero_delay_closes_at_once() {
        let drain = Drain::new(Arc::new(Readiness::default()), Box::new(|| Duration::ZERO));
        assert!(drain.begin_drain());
        tokio::time::timeout(Duration::from_secs(1), drain.closing())
            .await
            .unwrap();
    }
}
