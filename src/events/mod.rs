//! Change events: CloudEvents built from proxied writes, the durable
//! on-disk outbox they wait in, and the sinks that deliver them.
//!
//! Owns: the CloudEvent shape and type decisions ([`cloudevent`],
//! [`changes`], [`bulk`]; pure, serde_json only), reading the outbox in
//! sequence order ([`outbox`]) or, for the newest events, in memory from
//! the journal ([`recent`]), per-sink cursors ([`cursor`]), the retry
//! schedule ([`retry`]), the dead-letter store ([`deadletter`]), the
//! dispatcher that drives every sink ([`dispatch`]), and the webhook sink
//! ([`webhook`]), the Kafka sink ([`kafka`]), the inbound Okta Event Hooks
//! that add Okta's own lifecycle events to the stream ([`okta_hook`]; pure),
//! and the `events` subcommands ([`admin`]). The outbox itself is *written* by the audit journal
//! (`src/audit/`); this module only reads it. Which sinks run is the
//! binary's wiring: `src/run/delivery.rs` builds them from the live config
//! and restarts the dispatcher on reload, so this module never reads the
//! config or the snapshot.
//!
//! Delivery is at-least-once: a sink's cursor moves only after the sink
//! acknowledged the event, so a crash repeats at most the events after the
//! last cursor write. Every event carries a stable `id` for deduplication
//! and a `sequence` for ordering (see docs/events.md).
//!
//! May depend on: `scim` (pure helpers), `telemetry`, hyper/rustls for the
//! webhook client. Nothing on the request path depends on this module
//! except through the journal.
pub mod admin;
pub(crate) mod bulk;
pub(crate) mod changes;
pub(crate) mod cloudevent;
pub(crate) mod created;
pub mod cursor;
pub mod deadletter;
pub(crate) mod dispatch;
pub mod event;
pub mod kafka;
pub(crate) mod metrics;
pub(crate) mod okta_hook;
pub mod outbox;
pub mod recent;
pub(crate) mod retry;
pub(crate) mod version;
pub mod webhook;

pub use cloudevent::{build_event, event_type, new_event_id, ChangeInput, EventData, WriteMethod};
pub use dispatch::{Dispatcher, DispatcherSettings};
pub use event::{DeliveredBody, Event};
pub use outbox::{OutboxReader, OutboxRecord};
pub use recent::{RecentEvent, RecentEvents};
pub(crate) use retry::RetryPolicy;
pub use webhook::{WebhookSettings, WebhookSink};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// What [`Sink::deliver`] returns.
pub(crate) type DeliveryFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

/// A destination for events (a webhook endpoint, a Kafka topic, ...).
///
/// The dispatcher calls `deliver` (or `deliver_batch`, for a sink that
/// takes batches) for one event (one batch) at a time, in outbox sequence
/// order, and never calls it again before the previous call returned: a
/// sink needs no ordering logic of its own. A sink whose
/// [`Sink::max_in_flight`] is above 1 has up to that many `deliver` calls
/// running at once, never two for one resource (tenant and `subject`),
/// started in outbox order. `Ok` means the
/// destination has durably accepted the event; the cursor then moves past
/// it. An `Err` is retried (when `retryable`) with the sink's
/// [`retry::RetryPolicy`] or dead-lettered.
///
/// Tenant isolation is enforced by the dispatcher, not the sink: a sink
/// whose [`Sink::tenant`] is `Some(t)` is only ever handed events whose
/// `tenant` attribute is `t`.
pub trait Sink: Send + Sync {
    /// The sink's name: unique among sinks, `[A-Za-z0-9._-]`, used for the
    /// cursor file, the dead-letter directory and the `sink` metric label.
    fn name(&self) -> &str;
    /// `Some(tenant)`: only this tenant's events. `None`: every tenant's
    /// (a shared Kafka topic, for example).
    fn tenant(&self) -> Option<&str>;
    /// Delivers one event (the outbox record: `seq` and the CloudEvent).
    fn deliver<'a>(&'a self, record: &'a OutboxRecord) -> DeliveryFuture<'a>;
    /// Delivers one event the journal handed over in memory: the same
    /// event as `event.record`. A sink that has no use for it keeps this default.
    fn deliver_recent<'a>(&'a self, event: &'a RecentEvent) -> DeliveryFuture<'a> {
        self.deliver(&event.record)
    }
    /// How many events may be in flight at once (one-event deliveries
    /// only; batches go one at a time). 1, the default: one at a time.
    fn max_in_flight(&self) -> usize {
        1
    }
    /// `Some`: the sink takes several events per delivery, through
    /// [`Sink::deliver_batch`] only (requeued dead letters too, as batches
    /// of one). `None` (the default): one event per [`Sink::deliver`].
    fn batch_limits(&self) -> Option<BatchLimits> {
        None
    }
    /// Delivers consecutive events of the sink in outbox order, at once:
    /// `Ok` acknowledges all of them, an `Err` none (the dispatcher retries
    /// the same events together, or dead-letters each of them). Called
    /// only when [`Sink::batch_limits`] is `Some`, never with more than its
    /// limits allow (but always with at least one event, even a larger
    /// one).
    fn deliver_batch<'a>(&'a self, events: &'a [BatchEvent<'a>]) -> DeliveryFuture<'a> {
        let _ = events;
        Box::pin(async {
            Err(DeliveryError::permanent(
                "this sink does not deliver batches",
            ))
        })
    }
}

/// How much one [`Sink::deliver_batch`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// The most events (at least 1).
    pub max_events: usize,
    /// The most bytes of the events' bodies together.
    pub max_bytes: usize,
}

/// One event of a batch: its outbox record and its body as delivered
/// alone (the CloudEvent with `sequence`, [`OutboxRecord::body`]).
#[derive(Debug)]
pub struct BatchEvent<'a> {
    pub record: &'a OutboxRecord,
    /// Borrowed from the event: written into the batch's body, not copied
    /// alone first.
    pub body: DeliveredBody<'a>,
}

/// Why a delivery failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError {
    /// A timeout, a refused connection, a 5xx, a 408 or a 429: try again
    /// later. `false` (a 400, a 410, a redirect): the destination will not
    /// accept this event as it is; it goes to the dead-letter store.
    pub retryable: bool,
    /// What happened, for the dead-letter record and the log. Never holds
    /// a secret.
    pub detail: String,
    /// The destination asked to wait this long (`Retry-After`).
    pub retry_after: Option<Duration>,
}

// === impl DeliveryError ===

impl DeliveryError {
    /// A failure worth retrying.
    pub fn retryable(detail: impl Into<String>) -> Self {
        DeliveryError {
            retryable: true,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// A failure that retrying cannot fix.
    pub fn permanent(detail: impl Into<String>) -> Self {
        DeliveryError {
            retryable: false,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// Adds the destination's `Retry-After`.
    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.retryable {
            "retryable"
        } else {
            "permanent"
        };
        write!(f, "{kind} delivery failure: {}", self.detail)
    }
}

impl std::error::Error for DeliveryError {}

/// Whether `name` can name a sink (a file name on every platform, a
/// metric label).
pub(crate) fn is_valid_sink_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}
