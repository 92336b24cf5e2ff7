//! The dead-letter store: events a sink gave up on, one file per event,
//! `<dir>/deadletter/<sink>/<20-digit seq>.json` (one JSON line: the event,
//! the attempts, the last error), and requeueing them for redelivery.
//!
//! `events redeliver` moves files into `<dir>/deadletter/<sink>/retry/`
//! (a rename: atomic, and safe while the gateway runs); the sink's
//! dispatcher loop delivers those first, deleting each on success and
//! moving it back here if it fails again. [`resend`] delivers directly to
//! a sink instead, for tools that hold one.
use crate::events::cursor::{sync_dir, write_atomic};
use crate::events::outbox::OutboxRecord;
use crate::events::{Event, Sink};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One dead-lettered event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Its outbox sequence number.
    pub seq: u64,
    pub sink: String,
    pub tenant: Option<String>,
    /// Tries in all, earlier rounds included.
    pub attempts: u32,
    /// RFC 3339 time of the first try.
    pub first_attempt: String,
    /// RFC 3339 time it was dead-lettered.
    pub dead_lettered_at: String,
    pub last_error: String,
    /// The CloudEvent (its JSON as stored in the outbox).
    pub event: Event,
}

/// What a requeue did for one sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequeueReport {
    pub sink: String,
    /// Moved to the retry queue.
    pub requeued: usize,
    /// Left in place: another tenant's, or unreadable.
    pub skipped: usize,
}

/// What [`resend`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResendReport {
    pub delivered: usize,
    pub failed: usize,
    pub skipped: usize,
}

// === impl DeadLetter ===

impl DeadLetter {
    /// The outbox record it came from.
    pub fn record(&self) -> OutboxRecord {
        OutboxRecord {
            seq: self.seq,
            event: self.event.clone(),
        }
    }
}

/// `<dir>/deadletter/<sink>`.
pub(crate) fn sink_dir(dir: &Path, sink: &str) -> PathBuf {
    dir.join("deadletter").join(sink)
}

/// `<dir>/deadletter/<sink>/retry`.
pub(crate) fn retry_dir(dir: &Path, sink: &str) -> PathBuf {
    sink_dir(dir, sink).join("retry")
}

fn file_name(seq: u64) -> String {
    format!("{seq:020}.json")
}

/// Stores a dead letter durably (replacing an older one of the same seq).
pub fn store(dir: &Path, letter: &DeadLetter) -> io::Result<()> {
    let target = sink_dir(dir, &letter.sink);
    fs::create_dir_all(&target)?;
    let mut line = serde_json::to_vec(letter).map_err(io::Error::other)?;
    line.push(b'\n');
    write_atomic(&target.join(file_name(letter.seq)), &line)
}

/// The dead letters in `folder`, in seq order, with their files.
fn read_folder(folder: &Path) -> io::Result<Vec<(PathBuf, Option<DeadLetter>)>> {
    let entries = match fs::read_dir(folder) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let is_letter = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".json") && !n.starts_with('.'));
        if !is_letter || !entry.file_type()?.is_file() {
            continue;
        }
        let letter = fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<DeadLetter>(&bytes).ok());
        out.push((path, letter));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A sink's dead letters, in seq order (unreadable files skipped).
pub fn list(dir: &Path, sink: &str) -> io::Result<Vec<DeadLetter>> {
    Ok(read_folder(&sink_dir(dir, sink))?
        .into_iter()
        .filter_map(|(_, l)| l)
        .collect())
}

/// A sink's requeued dead letters waiting for the dispatcher, in seq
/// order, with their files.
pub fn list_requeued(dir: &Path, sink: &str) -> io::Result<Vec<(PathBuf, DeadLetter)>> {
    Ok(read_folder(&retry_dir(dir, sink))?
        .into_iter()
        .filter_map(|(p, l)| l.map(|l| (p, l)))
        .collect())
}

/// The sinks that have a dead-letter directory.
pub(crate) fn sinks(dir: &Path) -> io::Result<Vec<String>> {
    let entries = match fs::read_dir(dir.join("deadletter")) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            if let Some(name) = entry.file_name().to_str() {
                out.push(name.to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Moves dead letters (of one sink or all; of one tenant or all) into the
/// retry queue that the running dispatcher drains.
pub(crate) fn requeue(
    dir: &Path,
    sink: Option<&str>,
    tenant: Option<&str>,
) -> io::Result<Vec<RequeueReport>> {
    let names = match sink {
        Some(s) => vec![s.to_string()],
        None => sinks(dir)?,
    };
    let mut reports = Vec::new();
    for name in names {
        let mut report = RequeueReport {
            sink: name.clone(),
            requeued: 0,
            skipped: 0,
        };
        let retry = retry_dir(dir, &name);
        for (path, letter) in read_folder(&sink_dir(dir, &name))? {
            let wanted = letter
                .as_ref()
                .is_some_and(|l| matches(tenant, l.tenant.as_deref()));
            if !wanted {
                report.skipped += 1;
                continue;
            }
            fs::create_dir_all(&retry)?;
            let Some(file) = path.file_name() else {
                continue;
            };
            fs::rename(&path, retry.join(file))?;
            report.requeued += 1;
        }
        if report.requeued > 0 {
            sync_dir(&retry)?;
            sync_dir(&sink_dir(dir, &name))?;
        }
        reports.push(report);
    }
    Ok(reports)
}

/// Delivers a sink's dead letters (of one tenant or all) straight to
/// `sink`, one try each, in seq order (as batches of one to a sink that
/// takes batches); each delivered one is deleted.
pub async fn resend(dir: &Path, sink: &dyn Sink, tenant: Option<&str>) -> io::Result<ResendReport> {
    let mut report = ResendReport::default();
    for (path, letter) in read_folder(&sink_dir(dir, sink.name()))? {
        let Some(letter) = letter else {
            report.skipped += 1;
            continue;
        };
        let own = matches(sink.tenant(), letter.tenant.as_deref());
        if !own || !matches(tenant, letter.tenant.as_deref()) {
            report.skipped += 1;
            continue;
        }
        let record = letter.record();
        // A sink that takes batches takes every event as one (of one here).
        let delivery = match sink.batch_limits() {
            Some(_) => {
                let one = [crate::events::BatchEvent {
                    record: &record,
                    body: record.delivered_body(),
                }];
                sink.deliver_batch(&one).await
            }
            None => sink.deliver(&record).await,
        };
        match delivery {
            Ok(()) => {
                fs::remove_file(&path)?;
                report.delivered += 1;
            }
            Err(e) => {
                tracing::warn!(sink = sink.name(), seq = letter.seq, error = %e, "redelivery failed");
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// `None` matches anything; `Some(t)` matches only `Some(t)`.
fn matches(filter: Option<&str>, value: Option<&str>) -> bool {
    filter.is_none_or(|want| value == Some(want))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn letter(seq: u64, tenant: &str) -> DeadLetter {
        DeadLetter {
            seq,
            sink: "hook".into(),
            tenant: Some(tenant.into()),
            attempts: 1,
            first_attempt: "2026-01-01T00:00:00.000Z".into(),
            dead_lettered_at: "2026-01-01T00:00:01.000Z".into(),
            last_error: "HTTP 400".into(),
            event: json!({"id": format!("e{seq}"), "tenant": tenant}).into(),
        }
    }

    #[test]
    fn store_list_and_requeue_by_tenant() {
        let dir = std::env::temp_dir().join(format!("scimgw-dl-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        store(&dir, &letter(3, "acme")).unwrap();
        store(&dir, &letter(1, "acme")).unwrap();
        store(&dir, &letter(2, "globex")).unwrap();
        let seqs: Vec<u64> = list(&dir, "hook").unwrap().iter().map(|l| l.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(sinks(&dir).unwrap(), ["hook"]);
        let report = requeue(&dir, None, Some("acme")).unwrap();
        assert_eq!(
            report,
            [RequeueReport {
                sink: "hook".into(),
                requeued: 2,
                skipped: 1
            }]
        );
        let queued: Vec<u64> = list_requeued(&dir, "hook")
            .unwrap()
            .iter()
            .map(|(_, l)| l.seq)
            .collect();
        assert_eq!(queued, [1, 3]);
        assert_eq!(list(&dir, "hook").unwrap().len(), 1);
        assert_eq!(requeue(&dir, Some("hook"), None).unwrap()[0].requeued, 1);
        assert!(list(&dir, "hook").unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
