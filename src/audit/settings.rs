//! `[audit]`: where the journal writes and how durable an acknowledged
//! write is. Durations are strings such as `"100ms"`, `"24h"` (as in the
//! rest of the config).
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;
use std::time::Duration;

/// The journal's settings (the gateway config's `[audit]` table).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Directory of the audit files; the outbox is its `outbox/`
    /// sub-directory. Default `audit`.
    pub dir: PathBuf,
    /// `"interval"` (default): a write is acknowledged after write(2) and
    /// is on disk at the next fsync, at most `fsync_interval` later.
    /// `"per_record"`: acknowledged only after the fsync of its batch.
    pub fsync: FsyncPolicy,
    /// How often written entries are fsynced under `fsync = "interval"`.
    /// Default `"100ms"`.
    #[serde(deserialize_with = "duration")]
    pub fsync_interval: Duration,
    /// An audit file is closed and a new one started before it would grow
    /// past this many bytes. Default 64 MiB.
    pub max_file_bytes: u64,
    /// ... or once it is this old (at its next write). Default `"24h"`.
    #[serde(deserialize_with = "duration")]
    pub max_file_age: Duration,
    /// An outbox segment is closed before it would grow past this many
    /// bytes. Default 8 MiB.
    pub outbox_segment_bytes: u64,
    /// Entries that may wait for the writer; when full, `append` waits.
    /// Default 8192.
    pub queue: usize,
}

/// When an acknowledged entry is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// fsync every `fsync_interval`; acknowledge after write(2).
    Interval,
    /// fsync each batch before acknowledging it.
    PerRecord,
}

// === impl AuditSettings ===

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            dir: PathBuf::from("audit"),
            fsync: FsyncPolicy::Interval,
            fsync_interval: Duration::from_millis(100),
            max_file_bytes: 64 * 1024 * 1024,
            max_file_age: Duration::from_secs(24 * 3600),
            outbox_segment_bytes: 8 * 1024 * 1024,
            queue: 8192,
        }
    }
}

impl AuditSettings {
    /// Every problem, each naming its key (`audit.<key>`); empty when the
    /// settings are usable.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.dir.as_os_str().is_empty() {
            out.push("audit.dir: must name a directory".to_string());
        }
        if self.fsync_interval < Duration::from_millis(1)
            || self.fsync_interval > Duration::from_secs(60)
        {
            out.push(format!(
                "audit.fsync_interval: {} is outside 1ms..60s",
                humantime::format_duration(self.fsync_interval)
            ));
        }
        if self.max_file_bytes < 4096 {
            out.push(format!(
                "audit.max_file_bytes: {} is below 4096",
                self.max_file_bytes
            ));
        }
        if self.max_file_age < Duration::from_secs(1) {
            out.push("audit.max_file_age: must be at least 1s".to_string());
        }
        if self.outbox_segment_bytes < 4096 {
            out.push(format!(
                "audit.outbox_segment_bytes: {} is below 4096",
                self.outbox_segment_bytes
            ));
        }
        if self.queue == 0 || self.queue > 1 << 20 {
            out.push(format!("audit.queue: {} is outside 1..1048576", self.queue));
        }
        out
    }

    /// The outbox directory.
    pub fn outbox_dir(&self) -> PathBuf {
        self.dir.join(super::files::OUTBOX_DIR)
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s)
        .map_err(|e| serde::de::Error::custom(format!("\"{s}\" is not a duration: {e}")))
}
