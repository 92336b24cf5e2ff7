//! The tamper-evident audit log and the outbox writer (docs/audit.md).
//!
//! Owns: the [`AuditRecord`] format and the pure helpers that fill in its
//! attribute names and allow-listed values ([`changed_attributes`],
//! [`allowed_values`]); the hash chain and its file layout; `audit verify`;
//! and the [`Journal`], one background task that appends records to the
//! audit log and CloudEvents to the outbox (`<dir>/outbox/`, read by
//! `crate::events`) in one group commit and one fsync.
//!
//! Depends on `scim` (pure helpers), `authn` (the principal type), tokio
//! and the `metrics` facade; nothing on the request path depends on the
//! disk except through an [`Ack`].
mod attributes;
pub(crate) mod chain;
pub(crate) mod files;
mod journal;
pub(crate) mod metrics;
mod names;
mod record;
pub(crate) mod settings;
mod thread;
pub(crate) mod verify;
mod writer;

pub(crate) use attributes::{
    allowed_values, changed_attributes, resource_names_raw, resource_names_scanned,
};
pub use journal::{Ack, Journal, JournalError, MAX_BATCH};
pub use names::AttributeNames;
pub(crate) use record::{latency_ms, ClientIp, RecordRef};
pub use record::{AuditKind, AuditOutcome, AuditPrincipal, AuditRecord, GuardrailNote};
pub use settings::{AuditSettings, FsyncPolicy};
pub use verify::{verify_paths, Problem, VerifyFailure, VerifyOptions, VerifyReport};
pub(crate) use writer::Receipt;

#[cfg(test)]
mod tests;
