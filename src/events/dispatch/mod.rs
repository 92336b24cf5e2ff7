//! The dispatcher: one task per sink reads the outbox after the sink's
//! cursor and hands it the events in sequence order, one at a time (or,
//! to a sink that takes batches, one batch of consecutive events at a
//! time: `sink/batched.rs`).
//!
//! A failed event blocks its sink (retried with the sink's
//! [`RetryPolicy`]) until it is delivered or dead-lettered, so a sink sees
//! every resource's events in order. The cursor only ever covers
//! acknowledged (or dead-lettered) events, and is written often
//! (at-least-once; see `sink::CursorState`). Requeued dead letters
//! ([`deadletter::requeue`]) are delivered before further outbox events.
//! A housekeeping task deletes the segments every sink is done with and
//! publishes the outbox depth.
//!
//! A caught-up sink takes the newest events from the journal's memory
//! ([`RecentEvents`]) instead of reading them back from the file.
//!
//! One dispatcher per outbox directory: cursors are not shared between
//! processes.
mod sink;

use crate::events::metrics;
use crate::events::outbox::{highest_seq, remove_delivered_segments};
use crate::events::recent::RecentEvents;
use crate::events::retry::RetryPolicy;
use crate::events::{is_valid_sink_name, Sink};
use sink::SinkTask;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
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
    /// The longest a sink's cursor lags its acknowledged events on disk,
    /// while events flow and when the sink goes idle (it is also written
    /// before a retry wait and at shutdown): what a crash may deliver
    /// twice.
    pub cursor_flush_interval: Duration,
}

/// Drives every sink over one outbox.
pub struct Dispatcher {
    settings: DispatcherSettings,
    sinks: Vec<(Arc<dyn Sink>, RetryPolicy)>,
    durable: Option<watch::Receiver<u64>>,
    recent: Option<Arc<RecentEvents>>,
}

struct Shared {
    settings: DispatcherSettings,
    /// Each sink's cursor as last written (0 until loaded: conservative
    /// for segment deletion).
    cursors: Vec<AtomicU64>,
    /// Per sink, the write time (Unix ms) of the event it is working on,
    /// [`IDLE`] when caught up: housekeeping turns it into the
    /// oldest-undelivered-age gauge, fresh even during long retry waits.
    working_on: Vec<AtomicI64>,
    names: Vec<String>,
}

/// `working_on` of a sink with nothing to do.
const IDLE: i64 = i64::MIN;

// === impl DispatcherSettings ===

impl DispatcherSettings {
    /// Defaults: poll every 250 ms, batches of 256, housekeeping every 5 s,
    /// cursor at most 200 ms behind the acknowledged events.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DispatcherSettings {
            dir: dir.into(),
            poll_interval: Duration::from_millis(250),
            batch_size: 256,
            housekeeping_interval: Duration::from_secs(5),
            cursor_flush_interval: Duration::from_millis(200),
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
            recent: None,
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

    /// Takes the newest events from the journal's memory rather than
    /// reading them back from the outbox file (used only together with
    /// [`Self::with_durable_seq`], whose seq still decides what is read).
    pub fn with_recent(mut self, recent: Arc<RecentEvents>) -> Self {
        self.recent = Some(recent);
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
            working_on: self.sinks.iter().map(|_| AtomicI64::new(IDLE)).collect(),
            names: self
                .sinks
                .iter()
                .map(|(s, _)| s.name().to_string())
                .collect(),
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
                recent: self.recent.clone(),
                stop: stop_rx.clone(),
                cursor: sink::CursorState {
                    done: 0,
                    written: 0,
                    last_flush: std::time::Instant::now(),
                },
                requeue_listed: None,
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
        // The sinks wrote their cursors as they stopped: what they are all
        // done with goes now, not at the next start.
        if !shared.cursors.is_empty() {
            let min = min_cursor(&shared);
            let dir = shared.settings.dir.clone();
            if let Err(e) = blocking(move || remove_delivered_segments(&dir, min)).await {
                tracing::warn!(error = %e, "outbox housekeeping failed");
            }
        }
        Ok(())
    }
}

/// Deletes delivered segments and publishes the depth, until stopped.
async fn housekeeping(
    shared: Arc<Shared>,
    durable: Option<watch::Receiver<u64>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let min = min_cursor(&shared);
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
        let now = unix_ms(crate::scim::datetime::DateTime::now());
        for (name, working_on) in shared.names.iter().zip(&shared.working_on) {
            let since = working_on.load(Ordering::Acquire);
            let age_ms = if since == IDLE {
                0
            } else {
                now.saturating_sub(since).max(0)
            };
            metrics::set_oldest_age(name, Duration::from_millis(age_ms.unsigned_abs()));
        }
        tokio::select! {
            () = tokio::time::sleep(shared.settings.housekeeping_interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// The lowest cursor of every sink, as last written.
fn min_cursor(shared: &Shared) -> u64 {
    shared
        .cursors
        .iter()
        .map(|c| c.load(Ordering::Acquire))
        .min()
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch.
fn unix_ms(t: crate::scim::datetime::DateTime) -> i64 {
    t.secs
        .saturating_mul(1000)
        .saturating_add(i64::from(t.nanos / 1_000_000))
}

/// Runs blocking file I/O off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests;
