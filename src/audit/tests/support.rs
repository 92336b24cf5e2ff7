use crate::audit::writer::{Entry, Writer};
use crate::audit::{AuditRecord, AuditSettings};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh, unique temp directory.
pub(super) fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "scim-audit-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub(super) fn settings(dir: &std::path::Path) -> AuditSettings {
    AuditSettings {
        dir: dir.to_path_buf(),
        max_file_bytes: 4096,
        outbox_segment_bytes: 4096,
        ..AuditSettings::default()
    }
}

pub(super) fn entry(i: u64, event: bool) -> Entry {
    let record = AuditRecord::write(&format!("req-{i}"), "POST", [127, 0, 0, 1].into());
    Entry {
        record: serde_json::to_vec(&record).unwrap(),
        event: event.then(|| serde_json::json!({ "id": format!("ev-{i}") }).into()),
        auth_failure: false,
    }
}

/// Writes `n` records (rotating at 4 KiB) and returns the audit files.
pub(super) fn write_log(dir: &std::path::Path, n: u64) -> Vec<PathBuf> {
    let mut w = Writer::open(&settings(dir)).unwrap();
    for i in 0..n {
        w.write_batch(&[entry(i, true)], false).unwrap();
    }
    w.sync().unwrap();
    audit_files(dir)
}

pub(super) fn audit_files(dir: &std::path::Path) -> Vec<PathBuf> {
    crate::audit::files::list(dir, crate::audit::files::parse_audit_file_name)
        .unwrap()
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}
