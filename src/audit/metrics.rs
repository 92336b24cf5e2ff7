//! The journal's metric names and the named events that count them
//! (documented in docs/audit.md). Labels are bounded: `kind` is `write` or
//! `auth_failure`, `file` is `audit` or `outbox`.
use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, Unit,
};
use std::sync::Once;
use std::time::Duration;

/// Audit records written (after write(2)), by `kind`.
pub const AUDIT_RECORDS_TOTAL: &str = "scim_gateway_audit_records_total";
/// Bytes written to the audit log and the outbox, by `file`.
pub const AUDIT_BYTES_TOTAL: &str = "scim_gateway_audit_bytes_total";
/// Time of one fsync (fdatasync) of the audit log or the outbox, by `file`.
pub const AUDIT_FSYNC_DURATION_SECONDS: &str = "scim_gateway_audit_fsync_duration_seconds";
/// Entries waiting in the journal's queue.
pub const AUDIT_QUEUE_DEPTH: &str = "scim_gateway_audit_queue_depth";
/// Entries per group commit (one write per file, one fsync per file).
pub const AUDIT_BATCH_SIZE: &str = "scim_gateway_audit_batch_size";
/// Files started by rotation, by `file`.
pub const AUDIT_ROTATIONS_TOTAL: &str = "scim_gateway_audit_rotations_total";
/// Torn last lines truncated at start-up, by `file`.
pub const AUDIT_TORN_TAILS_TOTAL: &str = "scim_gateway_audit_torn_tails_total";
/// I/O failures of the journal (each one stops it), by `file`.
pub const AUDIT_ERRORS_TOTAL: &str = "scim_gateway_audit_errors_total";
/// Events appended to the outbox (after write(2)).
pub const OUTBOX_EVENTS_TOTAL: &str = "scim_gateway_outbox_events_total";
/// The highest durable (fsynced) outbox seq.
pub const OUTBOX_HIGHEST_SEQ: &str = "scim_gateway_outbox_highest_seq";

/// Writes the backend accepted whose audit record could not be written
/// (each answered 503), by `tenant`.
pub const AUDIT_UNACKNOWLEDGED_TOTAL: &str = "scim_gateway_audit_unacknowledged_total";

/// Registers descriptions and units, once per process.
pub fn describe() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        describe_counter!(AUDIT_RECORDS_TOTAL, "Audit records written.");
        describe_counter!(
            AUDIT_UNACKNOWLEDGED_TOTAL,
            "Writes the backend accepted whose audit record could not be written (answered 503)."
        );
        describe_counter!(
            AUDIT_BYTES_TOTAL,
            Unit::Bytes,
            "Bytes written to the audit log and the outbox."
        );
        describe_histogram!(
            AUDIT_FSYNC_DURATION_SECONDS,
            Unit::Seconds,
            "Time of one fsync of the audit log or the outbox."
        );
        describe_gauge!(AUDIT_QUEUE_DEPTH, "Entries waiting in the journal queue.");
        describe_histogram!(AUDIT_BATCH_SIZE, "Entries per journal group commit.");
        describe_counter!(AUDIT_ROTATIONS_TOTAL, "Audit and outbox files rotated.");
        describe_counter!(
            AUDIT_TORN_TAILS_TOTAL,
            "Torn last lines truncated at start-up."
        );
        describe_counter!(AUDIT_ERRORS_TOTAL, "Journal I/O failures.");
        describe_counter!(OUTBOX_EVENTS_TOTAL, "Events appended to the outbox.");
        describe_gauge!(OUTBOX_HIGHEST_SEQ, "Highest durable outbox seq.");
    });
}

/// Which file a figure is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Audit,
    Outbox,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Audit => "audit",
            FileKind::Outbox => "outbox",
        }
    }
}

/// One group commit written: counts records, events and bytes.
pub fn batch_written(
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
pub fn fsynced(file: FileKind, took: Duration) {
    histogram!(AUDIT_FSYNC_DURATION_SECONDS, "file" => file.as_str()).record(took.as_secs_f64());
}

/// A write the backend accepted could not be audited.
pub fn unacknowledged(tenant: &str) {
    counter!(AUDIT_UNACKNOWLEDGED_TOTAL, "tenant" => tenant.to_string()).increment(1);
}

/// The queue's depth, sampled by the writer.
pub fn queue_depth(depth: usize) {
    gauge!(AUDIT_QUEUE_DEPTH).set(depth as f64);
}

/// The outbox is durable up to `seq`.
pub fn outbox_durable(seq: u64) {
    gauge!(OUTBOX_HIGHEST_SEQ).set(seq as f64);
}

/// A new file was started.
pub fn rotated(file: FileKind) {
    counter!(AUDIT_ROTATIONS_TOTAL, "file" => file.as_str()).increment(1);
}

/// A torn last line was cut off at start-up.
pub fn torn_tail(file: FileKind) {
    counter!(AUDIT_TORN_TAILS_TOTAL, "file" => file.as_str()).increment(1);
}

/// The journal failed on `file`.
pub fn failed(file: FileKind) {
    counter!(AUDIT_ERRORS_TOTAL, "file" => file.as_str()).increment(1);
}
