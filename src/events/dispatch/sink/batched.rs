//! Delivery in batches, for a sink that takes them
//! ([`Sink::batch_limits`]): the events read in one go are cut into
//! batches of consecutive events of the sink, each within the limits and
//! taken as they are (a batch is never held back to fill up), delivered
//! one batch at a time. A batch is retried whole, with the sink's policy,
//! as the same events; when it gives up (a permanent refusal, or the
//! policy exhausted) each of its events is dead-lettered. The cursor
//! passes a batch only once it is acknowledged or its dead letters are
//! stored, so the order per resource and at-least-once hold as for single
//! events.
use super::{age, blocking, unix_ms, Pending, SinkTask};
use crate::events::deadletter::{self, DeadLetter};
use crate::events::metrics::{DeliveryFailed, EventDeadLettered, EventDelivered};
use crate::events::retry::jitter;
use crate::events::{BatchEvent, BatchLimits};
use crate::scim::datetime::DateTime;
use std::io;
use std::time::Instant;

/// How one batch's delivery ended.
enum BatchOutcome {
    Delivered,
    DeadLettered(Vec<DeadLetter>),
    Stopped,
}

impl SinkTask {
    /// Delivers `batch` (events read in outbox order, of every tenant) in
    /// batches of the sink's events; `false` when stopped.
    pub(super) async fn deliver_batched(
        &mut self,
        batch: &[Pending],
        limits: BatchLimits,
    ) -> io::Result<bool> {
        let mut start = 0;
        while start < batch.len() {
            let (end, events) = self.next_batch(batch, start, limits);
            if !events.is_empty() {
                match self.deliver_events(&events).await {
                    BatchOutcome::Stopped => return Ok(false),
                    BatchOutcome::Delivered => {}
                    BatchOutcome::DeadLettered(letters) => {
                        // Stored before the cursor can pass their events.
                        let dir = self.shared.settings.dir.clone();
                        blocking(move || {
                            letters
                                .iter()
                                .try_for_each(|letter| deadletter::store(&dir, letter))
                        })
                        .await?;
                    }
                }
            }
            if let Some(last) = end.checked_sub(1).and_then(|i| batch.get(i)) {
                self.cursor.done = last.record().seq;
            }
            if self.cursor_due() {
                self.flush_cursor().await?;
            }
            start = end;
        }
        Ok(true)
    }

    /// From `start` on: where the next batch ends (exclusive; it may end
    /// with other tenants' events, which the cursor passes with it) and the
    /// sink's events in it, within `limits` (the first one always).
    fn next_batch<'a>(
        &self,
        batch: &'a [Pending],
        start: usize,
        limits: BatchLimits,
    ) -> (usize, Vec<BatchEvent<'a>>) {
        let mut events: Vec<BatchEvent<'a>> = Vec::new();
        let mut bytes = 0usize;
        let mut end = start;
        for pending in batch.iter().skip(start) {
            let record = pending.record();
            if self.wants(record) {
                if events.len() >= limits.max_events.max(1) {
                    break;
                }
                let body = pending.body();
                if !events.is_empty() && bytes.saturating_add(body.len()) > limits.max_bytes {
                    break;
                }
                bytes = bytes.saturating_add(body.len());
                events.push(BatchEvent { record, body });
            }
            end += 1;
        }
        (end, events)
    }

    /// One batch, retried until delivered, dead-lettered or stopped.
    async fn deliver_events(&mut self, events: &[BatchEvent<'_>]) -> BatchOutcome {
        let Some(first) = events.first() else {
            return BatchOutcome::Delivered;
        };
        let name = self.sink.name().to_string();
        // Formatted only for dead letters.
        let started_at = DateTime::now();
        let written = first.record.time().and_then(DateTime::parse);
        let started = Instant::now();
        self.working_on(unix_ms(written.unwrap_or_else(DateTime::now)));
        let mut attempts = 0u32;
        loop {
            attempts = attempts.saturating_add(1);
            crate::events::metrics::set_oldest_age(&name, age(written));
            let sink = self.sink.clone();
            let result = tokio::select! {
                r = sink.deliver_batch(events) => r,
                _ = self.stop.wait_for(|s| *s) => return BatchOutcome::Stopped,
            };
            let error = match result {
                Ok(()) => {
                    for event in events {
                        let written = event.record.time().and_then(DateTime::parse);
                        EventDelivered {
                            sink: &name,
                            seq: event.record.seq,
                            id: event.record.id(),
                            attempts,
                            latency: written.map(|w| age(Some(w))),
                            redelivery: false,
                        }
                        .emit();
                    }
                    return BatchOutcome::Delivered;
                }
                Err(e) => e,
            };
            let give_up = !error.retryable || self.policy.exhausted(attempts, started.elapsed());
            let wait =
                (!give_up).then(|| self.policy.next_wait(attempts, jitter(), error.retry_after));
            let last_seq = events.last().map_or(first.record.seq, |e| e.record.seq);
            let detail = format!(
                "{} (a batch of {} event(s), seq {} to {last_seq})",
                error.detail,
                events.len(),
                first.record.seq
            );
            DeliveryFailed {
                sink: &name,
                seq: first.record.seq,
                id: first.record.id(),
                attempts,
                retryable: error.retryable,
                detail: &detail,
                next_try_in: wait,
            }
            .emit();
            let Some(wait) = wait else {
                let now = DateTime::now().to_rfc3339();
                let first_attempt = started_at.to_rfc3339();
                let letters = events
                    .iter()
                    .map(|event| {
                        let record = event.record;
                        EventDeadLettered {
                            sink: &name,
                            seq: record.seq,
                            id: record.id(),
                            attempts,
                            detail: &error.detail,
                        }
                        .emit();
                        DeadLetter {
                            seq: record.seq,
                            sink: name.clone(),
                            tenant: record.tenant().map(str::to_string),
                            attempts,
                            first_attempt: first_attempt.clone(),
                            dead_lettered_at: now.clone(),
                            last_error: error.detail.clone(),
                            event: record.event.clone(),
                        }
                    })
                    .collect();
                return BatchOutcome::DeadLettered(letters);
            };
            // Progress so far survives a crash during a long outage.
            if let Err(e) = self.flush_cursor().await {
                tracing::warn!(sink = %name, error = %e, "cannot write the cursor");
            }
            if self.pause(wait).await {
                return BatchOutcome::Stopped;
            }
        }
    }
}
