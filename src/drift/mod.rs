//! Drift reports (docs/safety.md, "Drift reports"): per resource, the
//! keyed digest of what the gateway last answered the IdP, kept beside the
//! audit journal (`<audit dir>/drift/`), and the comparison a run makes
//! against what the upstream lists now.
//!
//! Owns: the canonical form and digest ([`canonical`]), one tenant's log
//! of digests ([`store`]), the run's bookkeeping and its [`Report`]
//! ([`report`]), the tenant's [`DriftSettings`]. A tenant's digests are
//! only ever read for that tenant: each has its own log and map, found by
//! its id. The run itself (paging the upstream through the pipeline's
//! door) is in `stack::drift_run`; the write path's recording in
//! `stack::drift_stage`.
//!
//! Imports: `ring` (HMAC, the key's randomness), `metrics`, the ground.
pub(crate) mod canonical;
pub(crate) mod report;
pub(crate) mod store;

pub(crate) use report::{Report, RunState};
pub(crate) use store::State;

use ring::hmac;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use store::TenantLog;

/// The resource types a run compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    User = 0,
    Group = 1,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Kind> {
        if name.eq_ignore_ascii_case("User") {
            Some(Kind::User)
        } else if name.eq_ignore_ascii_case("Group") {
            Some(Kind::Group)
        } else {
            None
        }
    }
}

/// `[tenants.drift]`, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftSettings {
    /// A run every this often (`None`: only when asked for).
    pub interval: Option<Duration>,
    /// Upstream page reads per second while a run pages.
    pub max_rate: f64,
    /// Resources asked for per page (`count`).
    pub page_size: usize,
    /// A run that takes longer stops, reported as failed.
    pub max_duration: Duration,
}

impl Default for DriftSettings {
    fn default() -> Self {
        DriftSettings {
            interval: None,
            max_rate: 2.0,
            page_size: 100,
            max_duration: Duration::from_secs(3600),
        }
    }
}

/// The process's drift state: every tenant's digest log (opened on first
/// use), the installation's key and each tenant's last or current run.
#[derive(Debug)]
pub(crate) struct Drift {
    dir: PathBuf,
    key: OnceLock<hmac::Key>,
    logs: Mutex<HashMap<String, Arc<Mutex<TenantLog>>>>,
    runs: Mutex<HashMap<String, Report>>,
    next_run: std::sync::atomic::AtomicU64,
}

impl Drift {
    /// The drift state kept in `dir` (`<audit dir>/drift`); nothing is
    /// read or created before a tenant with drift reports writes.
    pub(crate) fn new(dir: PathBuf) -> Drift {
        Drift {
            dir,
            key: OnceLock::new(),
            logs: Mutex::default(),
            runs: Mutex::default(),
            next_run: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// The installation's HMAC key: 32 random bytes in `<dir>/key` (0600),
    /// made on first use.
    pub(crate) fn key(&self) -> std::io::Result<&hmac::Key> {
        if let Some(k) = self.key.get() {
            return Ok(k);
        }
        self.ensure_dir()?;
        let bytes = read_or_make_key(&self.dir.join("key"))?;
        Ok(self
            .key
            .get_or_init(|| hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
    }

    fn ensure_dir(&self) -> std::io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
    }

    /// The tenant's log, opened (read and compacted) on first use.
    pub(crate) fn log(&self, tenant: &str) -> std::io::Result<Arc<Mutex<TenantLog>>> {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(log) = logs.get(tenant) {
            return Ok(log.clone());
        }
        self.ensure_dir()?;
        let log = Arc::new(Mutex::new(TenantLog::open(&self.dir, tenant)?));
        logs.insert(tenant.to_string(), log.clone());
        Ok(log)
    }

    /// Records what the gateway answered for one resource of `tenant`.
    pub(crate) fn record(
        &self,
        tenant: &str,
        kind: Kind,
        id: &str,
        state: State,
    ) -> std::io::Result<()> {
        let log = self.log(tenant)?;
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        log.record(kind, id, state)
    }

    /// The tenant's last or current run.
    pub(crate) fn last_run(&self, tenant: &str) -> Option<Report> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.get(tenant).cloned()
    }

    /// Starts a run for `tenant`, or gives the one running (one at a time
    /// per tenant).
    pub(crate) fn begin(&self, tenant: &str) -> Result<report::Run, Box<Report>> {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = runs.get(tenant) {
            if r.state == RunState::Running {
                return Err(Box::new(r.clone()));
            }
        }
        let id = self
            .next_run
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let report = Report::started(id, tenant);
        runs.insert(tenant.to_string(), report.clone());
        Ok(report::Run::new(report))
    }

    /// Publishes the run's progress or outcome.
    pub(crate) fn publish(&self, report: &Report) {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.insert(report.tenant.clone(), report.clone());
    }
}

fn read_or_make_key(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut f) => {
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
                .map_err(|_| std::io::Error::other("no randomness for the drift key"))?;
            f.write_all(&key)?;
            f.sync_all()?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mut f = std::fs::File::open(path)?;
            f.read_exact(&mut key).map_err(|_| {
                std::io::Error::other(format!(
                    "{}: not a drift key (32 bytes); remove it to start the digests afresh",
                    path.display()
                ))
            })?;
            Ok(key)
        }
        Err(e) => Err(e),
    }
}

/// The run's gauges: its counts (a failed run leaves the last good ones)
/// and when it finished.
fn metrics_of(report: &Report) {
    use crate::telemetry::names::drift::{DRIFT_LAST_RUN_TIMESTAMP_SECONDS, DRIFT_RESOURCES};
    let tenant = report.tenant.clone();
    let outcome = match report.state {
        RunState::Failed => "failed",
        _ => "done",
    };
    let at = report.finished_at_ms.unwrap_or(0) as f64 / 1000.0;
    metrics::gauge!(DRIFT_LAST_RUN_TIMESTAMP_SECONDS, "tenant" => tenant.clone(), "outcome" => outcome)
        .set(at);
    if report.state == RunState::Failed {
        return;
    }
    let c = &report.counts;
    for (kind, n) in [
        ("changed", c.changed),
        ("created_outside", c.created_outside),
        ("missing", c.missing),
        ("unverified", c.unverified),
    ] {
        metrics::gauge!(DRIFT_RESOURCES, "tenant" => tenant.clone(), "kind" => kind).set(n as f64);
    }
}
