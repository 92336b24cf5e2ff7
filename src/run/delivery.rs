//! The dispatcher as the gateway runs it: its sinks come from the config
//! snapshot (each tenant's webhooks, the shared Kafka sink), and a reload
//! that changes the config restarts it with the new sinks. Cursors live on
//! disk, so a restart resumes where each sink stopped (an event in flight
//! is delivered again: at-least-once).
//!
//! Part of the process wiring (`run`), not of `events`: it reads the
//! config handle and the snapshot, which the events core must not.
use crate::config::ConfigHandle;
use crate::events::kafka::{KafkaEventSink, KafkaSink};
use crate::events::{Dispatcher, DispatcherSettings, RecentEvents, RetryPolicy, Sink};
use crate::snapshot::Snapshot;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::watch;

/// How often the runner looks for a new snapshot.
const CONFIG_CHECK: Duration = Duration::from_secs(1);
/// Wait before trying again to build a sink that failed (e.g. Kafka).
const REBUILD_AFTER: Duration = Duration::from_secs(30);

/// The Kafka sink's name (its cursor file and metric label).
pub(crate) const KAFKA_SINK: &str = "kafka";

/// A broker outage must not dead-letter events: retries for a week, at
/// most a minute apart.
pub(crate) const KAFKA_POLICY: RetryPolicy = RetryPolicy {
    initial_backoff: Duration::from_secs(1),
    max_backoff: Duration::from_secs(60),
    max_attempts: u32::MAX,
    max_age: Duration::from_secs(7 * 24 * 3600),
};

/// Runs the dispatcher over `dir` (the audit directory: `outbox/`,
/// cursors, `deadletter/`) until `shutdown` completes. `durable` and
/// `recent` are the journal's durable outbox seq and newest events.
pub(crate) async fn run(
    config: Arc<ConfigHandle>,
    dir: PathBuf,
    durable: watch::Receiver<u64>,
    recent: Arc<RecentEvents>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    // Weak: holding the old snapshot would keep what belongs to it (e.g.
    // health checks) running after a reload.
    let mut current: Option<Weak<Snapshot>> = None;
    let mut running: Option<Running> = None;
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        let snapshot = config.load();
        let changed = !current
            .as_ref()
            .is_some_and(|c| std::ptr::eq(c.as_ptr(), Arc::as_ptr(&snapshot)));
        let retry_due = retry_at.is_some_and(|at| tokio::time::Instant::now() >= at);
        if changed || retry_due {
            if let Some(r) = running.take() {
                r.stop().await;
            }
            retry_at = None;
            // The sinks that could be built deliver at once; one that could
            // not (Kafka) is tried again later, its events kept meanwhile.
            let (sinks, failure) = sinks(&snapshot);
            if let Some(e) = failure {
                tracing::error!(error = %e, retry_in = ?REBUILD_AFTER, "an event sink could not be built");
                retry_at = Some(tokio::time::Instant::now() + REBUILD_AFTER);
            }
            if !sinks.is_empty() {
                let names: Vec<String> = sinks.iter().map(|(s, _)| s.name().into()).collect();
                tracing::info!(sinks = ?names, "event delivery started");
                running = Some(Running::start(
                    &snapshot,
                    dir.clone(),
                    (durable.clone(), recent.clone()),
                    sinks,
                ));
            }
            current = Some(Arc::downgrade(&snapshot));
        }
        drop(snapshot);
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(CONFIG_CHECK) => {}
        }
    }
    if let Some(r) = running {
        r.stop().await;
    }
}

/// A sink with its retry policy.
type PolicedSink = (Arc<dyn Sink>, RetryPolicy);

/// Every sink of the snapshot with its retry policy, and why one could not
/// be built, if so.
fn sinks(snapshot: &Snapshot) -> (Vec<PolicedSink>, Option<String>) {
    let mut out: Vec<PolicedSink> = Vec::new();
    let mut tenants: Vec<_> = snapshot.tenants.values().collect();
    tenants.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    for tenant in tenants {
        for webhook in &tenant.journal.webhooks {
            out.push((webhook.clone(), webhook.policy()));
        }
    }
    let mut failure = None;
    if let Some(settings) = &snapshot.events.kafka {
        let built = KafkaSink::new(settings)
            .map_err(|e| e.detail)
            .and_then(|kafka| KafkaEventSink::new(KAFKA_SINK, None, kafka));
        match built {
            Ok(sink) => out.push((Arc::new(sink), KAFKA_POLICY)),
            Err(e) => failure = Some(e),
        }
    }
    (out, failure)
}

/// A dispatcher task and the switch that stops it.
struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(
        snapshot: &Snapshot,
        dir: PathBuf,
        (durable, recent): (watch::Receiver<u64>, Arc<RecentEvents>),
        sinks: Vec<PolicedSink>,
    ) -> Running {
        let mut settings = DispatcherSettings::new(dir);
        settings.poll_interval = snapshot.events.poll_interval;
        let mut dispatcher = Dispatcher::new(settings)
            .with_durable_seq(durable)
            .with_recent(recent);
        for (sink, policy) in sinks {
            dispatcher = dispatcher.with_sink(sink, policy);
        }
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let result = dispatcher
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "event delivery stopped");
            }
        });
        Running { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
