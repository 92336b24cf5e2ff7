//! Event-delivery telemetry: metric names (`scim_gateway_events_*`) and one
//! named event per thing that happens, whose `emit()` logs and counts
//! together. The `sink` label is a configured sink name (bounded); event
//! ids and resource ids go to logs only.
use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};
use std::time::Duration;

/// Events between the newest in the outbox and the slowest sink's cursor.
pub const OUTBOX_DEPTH: &str = "scim_gateway_events_outbox_depth";
/// Age of the oldest event a sink has not delivered yet (0 when caught
/// up), by `sink`.
pub const OLDEST_UNDELIVERED_AGE_SECONDS: &str =
    "scim_gateway_events_oldest_undelivered_age_seconds";
/// From the write (event `time`) to the sink's acknowledgement, by `sink`.
pub const DELIVERY_LATENCY_SECONDS: &str = "scim_gateway_events_delivery_latency_seconds";
/// Events a sink acknowledged, by `sink`.
pub const DELIVERED_TOTAL: &str = "scim_gateway_events_delivered_total";
/// Failed delivery attempts, by `sink`, `retryable` (`true`, `false`).
pub const DELIVERY_FAILURES_TOTAL: &str = "scim_gateway_events_delivery_failures_total";
/// Events moved to the dead-letter store, by `sink`.
pub const DEAD_LETTERED_TOTAL: &str = "scim_gateway_events_dead_lettered_total";
/// Dead-lettered events delivered after `events redeliver`, by `sink`.
pub const REDELIVERED_TOTAL: &str = "scim_gateway_events_redelivered_total";

/// Registers descriptions and units (called from
/// `telemetry::names::describe`).
pub fn describe() {
    describe_gauge!(
        OUTBOX_DEPTH,
        "Events in the outbox not yet delivered by every sink."
    );
    describe_gauge!(
        OLDEST_UNDELIVERED_AGE_SECONDS,
        Unit::Seconds,
        "Age of the oldest event a sink has not delivered."
    );
    describe_histogram!(
        DELIVERY_LATENCY_SECONDS,
        Unit::Seconds,
        "Time from the write to the sink's acknowledgement."
    );
    describe_counter!(DELIVERED_TOTAL, "Events delivered, per sink.");
    describe_counter!(
        DELIVERY_FAILURES_TOTAL,
        "Failed delivery attempts, per sink."
    );
    describe_counter!(
        DEAD_LETTERED_TOTAL,
        "Events moved to the dead-letter store."
    );
    describe_counter!(
        REDELIVERED_TOTAL,
        "Dead-lettered events delivered on redelivery."
    );
}

/// A sink acknowledged an event.
#[derive(Debug)]
pub struct EventDelivered<'a> {
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
pub struct DeliveryFailed<'a> {
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
pub struct EventDeadLettered<'a> {
    pub sink: &'a str,
    pub seq: u64,
    pub id: &'a str,
    pub attempts: u32,
    pub detail: &'a str,
}

// === impl EventDelivered ===

impl EventDelivered<'_> {
    pub fn emit(&self) {
        tracing::debug!(
            target: "events",
            sink = self.sink,
            seq = self.seq,
            event_id = self.id,
            attempts = self.attempts,
            redelivery = self.redelivery,
            "event delivered"
        );
        let sink = self.sink.to_string();
        counter!(DELIVERED_TOTAL, "sink" => sink.clone()).increment(1);
        if self.redelivery {
            counter!(REDELIVERED_TOTAL, "sink" => sink.clone()).increment(1);
        }
        if let Some(latency) = self.latency {
            histogram!(DELIVERY_LATENCY_SECONDS, "sink" => sink).record(latency.as_secs_f64());
        }
    }
}

// === impl DeliveryFailed ===

impl DeliveryFailed<'_> {
    pub fn emit(&self) {
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
    pub fn emit(&self) {
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
pub fn set_oldest_age(sink: &str, age: Duration) {
    gauge!(OLDEST_UNDELIVERED_AGE_SECONDS, "sink" => sink.to_string()).set(age.as_secs_f64());
}

/// Sets the outbox depth.
pub fn set_depth(depth: u64) {
    gauge!(OUTBOX_DEPTH).set(depth as f64);
}
