//! A run's bookkeeping ([`Run`]: each listed resource compared with its
//! entry, then the entries the listing did not show) and its outcome
//! ([`Report`]). The report names resources by type and id only, never
//! an attribute value: it goes to the admin API, the CLI and the logs.
use super::canonical::Digest;
use super::store::State;
use super::{Drift, Kind};
use serde::Serialize;
use std::time::SystemTime;

/// At most this many ids per list (the counts stay exact).
pub(crate) const MAX_LISTED: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RunState {
    Running,
    Done,
    Failed,
}

/// One resource named in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Item {
    pub resource_type: &'static str,
    pub id: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Counts {
    pub clean: u64,
    pub changed: u64,
    pub created_outside: u64,
    pub missing: u64,
    pub unverified: u64,
    /// Written through the gateway while the run listed them: not compared.
    pub written_during_run: u64,
}

/// A run's outcome (or progress, while it runs).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub run_id: u64,
    pub tenant: String,
    pub state: RunState,
    pub started_at_ms: u64,
    pub finished_at_ms: Option<u64>,
    /// Why a failed run stopped (no attribute values).
    pub error: Option<String>,
    /// Upstream pages read.
    pub pages: u64,
    pub counts: Counts,
    pub changed: Vec<Item>,
    pub created_outside: Vec<Item>,
    pub missing: Vec<Item>,
    pub unverified: Vec<Item>,
    /// Some list held more than `MAX_LISTED` ids (the counts are exact).
    pub truncated: bool,
}

impl Report {
    pub(super) fn started(run_id: u64, tenant: &str) -> Report {
        Report {
            run_id,
            tenant: tenant.to_string(),
            state: RunState::Running,
            started_at_ms: unix_ms(),
            finished_at_ms: None,
            error: None,
            pages: 0,
            counts: Counts::default(),
            changed: Vec::new(),
            created_outside: Vec::new(),
            missing: Vec::new(),
            unverified: Vec::new(),
            truncated: false,
        }
    }

    /// The answer for a gateway without the state to run (no journal).
    pub(crate) fn unavailable(tenant: &str) -> Report {
        let mut r = Report::started(0, tenant);
        r.state = RunState::Failed;
        r.error = Some("drift reports need the audit journal".into());
        r
    }

    fn list(&mut self, which: Which, kind: Kind, id: &str) {
        let (count, list) = match which {
            Which::Changed => (&mut self.counts.changed, &mut self.changed),
            Which::Outside => (&mut self.counts.created_outside, &mut self.created_outside),
            Which::Missing => (&mut self.counts.missing, &mut self.missing),
            Which::Unverified => (&mut self.counts.unverified, &mut self.unverified),
        };
        *count += 1;
        if list.len() < MAX_LISTED {
            list.push(Item {
                resource_type: kind.name(),
                id: id.to_string(),
            });
        } else {
            self.truncated = true;
        }
    }
}

#[derive(Clone, Copy)]
enum Which {
    Changed,
    Outside,
    Missing,
    Unverified,
}

/// A run in progress: its report, and the log's marks it compares by.
#[derive(Debug)]
pub(crate) struct Run {
    pub report: Report,
    /// This run's number in the tenant's log (entries it saw carry it).
    number: u32,
    /// The log's write stamp when the run began.
    stamp: u64,
}

impl Run {
    pub(super) fn new(report: Report) -> Run {
        Run {
            report,
            number: 0,
            stamp: 0,
        }
    }

    /// Marks the start in the tenant's log (before the first page).
    pub(crate) fn start(&mut self, drift: &Drift) -> std::io::Result<()> {
        let log = drift.log(&self.report.tenant)?;
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        log.run = log.run.wrapping_add(1).max(1);
        self.number = log.run;
        self.stamp = log.stamp;
        Ok(())
    }

    /// Compares one page of listed resources (type, id, digest).
    pub(crate) fn compare(&mut self, drift: &Drift, page: &[(Kind, String, Digest)]) {
        let Ok(log) = drift.log(&self.report.tenant) else {
            return;
        };
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        for (kind, id, digest) in page {
            let Some(entry) = log.maps[*kind as usize].get_mut(id.as_str()) else {
                self.report.list(Which::Outside, *kind, id);
                continue;
            };
            entry.seen = self.number;
            if entry.stamp > self.stamp {
                self.report.counts.written_during_run += 1;
                continue;
            }
            match entry.state {
                State::Digest(d) if d == *digest => self.report.counts.clean += 1,
                State::Digest(_) => self.report.list(Which::Changed, *kind, id),
                State::Unverified => self.report.list(Which::Unverified, *kind, id),
                // Deleted through the gateway, there again: made outside.
                State::Deleted => self.report.list(Which::Outside, *kind, id),
            }
        }
    }

    /// After every page of `kinds` was listed: entries the listing did not
    /// show are missing; tombstones it did not show are confirmed and
    /// forgotten (the log stays bounded).
    pub(crate) fn finish(&mut self, drift: &Drift, kinds: &[Kind]) -> std::io::Result<()> {
        let log = drift.log(&self.report.tenant)?;
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        let mut gone = Vec::new();
        for kind in kinds {
            let mut missing: Vec<&String> = Vec::new();
            for (id, e) in &log.maps[*kind as usize] {
                if e.seen == self.number || e.stamp > self.stamp {
                    continue;
                }
                match e.state {
                    State::Deleted => gone.push((*kind, id.clone())),
                    _ => missing.push(id),
                }
            }
            missing.sort();
            for id in missing {
                self.report.list(Which::Missing, *kind, id);
            }
        }
        self.report.changed.sort_by(|a, b| a.id.cmp(&b.id));
        self.report.created_outside.sort_by(|a, b| a.id.cmp(&b.id));
        self.report.unverified.sort_by(|a, b| a.id.cmp(&b.id));
        if gone.is_empty() {
            Ok(())
        } else {
            log.forget(&gone)
        }
    }

    /// The run's end: published, and its metrics set.
    pub(crate) fn end(mut self, drift: &Drift, error: Option<String>) -> Report {
        self.report.finished_at_ms = Some(unix_ms());
        self.report.state = if error.is_some() {
            RunState::Failed
        } else {
            RunState::Done
        };
        self.report.error = error;
        super::metrics_of(&self.report);
        drift.publish(&self.report);
        self.report
    }
}

pub(super) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
