//! The journal's named events that count its metrics (names and
//! descriptions live in `telemetry::names::audit`, documented in
//! docs/audit.md). Labels are bounded: `kind` is `write` or
//! `auth_failure`, `file` is `audit` or `outbox`.
use crate::telemetry::names::audit::*;
use metrics::{counter, gauge, histogram};
use std::time::Duration;

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
    counter!(AUDIT_RECORDS_TOTAL, "kind" => "write").increment(writes);
    if auth_failures > 0 {
        counter!(AUDIT_RECORDS_TOTAL, "kind" => "auth_failure").increment(auth_failures);
    }
    counter!(AUDIT_BYTES_TOTAL, "file" => "audit").increment(audit_bytes);
    if events > 0 {
        counter!(OUTBOX_EVENTS_TOTAL).increment(events);
        counter!(AUDIT_BYTES_TOTAL, "file" => "outbox").increment(outbox_bytes);
    }
    histogram!(AUDIT_BATCH_SIZE).record((writes + auth_failures) as f64);
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
    gauge!(AUDIT_QUEUE_DEPTH).set(depth as f64);
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
