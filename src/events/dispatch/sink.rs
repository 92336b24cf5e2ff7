//! One sink's loop: requeued dead letters first, then outbox events after
//! the sink's cursor, each retried until delivered, dead-lettered or
//! stopped; the cursor follows acknowledgements (see [`CursorState`]).
mod batched;
mod tries;
mod window;

use super::{blocking, unix_ms, Shared, IDLE};
use crate::events::cursor::{read_cursor, write_cursor};
use crate::events::deadletter::{self, DeadLetter};
use crate::events::metrics;
use crate::events::outbox::{OutboxReader, OutboxRecord};
use crate::events::recent::{RecentEvent, RecentEvents};
use crate::events::retry::RetryPolicy;
use crate::events::{DeliveredBody, Sink};
use crate::scim::datetime::DateTime;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tries::{Step, Tries};

/// How one event's delivery ended.
enum Outcome {
    Delivered,
    DeadLettered(Box<DeadLetter>),
    Stopped,
}

pub(super) struct SinkTask {
    pub(super) shared: Arc<Shared>,
    pub(super) index: usize,
    pub(super) sink: Arc<dyn Sink>,
    pub(super) policy: RetryPolicy,
    pub(super) durable: Option<watch::Receiver<u64>>,
    /// The journal's newest events, taken instead of reading the file
    /// when they are there (only with `durable`).
    pub(super) recent: Option<Arc<RecentEvents>>,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) cursor: CursorState,
    /// When the retry queue was last listed (`None`: list it next turn).
    /// Listed at most once per `poll_interval`, busy or idle: under a
    /// stream of writes, a listing per batch would cost a blocking-pool
    /// hand-off and a directory read each.
    pub(super) requeue_listed: Option<Instant>,
}

/// An event to deliver: read from the outbox file, or handed over in
/// memory by the journal.
enum Pending {
    File(OutboxRecord),
    Memory(Arc<RecentEvent>),
}

impl Pending {
    fn record(&self) -> &OutboxRecord {
        match self {
            Pending::File(record) => record,
            Pending::Memory(event) => &event.record,
        }
    }

    fn recent(&self) -> Option<&RecentEvent> {
        match self {
            Pending::File(_) => None,
            Pending::Memory(event) => Some(event),
        }
    }

    /// The event as delivered alone ([`OutboxRecord::body`]), borrowed.
    fn body(&self) -> DeliveredBody<'_> {
        match self {
            Pending::File(record) => record.delivered_body(),
            Pending::Memory(event) => event.delivered(),
        }
    }
}

/// The sink's progress: `done` in memory, `written` on disk. Writing
/// after every event (or every batch: under load a batch is a handful of
/// events) would cost two fsyncs each; instead a moved cursor is written
/// once its last write is `cursor_flush_interval` old, whether events flow
/// or the sink went idle (the idle wait ends at that deadline), before
/// waiting to retry, and at shutdown. A crash repeats at most the events acknowledged since
/// the last write, which is never older than the interval (at-least-once
/// either way).
#[derive(Debug)]
pub(super) struct CursorState {
    pub(super) done: u64,
    pub(super) written: u64,
    pub(super) last_flush: Instant,
}

// === impl SinkTask ===

impl SinkTask {
    /// Delivers until stopped; an I/O error (a full disk, a missing
    /// directory) is logged and the loop starts over after a pause.
    pub(super) async fn run(mut self) {
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
        let start = blocking({
            let (dir, name) = (dir.clone(), name.clone());
            move || read_cursor(&dir, &name)
        })
        .await?
        .unwrap_or(0);
        self.cursor = CursorState {
            done: start,
            written: start,
            last_flush: Instant::now(),
        };
        self.publish(start);
        self.requeue_listed = None;
        let mut reader = Some(OutboxReader::new(&dir, start));
        loop {
            let stopped = *self.stop.borrow();
            if stopped || !self.drain_requeued_due().await? {
                return self.flush_cursor().await;
            }
            let durable = self.durable.as_ref().map(|d| *d.borrow());
            let max = self.shared.settings.batch_size.max(1);
            let done = self.cursor.done;
            let from_memory = match (&self.recent, durable) {
                (Some(recent), Some(durable)) => recent.take(done.saturating_add(1), durable, max),
                _ => None,
            };
            let batch: Vec<Pending> = match from_memory {
                // Nothing durable past the cursor: nothing to read.
                None if durable.is_some_and(|d| d <= done) => Vec::new(),
                Some(events) => events.into_iter().map(Pending::Memory).collect(),
                None => {
                    // After events from memory the reader's place is
                    // behind: it skips to the cursor from where it was
                    // (each line passed over once, its seq read alone),
                    // rather than reading the segment from its start.
                    let mut r = reader
                        .take()
                        .unwrap_or_else(|| OutboxReader::new(&dir, done));
                    r.skip_to(done.saturating_add(1));
                    let (r, batch) = tokio::task::spawn_blocking(move || {
                        let batch = r.read_batch(max, durable);
                        (r, batch)
                    })
                    .await
                    .map_err(io::Error::other)?;
                    reader = Some(r);
                    batch?.into_iter().map(Pending::File).collect()
                }
            };
            if batch.is_empty() {
                metrics::set_oldest_age(&name, Duration::ZERO);
                self.working_on(IDLE);
                if self.cursor_due() {
                    self.flush_cursor().await?;
                }
                if self.wait_for_more().await {
                    return self.flush_cursor().await;
                }
                continue;
            }
            if let Some(limits) = self.sink.batch_limits() {
                if !self.deliver_batched(&batch, limits).await? {
                    return self.flush_cursor().await;
                }
                continue;
            }
            let window = self.sink.max_in_flight();
            if window > 1 {
                if !self.deliver_window(&batch, window).await? {
                    return self.flush_cursor().await;
                }
                continue;
            }
            for pending in &batch {
                let record = pending.record();
                if self.wants(record) {
                    match self.deliver(record, pending.recent(), 0, None, false).await {
                        Outcome::Stopped => return self.flush_cursor().await,
                        Outcome::Delivered => {}
                        Outcome::DeadLettered(letter) => {
                            // Stored before the cursor can pass its event.
                            blocking({
                                let dir = dir.clone();
                                move || deadletter::store(&dir, &letter)
                            })
                            .await?;
                        }
                    }
                }
                self.cursor.done = record.seq;
                if self.cursor_due() {
                    self.flush_cursor().await?;
                }
            }
        }
    }

    /// Whether the sink takes `record`. Isolation: a tenant's sink never
    /// sees another tenant's events.
    fn wants(&self, record: &OutboxRecord) -> bool {
        match self.sink.tenant() {
            Some(tenant) => record.tenant() == Some(tenant),
            None => true,
        }
    }

    /// [`Self::drain_requeued`] when the queue was last listed
    /// `poll_interval` ago (or never); `true` otherwise.
    async fn drain_requeued_due(&mut self) -> io::Result<bool> {
        let poll = self.shared.settings.poll_interval;
        if self.requeue_listed.is_some_and(|at| at.elapsed() < poll) {
            return Ok(true);
        }
        self.requeue_listed = Some(Instant::now());
        self.drain_requeued().await
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
                    None,
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

    /// One event, retried until delivered, dead-lettered or stopped
    /// (`recent`: the same event as the journal handed it over).
    async fn deliver(
        &mut self,
        record: &OutboxRecord,
        recent: Option<&RecentEvent>,
        prior_attempts: u32,
        first_attempt: Option<String>,
        redelivery: bool,
    ) -> Outcome {
        let name = self.sink.name().to_string();
        let mut tries = Tries::new(self.sink.as_ref(), record, recent, redelivery);
        tries.prior_attempts = prior_attempts;
        tries.first_attempt = first_attempt;
        self.working_on(tries.written_ms());
        loop {
            let step = tries
                .attempt(&self.sink, &self.policy, &name, &mut self.stop)
                .await;
            match step {
                Step::Done(outcome) => return outcome,
                Step::Wait(wait) => {
                    // Progress so far survives a crash during a long outage.
                    if let Err(e) = self.flush_cursor().await {
                        tracing::warn!(sink = %name, error = %e, "cannot write the cursor");
                    }
                    if self.pause(wait).await {
                        return Outcome::Stopped;
                    }
                }
            }
        }
    }

    /// Whether the cursor moved and its last write is
    /// `cursor_flush_interval` old.
    fn cursor_due(&self) -> bool {
        self.cursor.done != self.cursor.written
            && self.cursor.last_flush.elapsed() >= self.shared.settings.cursor_flush_interval
    }

    /// How long until the moved cursor is due (`None`: it has not moved).
    fn cursor_deadline(&self) -> Option<Duration> {
        (self.cursor.done != self.cursor.written).then(|| {
            self.shared
                .settings
                .cursor_flush_interval
                .saturating_sub(self.cursor.last_flush.elapsed())
        })
    }

    /// Writes the cursor if it moved since the last write.
    async fn flush_cursor(&mut self) -> io::Result<()> {
        let seq = self.cursor.done;
        if seq == self.cursor.written {
            return Ok(());
        }
        let dir = self.shared.settings.dir.clone();
        let name = self.sink.name().to_string();
        blocking(move || write_cursor(&dir, &name, seq)).await?;
        self.cursor.written = seq;
        self.cursor.last_flush = Instant::now();
        self.publish(seq);
        Ok(())
    }

    /// Tells housekeeping which event (by write time) the sink is on.
    fn working_on(&self, since_ms: i64) {
        if let Some(w) = self.shared.working_on.get(self.index) {
            w.store(since_ms, Ordering::Release);
        }
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

    /// Waits for the durable seq to move or the poll interval (shorter
    /// when the cursor is due to be written before); `true` when stopped
    /// meanwhile.
    async fn wait_for_more(&mut self) -> bool {
        let poll = self.shared.settings.poll_interval;
        let poll = self.cursor_deadline().map_or(poll, |due| due.min(poll));
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
