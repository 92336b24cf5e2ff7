//! The dispatcher: one task per sink reads the outbox after the sink's
//! cursor and hands it the events in sequence order, one at a time.
//!
//! A failed event blocks its sink (retried with the sink's
//! [`RetryPolicy`]) until it is delivered or dead-lettered, so a sink sees
//! every resource's events in order. The cursor is written after each
//! acknowledgement (at-least-once). Requeued dead letters
//! ([`deadletter::requeue`]) are delivered before further outbox events.
//! A housekeeping task deletes the segments every sink is done with and
//! publishes the outbox depth.
//!
//! One dispatcher per outbox directory: cursors are not shared between
//! processes.
use crate::events::cursor::{read_cursor, write_cursor};
use crate::events::deadletter::{self, DeadLetter};
use crate::events::metrics::{self, DeliveryFailed, EventDeadLettered, EventDelivered};
use crate::events::outbox::{highest_seq, remove_delivered_segments, OutboxReader, OutboxRecord};
use crate::events::retry::{jitter, RetryPolicy};
use crate::events::{is_valid_sink_name, Sink};
use crate::scim::datetime::DateTime;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Where the outbox is and how eagerly to read it.
#[derive(Debug, Clone)]
pub struct DispatcherSettings {
    /// The events directory: `outbox/`, `deadletter/` live under it.
    pub dir: PathBuf,
    /// How often to look for new events when no durable-seq watch tells
    /// us (and as a fallback when one does).
    pub poll_interval: Duration,
    /// Records read per batch.
    pub batch_size: usize,
    /// How often to delete delivered segments and publish the depth.
    pub housekeeping_interval: Duration,
}

/// Drives every sink over one outbox.
pub struct Dispatcher {
    settings: DispatcherSettings,
    sinks: Vec<(Arc<dyn Sink>, RetryPolicy)>,
    durable: Option<watch::Receiver<u64>>,
}

/// How one event's delivery ended.
enum Outcome {
    Delivered,
    DeadLettered(Box<DeadLetter>),
    Stopped,
}

struct Shared {
    settings: DispatcherSettings,
    /// Each sink's cursor as last written (0 until loaded: conservative
    /// for segment deletion).
    cursors: Vec<AtomicU64>,
}

// === impl DispatcherSettings ===

impl DispatcherSettings {
    /// Defaults: poll every 250 ms, batches of 256, housekeeping every 5 s.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DispatcherSettings {
            dir: dir.into(),
            poll_interval: Duration::from_millis(250),
            batch_size: 256,
            housekeeping_interval: Duration::from_secs(5),
        }
    }
}

// === impl Dispatcher ===

impl Dispatcher {
    pub fn new(settings: DispatcherSettings) -> Self {
        Dispatcher {
            settings,
            sinks: Vec::new(),
            durable: None,
        }
    }

    /// Adds a sink with its retry policy.
    pub fn with_sink(mut self, sink: Arc<dyn Sink>, policy: RetryPolicy) -> Self {
        self.sinks.push((sink, policy));
        self
    }

    /// Reads only up to the writer's highest durable seq, and wakes up as
    /// soon as it moves (instead of waiting for the next poll).
    pub fn with_durable_seq(mut self, durable: watch::Receiver<u64>) -> Self {
        self.durable = Some(durable);
        self
    }

    /// Runs until `shutdown` completes. An event in flight at shutdown is
    /// abandoned and delivered again on the next start. Fails at once when
    /// a sink name is invalid or used twice.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let mut names: Vec<&str> = self.sinks.iter().map(|(s, _)| s.name()).collect();
        if let Some(bad) = names.iter().find(|n| !is_valid_sink_name(n)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("sink name \"{bad}\" must be 1-128 characters of A-Z a-z 0-9 . _ -"),
            ));
        }
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|p| p.first() == p.get(1)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "sink name \"{}\" is used twice",
                    pair.first().copied().unwrap_or("")
                ),
            ));
        }
        let shared = Arc::new(Shared {
            settings: self.settings,
            cursors: self.sinks.iter().map(|_| AtomicU64::new(0)).collect(),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        for (index, (sink, policy)) in self.sinks.into_iter().enumerate() {
            let ctx = SinkTask {
                shared: shared.clone(),
                index,
                sink,
                policy,
                durable: self.durable.clone(),
                stop: stop_rx.clone(),
            };
            tasks.spawn(ctx.run());
        }
        if !shared.cursors.is_empty() {
            tasks.spawn(housekeeping(
                shared.clone(),
                self.durable.clone(),
                stop_rx.clone(),
            ));
        }
        shutdown.await;
        let _ = stop_tx.send(true);
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

struct SinkTask {
    shared: Arc<Shared>,
    index: usize,
    sink: Arc<dyn Sink>,
    policy: RetryPolicy,
    durable: Option<watch::Receiver<u64>>,
    stop: watch::Receiver<bool>,
}

// === impl SinkTask ===

impl SinkTask {
    /// Delivers until stopped; an I/O error (a full disk, a missing
    /// directory) is logged and the loop starts over after a pause.
    async fn run(mut self) {
        while !*self.stop.borrow() {
            match self.deliver_all().await {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(sink = self.sink.name(), error = %e, "event dispatcher: I/O error; retrying in 1s");
                    if self.pause(Duration::from_secs(1)).await {
                        return;
                    }
                }
            }
        }
    }

    async fn deliver_all(&mut self) -> io::Result<()> {
        let dir = self.shared.settings.dir.clone();
        let name = self.sink.name().to_string();
        let mut cursor = blocking({
            let (dir, name) = (dir.clone(), name.clone());
            move || read_cursor(&dir, &name)
        })
        .await?
        .unwrap_or(0);
        self.publish(cursor);
        let mut reader = Some(OutboxReader::new(&dir, cursor));
        loop {
            if *self.stop.borrow() {
                return Ok(());
            }
            if !self.drain_requeued().await? {
                return Ok(());
            }
            let durable = self.durable.as_ref().map(|d| *d.borrow());
            let max = self.shared.settings.batch_size.max(1);
            let mut r = reader
                .take()
                .unwrap_or_else(|| OutboxReader::new(&dir, cursor));
            let (r, batch) = tokio::task::spawn_blocking(move || {
                let batch = r.read_batch(max, durable);
                (r, batch)
            })
            .await
            .map_err(io::Error::other)?;
            reader = Some(r);
            let batch = batch?;
            if batch.is_empty() {
                metrics::set_oldest_age(&name, Duration::ZERO);
                if self.wait_for_more().await {
                    return Ok(());
                }
                continue;
            }
            for record in &batch {
                let wanted = match self.sink.tenant() {
                    // Isolation: a tenant's sink never sees another's events.
                    Some(tenant) => record.tenant() == Some(tenant),
                    None => true,
                };
                if !wanted {
                    continue;
                }
                match self.deliver(record, 0, None, false).await {
                    Outcome::Stopped => return Ok(()),
                    Outcome::Delivered => {}
                    Outcome::DeadLettered(letter) => {
                        blocking({
                            let dir = dir.clone();
                            move || deadletter::store(&dir, &letter)
                        })
                        .await?;
                    }
                }
                cursor = record.seq;
                self.save_cursor(cursor).await?;
            }
            // Events of other tenants at the end of the batch.
            if let Some(last) = batch.last().map(|r| r.seq).filter(|s| *s > cursor) {
                cursor = last;
                self.save_cursor(cursor).await?;
            }
        }
    }

    /// Delivers the requeued dead letters; `false` when stopped.
    async fn drain_requeued(&mut self) -> io::Result<bool> {
        let dir = self.shared.settings.dir.clone();
        let name = self.sink.name().to_string();
        let queued = blocking({
            let dir = dir.clone();
            move || deadletter::list_requeued(&dir, &name)
        })
        .await?;
        for (path, letter) in queued {
            let outcome = self
                .deliver(
                    &letter.record(),
                    letter.attempts,
                    Some(letter.first_attempt.clone()),
                    true,
                )
                .await;
            match outcome {
                Outcome::Stopped => return Ok(false),
                Outcome::Delivered => {
                    blocking(move || std::fs::remove_file(&path)).await?;
                }
                Outcome::DeadLettered(again) => {
                    let dir = dir.clone();
                    blocking(move || {
                        deadletter::store(&dir, &again)?;
                        std::fs::remove_file(&path)
                    })
                    .await?;
                }
            }
        }
        Ok(true)
    }

    /// One event, retried until delivered, dead-lettered or stopped.
    async fn deliver(
        &mut self,
        record: &OutboxRecord,
        prior_attempts: u32,
        first_attempt: Option<String>,
        redelivery: bool,
    ) -> Outcome {
        let name = self.sink.name().to_string();
        let written = record.time().and_then(DateTime::parse);
        let first_attempt = first_attempt.unwrap_or_else(|| DateTime::now().to_rfc3339());
        let started = Instant::now();
        let mut attempts = 0u32;
        loop {
            attempts = attempts.saturating_add(1);
            metrics::set_oldest_age(&name, age(written));
            let sink = self.sink.clone();
            let result = tokio::select! {
                r = sink.deliver(record) => r,
                _ = self.stop.wait_for(|s| *s) => return Outcome::Stopped,
            };
            let error = match result {
                Ok(()) => {
                    EventDelivered {
                        sink: &name,
                        seq: record.seq,
                        id: record.id(),
                        attempts,
                        latency: written.map(|w| age(Some(w))),
                        redelivery,
                    }
                    .emit();
                    return Outcome::Delivered;
                }
                Err(e) => e,
            };
            let give_up = !error.retryable || self.policy.exhausted(attempts, started.elapsed());
            let wait =
                (!give_up).then(|| self.policy.next_wait(attempts, jitter(), error.retry_after));
            DeliveryFailed {
                sink: &name,
                seq: record.seq,
                id: record.id(),
                attempts,
                retryable: error.retryable,
                detail: &error.detail,
                next_try_in: wait,
            }
            .emit();
            let Some(wait) = wait else {
                let total = prior_attempts.saturating_add(attempts);
                EventDeadLettered {
                    sink: &name,
                    seq: record.seq,
                    id: record.id(),
                    attempts: total,
                    detail: &error.detail,
                }
                .emit();
                return Outcome::DeadLettered(Box::new(DeadLetter {
                    seq: record.seq,
                    sink: name,
                    tenant: record.tenant().map(str::to_string),
                    attempts: total,
                    first_attempt,
                    dead_lettered_at: DateTime::now().to_rfc3339(),
                    last_error: error.detail,
                    event: record.event.clone(),
                }));
            };
            if self.pause(wait).await {
                return Outcome::Stopped;
            }
        }
    }

    async fn save_cursor(&self, seq: u64) -> io::Result<()> {
        let dir = self.shared.settings.dir.clone();
        let name = self.sink.name().to_string();
        blocking(move || write_cursor(&dir, &name, seq)).await?;
        self.publish(seq);
        Ok(())
    }

    fn publish(&self, seq: u64) {
        if let Some(c) = self.shared.cursors.get(self.index) {
            c.store(seq, Ordering::Release);
        }
    }

    /// Sleeps; `true` when stopped meanwhile.
    async fn pause(&mut self, wait: Duration) -> bool {
        let stopped = tokio::select! {
            () = tokio::time::sleep(wait) => false,
            _ = self.stop.wait_for(|s| *s) => true,
        };
        stopped || *self.stop.borrow()
    }

    /// Waits for the durable seq to move or the poll interval; `true` when
    /// stopped meanwhile.
    async fn wait_for_more(&mut self) -> bool {
        let poll = self.shared.settings.poll_interval;
        let durable = async {
            let moved = match self.durable.as_mut() {
                Some(rx) => rx.changed().await.is_ok(),
                None => false,
            };
            if !moved {
                // No watch, or the writer is gone: the poll decides.
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = durable => false,
            () = tokio::time::sleep(poll) => false,
            _ = self.stop.wait_for(|s| *s) => true,
        }
    }
}

/// Deletes delivered segments and publishes the depth, until stopped.
async fn housekeeping(
    shared: Arc<Shared>,
    durable: Option<watch::Receiver<u64>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let min = shared
            .cursors
            .iter()
            .map(|c| c.load(Ordering::Acquire))
            .min()
            .unwrap_or(0);
        let dir = shared.settings.dir.clone();
        let known = durable.as_ref().map(|d| *d.borrow());
        let result = blocking(move || {
            let removed = remove_delivered_segments(&dir, min)?;
            let highest = match known {
                Some(h) => Some(h),
                None => highest_seq(&dir)?,
            };
            Ok((removed, highest))
        })
        .await;
        match result {
            Ok((removed, highest)) => {
                if removed > 0 {
                    tracing::debug!(
                        removed,
                        min_cursor = min,
                        "outbox: delivered segments removed"
                    );
                }
                metrics::set_depth(highest.unwrap_or(0).saturating_sub(min));
            }
            Err(e) => tracing::warn!(error = %e, "outbox housekeeping failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(shared.settings.housekeeping_interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Time since `written` (zero when unknown or in the future).
fn age(written: Option<DateTime>) -> Duration {
    let Some(w) = written else {
        return Duration::ZERO;
    };
    let now = DateTime::now();
    let secs = now.secs.saturating_sub(w.secs);
    let nanos = i64::from(now.nanos) - i64::from(w.nanos);
    let total = secs.saturating_mul(1_000_000_000).saturating_add(nanos);
    u64::try_from(total).map_or(Duration::ZERO, Duration::from_nanos)
}

/// Runs blocking file I/O off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}
