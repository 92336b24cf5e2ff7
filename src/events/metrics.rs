//! Event-delivery telemetry: one named event per thing that happens,
//! whose `emit()` logs and counts together, and the gauges the dispatcher
//! sets. The metric names (`scim_gateway_events_*`) and descriptions live
//! in `telemetry::names::events`. The `sink` label is a configured sink
//! name (bounded); event ids and resource ids go to logs only.
use crate::telemetry::names::events::*;
use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// One sink's series that every delivery records, each handle taken on
/// first use (a series appears when it is first recorded, as before):
/// the registry's lookup of a name and its `sink` label, and the label's
/// copy, cost more per event than the rest of its bookkeeping.
#[derive(Default)]
struct SinkHandles {
    delivered: OnceLock<Counter>,
    redelivered: OnceLock<Counter>,
    latency: OnceLock<Histogram>,
    oldest_age: OnceLock<Gauge>,
}

/// Runs `record` with the handles of `sink` (by name: a reload's new sink
/// of the same name records the same series).
fn with_sink(sink: &str, record: impl FnOnce(&SinkHandles)) {
    static SINKS: OnceLock<Mutex<HashMap<Box<str>, SinkHandles>>> = OnceLock::new();
    let mut sinks = SINKS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    match sinks.get(sink) {
        Some(handles) => record(handles),
        None => record(sinks.entry(sink.into()).or_default()),
    }
}

/// A handle, taken once (the recorder installed first, as for the
/// tenants' handles in `telemetry::handles`).
fn cached<T>(cell: &OnceLock<T>, make: impl FnOnce() -> T) -> &T {
    cell.get_or_init(|| {
        crate::telemetry::metrics_handle();
        make()
    })
}

/// A sink acknowledged an event.
#[derive(Debug)]
pub(crate) struct EventDelivered<'a> {
    pub sink: &'a str,
    pub seq: u64,
    pub id: &'a str,
    pub attempts: u32,
    /// Since the write, when the event's `time` could be read.
    pub latency: Option<Duration>,
    pub redelivery: bool,
}

/// A delivery attempt failed.
#[derive(Debug)]
pub(crate) struct DeliveryFailed<'a> {
    pub sink: &'a str,
    pub seq: u64,
    pub id: &'a str,
    pub attempts: u32,
    pub retryable: bool,
    pub detail: &'a str,
    /// The wait before the next try; `None` when giving up.
    pub next_try_in: Option<Duration>,
}

/// An event went to the dead-letter store.
#[derive(Debug)]
pub(crate) struct EventDeadLettered<'a> {
    pub sink: &'a str,
    pub seq: u64,
    pub id: &'a str,
    pub attempts: u32,
    pub detail: &'a str,
}

// === impl EventDelivered ===

impl EventDelivered<'_> {
    pub(crate) fn emit(&self) {
        tracing::debug!(
            target: "events",
            sink = self.sink,
            seq = self.seq,
            event_id = self.id,
            attempts = self.attempts,
            redelivery = self.redelivery,
            "event delivered"
        );
        let sink = self.sink;
        with_sink(sink, |h| {
            cached(
                &h.delivered,
                || counter!(DELIVERED_TOTAL, "sink" => sink.to_string()),
            )
            .increment(1);
            if self.redelivery {
                cached(
                    &h.redelivered,
                    || counter!(REDELIVERED_TOTAL, "sink" => sink.to_string()),
                )
                .increment(1);
            }
            if let Some(latency) = self.latency {
                cached(
                    &h.latency,
                    || histogram!(DELIVERY_LATENCY_SECONDS, "sink" => sink.to_string()),
                )
                .record(latency.as_secs_f64());
            }
        });
    }
}

// === impl DeliveryFailed ===

impl DeliveryFailed<'_> {
    pub(crate) fn emit(&self) {
        tracing::warn!(
            target: "events",
            sink = self.sink,
            seq = self.seq,
            event_id = self.id,
            attempts = self.attempts,
            retryable = self.retryable,
            next_try_ms = self.next_try_in.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            detail = self.detail,
            "event delivery failed"
        );
        counter!(
            DELIVERY_FAILURES_TOTAL,
            "sink" => self.sink.to_string(),
            "retryable" => if self.retryable { "true" } else { "false" }
        )
        .increment(1);
    }
}

// === impl EventDeadLettered ===

impl EventDeadLettered<'_> {
    pub(crate) fn emit(&self) {
        tracing::error!(
            target: "events",
            sink = self.sink,
            seq = self.seq,
            event_id = self.id,
            attempts = self.attempts,
            detail = self.detail,
            "event dead-lettered"
        );
        counter!(DEAD_LETTERED_TOTAL, "sink" => self.sink.to_string()).increment(1);
    }
}

/// Sets a sink's oldest-undelivered age.
pub(crate) fn set_oldest_age(sink: &str, age: Duration) {
    with_sink(sink, |h| {
        cached(
            &h.oldest_age,
            || gauge!(OLDEST_UNDELIVERED_AGE_SECONDS, "sink" => sink.to_string()),
        )
        .set(age.as_secs_f64());
    });
}

/// Sets the outbox depth.
pub(crate) fn set_depth(depth: u64) {
    gauge!(OUTBOX_DEPTH).set(depth as f64);
}
