//! One event's delivery tries, shared by the one-at-a-time loop and the
//! window of several in flight (`window.rs`): each try either ends the
//! event (delivered, dead-lettered, stopped) or names the wait before the
//! next, which the caller spends as it must (the one-at-a-time loop writes
//! its cursor first).
use super::{age, unix_ms, Outcome};
use crate::events::deadletter::DeadLetter;
use crate::events::metrics::{self, DeliveryFailed, EventDeadLettered, EventDelivered};
use crate::events::outbox::OutboxRecord;
use crate::events::recent::RecentEvent;
use crate::events::retry::{jitter, RetryPolicy};
use crate::events::{BatchEvent, Sink};
use crate::scim::datetime::DateTime;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// One event's tries: [`Tries::attempt`] tries once and says what next.
pub(super) struct Tries<'a> {
    record: &'a OutboxRecord,
    recent: Option<&'a RecentEvent>,
    /// Tries in earlier rounds (a requeued dead letter).
    pub(super) prior_attempts: u32,
    pub(super) first_attempt: Option<String>,
    redelivery: bool,
    attempts: u32,
    written: Option<DateTime>,
    /// Formatted only for a dead letter (most events never need it).
    started_at: DateTime,
    started: Instant,
    /// A sink that takes batches takes every event as one (of one here).
    alone: Option<[BatchEvent<'a>; 1]>,
}

/// What a try leaves to do.
pub(super) enum Step {
    Done(Outcome),
    /// Try again after this wait.
    Wait(Duration),
}

impl<'a> Tries<'a> {
    pub(super) fn new(
        sink: &dyn Sink,
        record: &'a OutboxRecord,
        recent: Option<&'a RecentEvent>,
        redelivery: bool,
    ) -> Tries<'a> {
        let alone = sink.batch_limits().map(|_| {
            [BatchEvent {
                record,
                body: recent.map_or_else(|| record.delivered_body(), RecentEvent::delivered),
            }]
        });
        Tries {
            record,
            recent,
            prior_attempts: 0,
            first_attempt: None,
            redelivery,
            attempts: 0,
            written: record.time().and_then(DateTime::parse),
            started_at: DateTime::now(),
            started: Instant::now(),
            alone,
        }
    }

    pub(super) fn seq(&self) -> u64 {
        self.record.seq
    }

    /// The event's write time (Unix ms; now when unknown).
    pub(super) fn written_ms(&self) -> i64 {
        unix_ms(self.written.unwrap_or_else(DateTime::now))
    }

    /// One try: delivered, dead-lettered (a permanent failure, or the
    /// policy exhausted), stopped meanwhile, or to be tried again.
    pub(super) async fn attempt(
        &mut self,
        sink: &Arc<dyn Sink>,
        policy: &RetryPolicy,
        name: &str,
        stop: &mut watch::Receiver<bool>,
    ) -> Step {
        let record = self.record;
        self.attempts = self.attempts.saturating_add(1);
        let attempts = self.attempts;
        metrics::set_oldest_age(name, age(self.written));
        let delivery = match (&self.alone, self.recent) {
            (Some(one), _) => sink.deliver_batch(one),
            (None, Some(event)) => sink.deliver_recent(event),
            (None, None) => sink.deliver(record),
        };
        let result = tokio::select! {
            r = delivery => r,
            _ = stop.wait_for(|s| *s) => return Step::Done(Outcome::Stopped),
        };
        let error = match result {
            Ok(()) => {
                EventDelivered {
                    sink: name,
                    seq: record.seq,
                    id: record.id(),
                    attempts,
                    latency: self.written.map(|w| age(Some(w))),
                    redelivery: self.redelivery,
                }
                .emit();
                return Step::Done(Outcome::Delivered);
            }
            Err(e) => e,
        };
        let give_up = !error.retryable || policy.exhausted(attempts, self.started.elapsed());
        let wait = (!give_up).then(|| policy.next_wait(attempts, jitter(), error.retry_after));
        DeliveryFailed {
            sink: name,
            seq: record.seq,
            id: record.id(),
            attempts,
            retryable: error.retryable,
            detail: &error.detail,
            next_try_in: wait,
        }
        .emit();
        if let Some(wait) = wait {
            return Step::Wait(wait);
        }
        let total = self.prior_attempts.saturating_add(attempts);
        EventDeadLettered {
            sink: name,
            seq: record.seq,
            id: record.id(),
            attempts: total,
            detail: &error.detail,
        }
        .emit();
        Step::Done(Outcome::DeadLettered(Box::new(DeadLetter {
            seq: record.seq,
            sink: name.to_string(),
            tenant: record.tenant().map(str::to_string),
            attempts: total,
            first_attempt: self
                .first_attempt
                .take()
                .unwrap_or_else(|| self.started_at.to_rfc3339()),
            dead_lettered_at: DateTime::now().to_rfc3339(),
            last_error: error.detail,
            event: record.event.clone(),
        })))
    }
}
