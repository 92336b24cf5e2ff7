//! Raw sections of the audit log and change events: `[audit]`, `[events]`,
//! and a tenant's `[tenants.events]` and `[tenants.audit]`.
use serde::Deserialize;

/// `[audit]` (on by default: an absent section means every default).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// Default true. `false` turns off the audit log, the events outbox and
    /// every sink (events need the journal).
    pub enabled: Option<bool>,
    /// Directory of the audit files (relative to this file). Default
    /// `"audit"`. The outbox, sink cursors and dead letters live under it.
    pub dir: Option<String>,
    /// `"interval"` (default) or `"per_record"`.
    pub fsync: Option<crate::audit::FsyncPolicy>,
    /// Under `fsync = "interval"`, how often written records are fsynced.
    /// Default `"100ms"`.
    pub fsync_interval: Option<String>,
    /// Rotate an audit file before it grows past this. Default 64 MiB.
    pub max_file_bytes: Option<u64>,
    /// ... or once it is this old. Default `"24h"`.
    pub max_file_age: Option<String>,
    /// Rotate an outbox segment before it grows past this. Default 8 MiB.
    pub outbox_segment_bytes: Option<u64>,
    /// Records that may wait for the writer. Default 8192.
    pub queue: Option<usize>,
}

/// `[events]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EventsSection {
    /// How often sinks look for new events when nothing woke them.
    /// Default `"250ms"`.
    pub poll_interval: Option<String>,
    /// One Kafka sink that takes every tenant's events.
    pub kafka: Option<crate::events::kafka::KafkaSettings>,
}

/// `[tenants.events]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TenantEventsSection {
    /// `"resource"` (default: the resource after the write, as the tenant
    /// sees it) or `"changes"` (only the attributes the write touched).
    pub data: Option<crate::events::EventData>,
}

/// `[tenants.audit]`
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TenantAuditSection {
    /// Attributes whose values are kept in audit records (the rest are
    /// named only): e.g. `["active", "userName"]`.
    #[serde(default)]
    pub values: Vec<String>,
}

/// `[tenants.drift]`: drift reports (docs/safety.md, "Drift reports").
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TenantDriftSection {
    /// Keep a digest of every resource the gateway writes and allow drift
    /// runs. Default true when the section is present. Needs the audit
    /// journal.
    pub enabled: Option<bool>,
    /// Run every this often (e.g. `"24h"`); default: only when asked for
    /// (`scim-gateway drift`, the admin API).
    pub interval: Option<String>,
    /// Upstream page reads per second while a run pages. Default 2.
    pub max_rate: Option<f64>,
    /// Resources per page (`count`). Default 100.
    pub page_size: Option<usize>,
    /// A run stops (failed) after this long. Default `"1h"`.
    pub max_duration: Option<String>,
}
