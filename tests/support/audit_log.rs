//! Reading a real audit directory the way an auditor would: every
//! `audit-*.jsonl` file in name order, one JSON record per complete line;
//! and `scim-gateway audit verify` run as the built binary.
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The audit files of `dir`, in name (= seq) order.
pub fn audit_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the audit dir {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("audit-") && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    files
}

/// Every complete line of every audit file, parsed (an incomplete last
/// line, a write caught by a crash, is left out).
pub fn read_records(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for file in audit_files(dir) {
        let text = std::fs::read_to_string(&file).unwrap();
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => "",
        };
        for (n, line) in complete.lines().enumerate() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: not JSON ({e}): {line}", file.display(), n + 1));
            out.push(v);
        }
    }
    out
}

/// The `write` records by `request_id`.
pub fn writes_by_request_id(records: &[Value]) -> HashMap<String, Vec<Value>> {
    let mut m: HashMap<String, Vec<Value>> = HashMap::new();
    for r in records.iter().filter(|r| r["kind"] == "write") {
        let id = r["request_id"].as_str().unwrap_or_default().to_string();
        m.entry(id).or_default().push(r.clone());
    }
    m
}

/// The outcome of `scim-gateway audit verify PATHS...`.
#[derive(Debug)]
pub struct Verified {
    pub success: bool,
    /// stdout and stderr together.
    pub output: String,
}

/// Runs `scim-gateway audit verify` on `paths`.
pub fn audit_verify(paths: &[&Path]) -> Verified {
    let out = Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .args(["audit", "verify"])
        .args(paths)
        .output()
        .unwrap();
    Verified {
        success: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Copies the audit files of `from` (not the outbox) into a fresh `to`.
pub fn copy_audit_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for f in audit_files(from) {
        std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
    }
}
