//! Shadow upstreams (`[tenants.shadow]`, docs/safety.md "Shadow
//! upstream"): every write of the tenant, and optionally its reads,
//! mirrored to a second upstream after the primary answered, never
//! delaying the IdP; the two answers compared structurally, with ids
//! mapped between the two ([`ids`], [`translate`]) and volatile fields
//! ignored ([`compare`]); what differs counted and logged by attribute
//! path, never by value.
//!
//! The owner of the shared state (kept across reloads, like the
//! limiter): each tenant's id map (on disk beside the audit journal) and
//! its counters. The pipeline's stage (`stack::shadow_stage`) mirrors and
//! compares; the admin API reports and starts a backfill.
//!
//! A stage: imports `scim` and `telemetry` only.
pub mod compare;
pub mod ids;
pub mod translate;

use crate::scim::datetime::DateTime;
use crate::telemetry::names;
use ids::IdMap;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// `[tenants.shadow]`, compiled (the shadow's upstream and schema are the
/// tenant's `ShadowTarget`).
#[derive(Debug, Clone)]
pub struct ShadowSettings {
    /// The upstream that gets the copies (its name).
    pub upstream: String,
    /// Also mirror reads (GET of a resource or a list, searches).
    pub reads: bool,
    /// Mirrored requests waiting at most; past it a copy is dropped and
    /// counted.
    pub queue: usize,
    /// Attribute paths (lower case) never compared, beside the volatile
    /// ones.
    pub ignore: Vec<String>,
    /// The roles swapped: the IdP is answered by the shadow's upstream,
    /// and the former primary gets the copies.
    pub cutover: bool,
    /// Copies are sent (else only the id map is used).
    pub mirror: bool,
}

/// The most distinct paths a tenant's counters keep.
const MAX_PATHS: usize = 256;
/// The differences a tenant's report keeps, newest last.
const MAX_RECENT: usize = 50;

/// The shadow state of every tenant.
#[derive(Debug)]
pub struct Shadow {
    /// Where id maps are kept (`<audit dir>/shadow`); `None` without an
    /// audit journal (the config then refuses a shadow).
    dir: Option<PathBuf>,
    tenants: Mutex<HashMap<String, Arc<TenantShadow>>>,
}

/// One tenant's shadow state.
#[derive(Debug)]
pub struct TenantShadow {
    ids: Mutex<IdMap>,
    report: Mutex<Report>,
}

/// How a mirrored request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Both answers the same.
    Match,
    /// They differ (status or body).
    Differ,
    /// The shadow could not be asked or answered with an error the
    /// primary did not (a transport failure, a timeout).
    Failed,
    /// Not mirrored: the queue was full.
    Dropped,
    /// Not mirrored: something the shadow cannot be sent (documented).
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Match => "match",
            Outcome::Differ => "differ",
            Outcome::Failed => "failed",
            Outcome::Dropped => "dropped",
            Outcome::Skipped => "skipped",
        }
    }
}

/// A tenant's comparison summary (the admin API's and the CLI's).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub tenant: String,
    /// The upstream that gets the copies.
    pub shadow_upstream: String,
    pub since: String,
    pub mirrored: u64,
    pub matched: u64,
    pub differed: u64,
    pub failed: u64,
    pub dropped: u64,
    pub skipped: u64,
    /// Requests mirrored by method (`POST`, `PATCH`, ...).
    pub by_method: BTreeMap<String, u64>,
    /// Attribute paths that differed, and how often (`status` for a
    /// different status, `scimType` for a different error type).
    pub paths: BTreeMap<String, u64>,
    /// The latest differences and failures (ids, paths and statuses only).
    pub recent: VecDeque<Difference>,
    /// Entries in the id map.
    pub id_map_entries: usize,
    /// The last backfill, when one ran.
    pub backfill: Option<Backfill>,
}

/// One difference (or failure) of one mirrored request.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    pub at: String,
    pub request_id: String,
    pub method: String,
    /// The route, ids as keys (`/Users/2819c223`).
    pub path: String,
    pub primary_status: u16,
    pub shadow_status: Option<u16>,
    pub outcome: &'static str,
    pub paths: Vec<String>,
    /// Why it failed (no value of the request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A backfill's progress.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Backfill {
    pub started: String,
    pub finished: Option<String>,
    pub state: &'static str,
    /// Resources of the primary read.
    pub read: u64,
    /// Created at the shadow.
    pub created: u64,
    /// Already at the shadow (in the id map, or found by name).
    pub present: u64,
    pub linked: u64,
    pub failed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Shadow {
    pub fn new(dir: Option<PathBuf>) -> Shadow {
        Shadow {
            dir,
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant's state, its id map opened on first use. `Err` when the
    /// map cannot be read (the shadow then does nothing for the tenant).
    pub fn tenant(&self, tenant: &str, upstream: &str) -> Result<Arc<TenantShadow>, String> {
        let mut all = lock(&self.tenants);
        if let Some(t) = all.get(tenant) {
            lock(&t.report).shadow_upstream = upstream.to_string();
            return Ok(t.clone());
        }
        let ids = match &self.dir {
            Some(dir) => IdMap::open(&dir.join(tenant)).map_err(|e| {
                // Without its map the tenant's ids cannot be translated:
                // copies are not sent, and after a cutover the IdP's old
                // ids reach the new backend untranslated (404s).
                tracing::error!(tenant, error = %e, "the shadow's id map could not be read");
                format!("the id map of tenant {tenant} could not be read: {e}")
            })?,
            None => IdMap::in_memory(),
        };
        let report = Report {
            tenant: tenant.to_string(),
            shadow_upstream: upstream.to_string(),
            since: DateTime::now().to_rfc3339(),
            ..Report::default()
        };
        let t = Arc::new(TenantShadow {
            ids: Mutex::new(ids),
            report: Mutex::new(report),
        });
        all.insert(tenant.to_string(), t.clone());
        Ok(t)
    }

    /// The tenant's state if it was opened.
    pub fn opened(&self, tenant: &str) -> Option<Arc<TenantShadow>> {
        lock(&self.tenants).get(tenant).cloned()
    }
}

impl TenantShadow {
    /// The id map (held briefly: never across an await).
    pub fn ids(&self) -> MutexGuard<'_, IdMap> {
        lock(&self.ids)
    }

    /// The summary so far.
    pub fn report(&self) -> Report {
        let mut r = lock(&self.report).clone();
        r.id_map_entries = self.ids().len();
        r
    }

    /// Counts one mirrored request; logs a difference or failure (paths
    /// and statuses, never values).
    pub fn record(&self, mut d: Difference, outcome: Outcome) {
        let mut r = lock(&self.report);
        metrics::counter!(names::SHADOW_REQUESTS_TOTAL, "tenant" => r.tenant.clone(), "outcome" => outcome.as_str()).increment(1);
        match outcome {
            Outcome::Dropped => r.dropped += 1,
            Outcome::Skipped => r.skipped += 1,
            _ => {
                r.mirrored += 1;
                *r.by_method.entry(d.method.clone()).or_default() += 1;
            }
        }
        match outcome {
            Outcome::Match => r.matched += 1,
            Outcome::Differ => r.differed += 1,
            Outcome::Failed => r.failed += 1,
            _ => {}
        }
        if outcome == Outcome::Match {
            return;
        }
        for p in &d.paths {
            let known = r.paths.contains_key(p);
            if known || r.paths.len() < MAX_PATHS {
                *r.paths.entry(p.clone()).or_default() += 1;
            }
            metrics::counter!(names::SHADOW_DIFFERENCES_TOTAL, "tenant" => r.tenant.clone())
                .increment(1);
        }
        tracing::warn!(
            tenant = r.tenant.as_str(),
            shadow = r.shadow_upstream.as_str(),
            request_id = d.request_id.as_str(),
            method = d.method.as_str(),
            path = d.path.as_str(),
            primary_status = d.primary_status,
            shadow_status = d.shadow_status,
            outcome = outcome.as_str(),
            differences = d.paths.join(",").as_str(),
            error = d.error.as_deref(),
            "shadow answer differs"
        );
        d.outcome = outcome.as_str();
        if r.recent.len() == MAX_RECENT {
            r.recent.pop_front();
        }
        r.recent.push_back(d);
    }

    /// Sets the backfill's progress.
    pub fn backfill(&self, b: Backfill) {
        lock(&self.report).backfill = Some(b);
    }

    /// Whether a backfill is running.
    pub fn backfilling(&self) -> bool {
        lock(&self.report)
            .backfill
            .as_ref()
            .is_some_and(|b| b.state == "running")
    }
}

/// Now, as RFC 3339 (reports).
pub fn now() -> String {
    DateTime::now().to_rfc3339()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
