//! The newest outbox events, handed from the journal to the dispatcher in
//! memory: the event as the journal wrote it into the outbox line.
//!
//! Without it, a sink that is caught up reads every event back from the
//! segment file it was just written to. With it, a caught-up sink takes
//! the event from here and the webhook body is the journal's bytes with
//! `sequence` appended ([`RecentEvent::delivered_body`]).
//!
//! It changes nothing about what is delivered or when: the journal pushes
//! each event once its line is written (before the durable seq that makes
//! sinks read it is published), a sink still takes only events up to the
//! durable seq, and an event no longer here (a sink that fell behind, a
//! restart) is read from the outbox file as before. Bounded by count and by
//! serialized bytes; the oldest events leave first.
use crate::events::outbox::OutboxRecord;
use crate::events::DeliveredBody;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

/// The most events kept.
///
/// A sink takes events only once they are durable, and with the default
/// interval fsync they become durable a group at a time: every event
/// written in the last 100 ms at once (about 2,000 at 20,000 audited
/// writes per second). The ring has to hold such a group, with room for
/// the sink's own delivery time, or a caught-up sink reads most of every
/// group back from the file (measured: 1,024 events made the sink read
/// the file, 6 % of an audited gateway's CPU under load).
const MAX_EVENTS: usize = 8 * 1024;
/// The most serialized bytes kept (one larger event is still kept alone):
/// about 5,000 events of a typical User.
const MAX_BYTES: usize = 8 * 1024 * 1024;

/// One event as the journal wrote it.
#[derive(Debug)]
pub struct RecentEvent {
    /// The outbox record (`seq` and the CloudEvent without `sequence`,
    /// its JSON the bytes of the outbox line).
    pub record: OutboxRecord,
}

/// The newest events in outbox order (see the module docs).
#[derive(Debug, Default)]
pub struct RecentEvents {
    ring: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    events: VecDeque<Arc<RecentEvent>>,
    bytes: usize,
}

// === impl RecentEvent ===

impl RecentEvent {
    /// The bytes [`OutboxRecord::body`] gives (the event with `sequence`
    /// set): the journal's bytes with `sequence` appended.
    pub fn delivered_body(&self) -> Vec<u8> {
        self.record.body()
    }

    /// [`Self::delivered_body`], borrowed.
    pub fn delivered(&self) -> DeliveredBody<'_> {
        self.record.delivered_body()
    }

    fn size(&self) -> usize {
        self.record.event.json().len()
    }
}

// === impl RecentEvents ===

impl RecentEvents {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next events in outbox order (the journal, after writing
    /// their lines). An event whose seq does not follow the newest one
    /// empties the ring first, so what is here is always contiguous.
    pub fn push(&self, batch: impl IntoIterator<Item = RecentEvent>) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        for event in batch {
            let follows = ring
                .events
                .back()
                .is_none_or(|last| last.record.seq.checked_add(1) == Some(event.record.seq));
            if !follows {
                ring.events.clear();
                ring.bytes = 0;
            }
            ring.bytes += event.size();
            ring.events.push_back(Arc::new(event));
            while ring.events.len() > MAX_EVENTS
                || (ring.bytes > MAX_BYTES && ring.events.len() > 1)
            {
                if let Some(old) = ring.events.pop_front() {
                    ring.bytes = ring.bytes.saturating_sub(old.size());
                }
            }
        }
    }

    /// Up to `max` events from seq `next` on, none above `upto`; `None`
    /// when `next` is not here (older than the oldest kept, or not pushed
    /// yet), and the caller reads the outbox file instead.
    pub fn take(&self, next: u64, upto: u64, max: usize) -> Option<Vec<Arc<RecentEvent>>> {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let first = ring.events.front()?.record.seq;
        let skip = usize::try_from(next.checked_sub(first)?).ok()?;
        let out: Vec<_> = ring
            .events
            .iter()
            .skip(skip)
            .take(max)
            .take_while(|e| e.record.seq <= upto)
            .cloned()
            .collect();
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
#[path = "recent_tests.rs"]
mod tests;
