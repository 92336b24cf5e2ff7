//! `GET /admin/v1/audit?verify=true`: verifies the audit chain now (every
//! line of every file, as `scim-gateway audit verify` does, in the
//! blocking pool) and keeps the outcome as the last verification, which
//! `GET /admin/v1/audit` shows. It reads the files only; the journal
//! keeps writing meanwhile (a line being written shows as a torn tail).
use crate::audit::{verify_paths, VerifyOptions};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

/// The outcome of the last verification asked for (none: `None`).
#[derive(Debug, Default)]
pub(crate) struct LastVerify(Mutex<Option<Value>>);

impl LastVerify {
    pub(super) fn get(&self) -> Option<Value> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Verifies the chain in `dir` and keeps the outcome.
    pub(super) async fn run(&self, dir: PathBuf) {
        let started = SystemTime::now();
        let outcome =
            tokio::task::spawn_blocking(move || verify_paths(&[dir], VerifyOptions::default()))
                .await;
        let at_ms = started
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let took_ms = started.elapsed().map_or(0, |d| d.as_millis() as u64);
        let value = match outcome {
            Ok(Ok(report)) => json!({
                "at_ms": at_ms,
                "took_ms": took_ms,
                "ok": true,
                "files": report.files,
                "records": report.records,
                "first_seq": report.first_seq,
                "last_seq": report.last_seq,
                "head": report.head,
                "torn_tail": report.torn_tail,
            }),
            // Where and what, never the record's text.
            Ok(Err(failure)) => json!({
                "at_ms": at_ms,
                "took_ms": took_ms,
                "ok": false,
                "file": failure.file.file_name().map(|n| n.to_string_lossy().into_owned()),
                "line": failure.line,
                "seq": failure.seq,
                "problem": failure.problem.to_string(),
            }),
            Err(_) => {
                json!({ "at_ms": at_ms, "ok": false, "problem": "the verification did not finish" })
            }
        };
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }
}
