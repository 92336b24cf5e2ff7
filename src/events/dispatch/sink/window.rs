//! Several events in flight at once, for a sink that takes them
//! ([`Sink::max_in_flight`] above 1): a receiver that answers in a few
//! milliseconds is otherwise the sink's whole throughput, one round trip
//! per event.
//!
//! What still holds: at most one event of a resource (tenant and
//! `subject`) is in flight, and the next event of a resource whose event
//! is in flight waits for it (and everything after it waits too, so
//! events start in outbox order), so a resource's events arrive in write
//! order, failures and retries included. Each event is retried on its own
//! with the sink's policy. The cursor passes an event only once it and
//! every event before it are delivered or their dead letters stored, so a
//! restart repeats at most what was in flight or acknowledged since the
//! last cursor write, as in the one-at-a-time loop.
use super::tries::{Step, Tries};
use super::{blocking, Outcome, Pending, SinkTask};
use crate::events::deadletter;
use crate::events::retry::RetryPolicy;
use crate::events::Sink;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use tokio::sync::watch;

/// An event in flight: its resource and its tries to the end.
struct Flight<'a> {
    resource: (Option<&'a str>, Option<&'a str>),
    tries: Pin<Box<dyn Future<Output = (u64, Outcome)> + Send + 'a>>,
}

/// An event of the batch the cursor has not passed yet.
struct Unpassed {
    seq: u64,
    done: bool,
    /// Its write time (Unix ms), for the oldest-undelivered age.
    written_ms: i64,
}

impl SinkTask {
    /// Delivers `batch` (events read in outbox order, of every tenant)
    /// with up to `window` of the sink's events in flight; `false` when
    /// stopped.
    pub(super) async fn deliver_window(
        &mut self,
        batch: &[Pending],
        window: usize,
    ) -> io::Result<bool> {
        let name: Arc<str> = Arc::from(self.sink.name());
        let mut flights: Vec<Flight<'_>> = Vec::with_capacity(window);
        let mut unpassed: VecDeque<Unpassed> = VecDeque::new();
        let mut next = 0;
        let mut stopped = false;
        loop {
            while !stopped && flights.len() < window {
                let Some(pending) = batch.get(next) else {
                    break;
                };
                let record = pending.record();
                if !self.wants(record) {
                    unpassed.push_back(Unpassed {
                        seq: record.seq,
                        done: true,
                        written_ms: 0,
                    });
                    next += 1;
                    continue;
                }
                let resource = (record.tenant(), record.subject());
                if flights.iter().any(|f| f.resource == resource) {
                    // Its resource's earlier event is in flight.
                    break;
                }
                let tries = Tries::new(self.sink.as_ref(), record, pending.recent(), false);
                unpassed.push_back(Unpassed {
                    seq: record.seq,
                    done: false,
                    written_ms: tries.written_ms(),
                });
                let fly = fly(
                    tries,
                    self.sink.clone(),
                    self.policy,
                    name.clone(),
                    self.stop.clone(),
                );
                flights.push(Flight {
                    resource,
                    tries: Box::pin(fly),
                });
                next += 1;
            }
            // The cursor passes what is done, in order.
            while let Some(first) = unpassed.front().filter(|u| u.done) {
                self.cursor.done = first.seq;
                unpassed.pop_front();
            }
            if let Some(first) = unpassed.front() {
                self.working_on(first.written_ms);
            }
            if self.cursor_due() {
                self.flush_cursor().await?;
            }
            if flights.is_empty() {
                return Ok(!stopped);
            }
            let due = self.cursor_deadline();
            let landed = tokio::select! {
                landed = landing(&mut flights) => Some(landed),
                () = tokio::time::sleep(due.unwrap_or_default()), if due.is_some() => None,
            };
            let Some((index, seq, outcome)) = landed else {
                continue;
            };
            flights.swap_remove(index);
            match outcome {
                Outcome::Stopped => {
                    stopped = true;
                    continue;
                }
                Outcome::Delivered => {}
                Outcome::DeadLettered(letter) => {
                    // Stored before the cursor can pass its event.
                    let dir = self.shared.settings.dir.clone();
                    blocking(move || deadletter::store(&dir, &letter)).await?;
                }
            }
            if let Some(u) = unpassed.iter_mut().find(|u| u.seq == seq) {
                u.done = true;
            }
        }
    }
}

/// One event's tries until it is delivered, dead-lettered or stopped
/// (its seq and how it ended).
async fn fly(
    mut tries: Tries<'_>,
    sink: Arc<dyn Sink>,
    policy: RetryPolicy,
    name: Arc<str>,
    mut stop: watch::Receiver<bool>,
) -> (u64, Outcome) {
    let seq = tries.seq();
    loop {
        match tries.attempt(&sink, &policy, &name, &mut stop).await {
            Step::Done(outcome) => return (seq, outcome),
            Step::Wait(wait) => {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|s| *s) => return (seq, Outcome::Stopped),
                }
            }
        }
    }
}

/// The first flight to land: its index, its event's seq and outcome. (A
/// window is a handful: each wake polls them all.)
fn landing<'f, 'a>(
    flights: &'f mut [Flight<'a>],
) -> impl Future<Output = (usize, u64, Outcome)> + use<'f, 'a> {
    std::future::poll_fn(move |cx| {
        for (index, flight) in flights.iter_mut().enumerate() {
            if let Poll::Ready((seq, outcome)) = flight.tries.as_mut().poll(cx) {
                return Poll::Ready((index, seq, outcome));
            }
        }
        Poll::Pending
    })
}
