//! The event-delivery metric names (`scim_gateway_events_*`) and their
//! descriptions; the change-event core (`src/events/`) records them
//! through `events::metrics`. The `sink` label is a configured sink name
//! (bounded); event ids and resource ids go to logs only.
//!
//! Ground: imports only the `metrics` crate.
use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

/// Events between the newest in the outbox and the slowest sink's cursor.
pub(crate) const OUTBOX_DEPTH: &str = "scim_gateway_events_outbox_depth";
/// Age of the oldest event a sink has not delivered yet (0 when caught
/// up), by `sink`.
pub(crate) const OLDEST_UNDELIVERED_AGE_SECONDS: &str =
    "scim_gateway_events_oldest_undelivered_age_seconds";
/// From the write (event `time`) to the sink's acknowledgement, by `sink`.
pub(crate) const DELIVERY_LATENCY_SECONDS: &str = "scim_gateway_events_delivery_latency_seconds";
/// Events a sink acknowledged, by `sink`.
pub(crate) const DELIVERED_TOTAL: &str = "scim_gateway_events_delivered_total";
/// Failed delivery attempts, by `sink`, `retryable` (`true`, `false`).
pub(crate) const DELIVERY_FAILURES_TOTAL: &str = "scim_gateway_events_delivery_failures_total";
/// Events moved to the dead-letter store, by `sink`.
pub(crate) const DEAD_LETTERED_TOTAL: &str = "scim_gateway_events_dead_lettered_total";
/// Dead-lettered events delivered after `events redeliver`, by `sink`.
pub(crate) const REDELIVERED_TOTAL: &str = "scim_gateway_events_redelivered_total";

/// Registers descriptions and units (called from [`super::describe`]).
pub(crate) fn describe() {
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
