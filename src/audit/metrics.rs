//! The journal's named events that count its metrics (names and
//! descriptions live in `telemetry::names::audit`, documented in
//! docs/audit.md). Labels are bounded: `kind` is `write` or
//! `auth_failure`, `file` is `audit` or `outbox`.
use crate::telemetry::names::audit::*;
use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};
use std::sync::OnceLock;
use std::time::Duration;

/// A series recorded on every group commit, its handle taken once (the
/// registry's lookup of a name and labels cost more than the batch's
/// other bookkeeping), on first use as before: a series appears when it
/// is first recorded. The recorder is installed first, as for the
/// tenants' handles (`telemetry::handles`).
fn cached<T>(cell: &'static OnceLock<T>, make: impl FnOnce() -> T) -> &'static T {
    cell.get_or_init(|| {
        crate::telemetry::metrics_handle();
        make()
    })
}

static WRITES: OnceLock<Counter> = OnceLock::new();
static AUTH_FAILURES: OnceLock<Counter> = OnceLock::new();
static AUDIT_BYTES: OnceLock<Counter> = OnceLock::new();
static EVENTS: OnceLock<Counter> = OnceLock::new();
static OUTBOX_BYTES: OnceLock<Counter> = OnceLock::new();
static BATCH_SIZE: OnceLock<Histogram> = OnceLock::new();
static QUEUE_DEPTH: OnceLock<Gauge> = OnceLock::new();

/// Which file a figure is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Audit,
    Outbox,
}

impl FileKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FileKind::Audit => "audit",
            FileKind::Outbox => "outbox",
        }
    }
}

/// One group commit written: counts records, events and bytes.
pub(crate) fn batch_written(
    writes: u64,
    auth_failures: u64,
    events: u64,
    audit_bytes: u64,
    outbox_bytes: u64,
) {
    cached(&WRITES, || counter!(AUDIT_RECORDS_TOTAL, "kind" => "write")).increment(writes);
    if auth_failures > 0 {
        cached(
            &AUTH_FAILURES,
            || counter!(AUDIT_RECORDS_TOTAL, "kind" => "auth_failure"),
        )
        .increment(auth_failures);
    }
    cached(
        &AUDIT_BYTES,
        || counter!(AUDIT_BYTES_TOTAL, "file" => "audit"),
    )
    .increment(audit_bytes);
    if events > 0 {
        cached(&EVENTS, || counter!(OUTBOX_EVENTS_TOTAL)).increment(events);
        cached(
            &OUTBOX_BYTES,
            || counter!(AUDIT_BYTES_TOTAL, "file" => "outbox"),
        )
        .increment(outbox_bytes);
    }
    cached(&BATCH_SIZE, || histogram!(AUDIT_BATCH_SIZE)).record((writes + auth_failures) as f64);
}

/// One fsync done.
pub(crate) fn fsynced(file: FileKind, took: Duration) {
    histogram!(AUDIT_FSYNC_DURATION_SECONDS, "file" => file.as_str()).record(took.as_secs_f64());
}

/// A write the backend accepted could not be audited.
pub(crate) fn unacknowledged(tenant: &str) {
    counter!(AUDIT_UNACKNOWLEDGED_TOTAL, "tenant" => tenant.to_string()).increment(1);
}

/// The queue's depth, sampled by the writer.
pub(crate) fn queue_depth(depth: usize) {
    cached(&QUEUE_DEPTH, || gauge!(AUDIT_QUEUE_DEPTH)).set(depth as f64);
}

/// The outbox is durable up to `seq`.
pub(crate) fn outbox_durable(seq: u64) {
    gauge!(OUTBOX_HIGHEST_SEQ).set(seq as f64);
}

/// A new file was started.
pub(crate) fn rotated(file: FileKind) {
    counter!(AUDIT_ROTATIONS_TOTAL, "file" => file.as_str()).increment(1);
}

/// A torn last line was cut off at start-up.
pub(crate) fn torn_tail(file: FileKind) {
    counter!(AUDIT_TORN_TAILS_TOTAL, "file" => file.as_str()).increment(1);
}

/// The journal failed on `file`.
pub(crate) fn failed(file: FileKind) {
    counter!(AUDIT_ERRORS_TOTAL, "file" => file.as_str()).increment(1);
}
