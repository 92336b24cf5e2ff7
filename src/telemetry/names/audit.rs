//! The audit journal's metric names and their descriptions (documented in
//! docs/audit.md). The journal records them through `audit::metrics`;
//! labels are bounded: `kind` is `write` or `auth_failure`, `file` is
//! `audit` or `outbox`, `tenant` comes from the config.
//!
//! Ground: imports only the `metrics` crate.
use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use std::sync::Once;

/// Audit records written (after write(2)), by `kind`.
pub(crate) const AUDIT_RECORDS_TOTAL: &str = "scim_gateway_audit_records_total";
/// Bytes written to the audit log and the outbox, by `file`.
pub(crate) const AUDIT_BYTES_TOTAL: &str = "scim_gateway_audit_bytes_total";
/// Time of one fsync (fdatasync) of the audit log or the outbox, by `file`.
pub(crate) const AUDIT_FSYNC_DURATION_SECONDS: &str = "scim_gateway_audit_fsync_duration_seconds";
/// Entries waiting in the journal's queue.
pub(crate) const AUDIT_QUEUE_DEPTH: &str = "scim_gateway_audit_queue_depth";
/// Entries per group commit (one write per file, one fsync per file).
pub(crate) const AUDIT_BATCH_SIZE: &str = "scim_gateway_audit_batch_size";
/// Files started by rotation, by `file`.
pub(crate) const AUDIT_ROTATIONS_TOTAL: &str = "scim_gateway_audit_rotations_total";
/// Torn last lines truncated at start-up, by `file`.
pub(crate) const AUDIT_TORN_TAILS_TOTAL: &str = "scim_gateway_audit_torn_tails_total";
/// I/O failures of the journal (each one stops it), by `file`.
pub(crate) const AUDIT_ERRORS_TOTAL: &str = "scim_gateway_audit_errors_total";
/// Events appended to the outbox (after write(2)).
pub(crate) const OUTBOX_EVENTS_TOTAL: &str = "scim_gateway_outbox_events_total";
/// The highest durable (fsynced) outbox seq.
pub(crate) const OUTBOX_HIGHEST_SEQ: &str = "scim_gateway_outbox_highest_seq";

/// Writes the backend accepted whose audit record could not be written
/// (each answered 503), by `tenant`.
pub(crate) const AUDIT_UNACKNOWLEDGED_TOTAL: &str = "scim_gateway_audit_unacknowledged_total";

/// Registers descriptions and units, once per process.
pub(crate) fn describe() {
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
