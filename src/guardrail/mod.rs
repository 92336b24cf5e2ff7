//! The deprovisioning guardrail (`[tenants.guardrail]`, docs/safety.md):
//! at most N deprovisions per tenant per sliding window; past it, further
//! deprovisions are held, not sent upstream, until an operator releases
//! or drops them.
//!
//! Once a tenant has a held operation, every later deprovision of that
//! tenant is held too, whatever the window says, until an operator has
//! decided on all of them: a mass deactivation must not go on trickling
//! through at N per window while nobody looks.
//!
//! The owner of the shared state (kept across reloads, like the limiter):
//! each tenant's window in memory, the held operations on disk
//! ([`held`]). Classification is in [`classify`]. The pipeline's stage
//! (`stack::guardrail_stage`) asks [`Guardrail::check`]; the admin API
//! lists, releases and drops.
//!
//! A stage: imports `scim` and `telemetry` only.
pub mod classify;
mod held;
mod settings;
mod window;

pub use classify::{classify, classify_bulk, Deprovision, Kind, Target};
pub use held::{op_id, valid_id, HeldOp, State as HeldState};
pub use settings::{GuardrailSettings, Mode};

use crate::scim::datetime::DateTime;
use crate::telemetry::names;
use held::HeldStore;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Instant, SystemTime};
use window::Window;

/// The most entries (pending and recently decided) a tenant keeps: a
/// bound on the disk and memory a flood of distinct deprovisions can take.
pub const MAX_HELD_PER_TENANT: usize = 100_000;

/// The guardrail's state for every tenant.
#[derive(Debug)]
pub struct Guardrail {
    /// Where held operations are kept (`<audit dir>/guardrail`); `None`
    /// without an audit journal (the config then refuses a guardrail).
    dir: Option<PathBuf>,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Opened on first use (or by [`Guardrail::open_now`] at start-up).
    store: Option<HeldStore>,
    windows: HashMap<String, Window>,
}

/// Who asked for a deprovision, and what exactly (the request after the
/// IdP dialect; never its credentials).
#[derive(Debug, Clone)]
pub struct Asked<'a> {
    pub tenant: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub body: &'a [u8],
    pub auth_method: &'a str,
    pub subject: &'a str,
    pub credential: &'a str,
    pub client: String,
    pub request_id: &'a str,
}

/// What the guardrail decided for one deprovision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Under the limit: counted, and on its way.
    Pass,
    /// The IdP sending again an operation an operator released: on its
    /// way, not counted (the release was the decision).
    AlreadyReleased { id: String },
    /// Held (`new`: first time; else the IdP's retry of a held one).
    Held { id: String, new: bool },
    /// An operator dropped this operation.
    Dropped { id: String },
    /// Dry run: it would have been held; on its way.
    WouldHold,
    /// To be held, but the tenant already has [`MAX_HELD_PER_TENANT`]
    /// entries: refused like a hold, and not kept.
    Full,
}

/// Why an operator's action was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    /// Already decided (its state).
    Decided(HeldState),
    /// The store failed (disk).
    Store(String),
}

impl Guardrail {
    /// The guardrail keeping its held operations under `dir`.
    pub fn new(dir: Option<PathBuf>) -> Guardrail {
        Guardrail {
            dir,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent state (every
        // change is one insert), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens the store now (at start-up, so that a bad directory is an
    /// error there, and the pending gauge is right from the start).
    pub fn open_now(&self) -> Result<(), String> {
        let mut inner = self.lock();
        let store = open(&self.dir, &mut inner)?;
        for tenant in store.tenants() {
            gauge_pending(tenant, store.pending(tenant));
        }
        Ok(())
    }

    /// Decides on one deprovision `d` of `asked.tenant` under `settings`;
    /// a new hold is on disk before this returns.
    pub async fn check(
        &self,
        settings: &GuardrailSettings,
        d: Deprovision,
        asked: &Asked<'_>,
    ) -> Result<Verdict, String> {
        let id = op_id(
            asked.tenant,
            asked.method,
            asked.path,
            asked.query,
            asked.body,
        );
        let (op, dir) = {
            let mut guard = self.lock();
            let now = Instant::now();
            let Inner { store, windows } = &mut *guard;
            let store = ensure_open(&self.dir, store)?;
            if let Some(existing) = store.get_mut(asked.tenant, &id) {
                match existing.state {
                    HeldState::Held | HeldState::Releasing => {
                        existing.retries = existing.retries.saturating_add(1);
                        return Ok(Verdict::Held { id, new: false });
                    }
                    HeldState::Released => return Ok(Verdict::AlreadyReleased { id }),
                    HeldState::Dropped => return Ok(Verdict::Dropped { id }),
                }
            }
            let window = windows.entry(asked.tenant.to_string()).or_default();
            let fits = store.pending(asked.tenant) == 0
                && window.fits(now, settings.window, settings.max_deprovisions, d.weight);
            if fits {
                window.record(now, d.weight);
                metrics::counter!(names::GUARDRAIL_DEPROVISIONS_TOTAL, "tenant" => asked.tenant.to_string())
                    .increment(u64::from(d.weight));
                return Ok(Verdict::Pass);
            }
            if settings.mode == Mode::DryRun {
                window.record(now, d.weight);
                metrics::counter!(names::GUARDRAIL_DEPROVISIONS_TOTAL, "tenant" => asked.tenant.to_string())
                    .increment(u64::from(d.weight));
                metrics::counter!(names::GUARDRAIL_WOULD_HOLD_TOTAL, "tenant" => asked.tenant.to_string())
                    .increment(1);
                return Ok(Verdict::WouldHold);
            }
            if store.entries(asked.tenant) >= MAX_HELD_PER_TENANT
                && (store.prune(asked.tenant) == 0
                    || store.entries(asked.tenant) >= MAX_HELD_PER_TENANT)
            {
                // Kept nowhere: the IdP's retry may be held once an
                // operator has decided on some.
                return Ok(Verdict::Full);
            }
            let op = HeldOp {
                id: id.clone(),
                tenant: asked.tenant.to_string(),
                method: asked.method.to_string(),
                path: asked.path.to_string(),
                query: asked.query.map(str::to_string),
                body: String::from_utf8_lossy(asked.body).into_owned(),
                kind: d.kind.as_str().to_string(),
                weight: d.weight,
                auth_method: asked.auth_method.to_string(),
                subject: asked.subject.to_string(),
                credential: asked.credential.to_string(),
                client: asked.client.clone(),
                request_id: asked.request_id.to_string(),
                held_at: DateTime::now().to_rfc3339(),
                retries: 0,
                state: HeldState::Held,
                decided_by: None,
                decided_at: None,
                outcome: None,
                decided_epoch: None,
            };
            // In memory first: the IdP's retry while the write is under
            // way finds it.
            store.remember(op.clone());
            gauge_pending(asked.tenant, store.pending(asked.tenant));
            (op, store.dir().to_path_buf())
        };
        let written = {
            let op = op.clone();
            tokio::task::spawn_blocking(move || held::persist(&dir, &op))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
        };
        if let Err(e) = written {
            // Not on disk: forget it (the IdP's retry holds it again).
            let mut inner = self.lock();
            if let Some(store) = inner.store.as_mut() {
                store.forget(asked.tenant, &id);
                gauge_pending(asked.tenant, store.pending(asked.tenant));
            }
            return Err(format!(
                "the guardrail could not keep the held operation: {e}"
            ));
        }
        metrics::counter!(names::GUARDRAIL_HELD_TOTAL, "tenant" => asked.tenant.to_string(), "kind" => d.kind.as_str())
            .increment(1);
        tracing::warn!(
            tenant = asked.tenant,
            held = %id,
            kind = d.kind.as_str(),
            weight = d.weight,
            "guardrail: deprovision held for an operator (scim-gateway guardrail list)"
        );
        Ok(Verdict::Held { id, new: true })
    }

    /// `tenant`'s held operations (pending and recently decided), oldest
    /// first.
    pub fn list(&self, tenant: &str) -> Result<Vec<HeldOp>, String> {
        let mut inner = self.lock();
        let store = open(&self.dir, &mut inner)?;
        Ok(store.list(tenant).into_iter().cloned().collect())
    }

    /// `tenant`'s operations still waiting for an operator.
    pub fn pending(&self, tenant: &str) -> usize {
        let mut inner = self.lock();
        open(&self.dir, &mut inner).map_or(0, |s| s.pending(tenant))
    }

    /// Marks `id` as being released by `by` (durably, before it is sent
    /// upstream); gives the operation to send. A `releasing` entry (a
    /// release that did not finish) may be released again.
    pub fn begin_release(&self, tenant: &str, id: &str, by: &str) -> Result<HeldOp, Refusal> {
        self.decide(tenant, id, by, HeldState::Releasing, |s| s.pending())
    }

    /// Records the upstream's answer to a released operation.
    pub fn finish_release(
        &self,
        tenant: &str,
        id: &str,
        by: &str,
        status: u16,
    ) -> Result<HeldOp, Refusal> {
        let mut op = self.decide(tenant, id, by, HeldState::Released, |s| {
            s == HeldState::Releasing
        })?;
        op.outcome = Some(status);
        self.write(op)
    }

    /// Puts `id` back to `held` (a release whose audit record or upstream
    /// call failed), with the upstream's status when there was one.
    pub fn hold_again(
        &self,
        tenant: &str,
        id: &str,
        status: Option<u16>,
    ) -> Result<HeldOp, Refusal> {
        let mut op = {
            let mut inner = self.lock();
            let store = open(&self.dir, &mut inner).map_err(Refusal::Store)?;
            store.get(tenant, id).cloned().ok_or(Refusal::NotFound)?
        };
        op.state = HeldState::Held;
        op.outcome = status;
        op.decided_by = None;
        op.decided_at = None;
        op.decided_epoch = None;
        self.write(op)
    }

    /// Drops `id`: never sent; the IdP's retries get 403.
    pub fn drop_op(&self, tenant: &str, id: &str, by: &str) -> Result<HeldOp, Refusal> {
        self.decide(tenant, id, by, HeldState::Dropped, |s| s.pending())
    }

    fn decide(
        &self,
        tenant: &str,
        id: &str,
        by: &str,
        to: HeldState,
        allowed: impl Fn(HeldState) -> bool,
    ) -> Result<HeldOp, Refusal> {
        if !valid_id(id) {
            return Err(Refusal::NotFound);
        }
        let mut op = {
            let mut inner = self.lock();
            let store = open(&self.dir, &mut inner).map_err(Refusal::Store)?;
            store.get(tenant, id).cloned().ok_or(Refusal::NotFound)?
        };
        if !allowed(op.state) {
            return Err(Refusal::Decided(op.state));
        }
        op.state = to;
        op.decided_by = Some(by.to_string());
        op.decided_at = Some(DateTime::now().to_rfc3339());
        op.decided_epoch = Some(held::epoch(SystemTime::now()));
        self.write(op)
    }

    /// Writes `op` durably and keeps it (admin actions: rare, so written
    /// under the lock, which also orders two operators' actions).
    fn write(&self, op: HeldOp) -> Result<HeldOp, Refusal> {
        let mut inner = self.lock();
        let store = open(&self.dir, &mut inner).map_err(Refusal::Store)?;
        store
            .put(op.clone())
            .map_err(|e| Refusal::Store(e.to_string()))?;
        gauge_pending(&op.tenant, store.pending(&op.tenant));
        Ok(op)
    }
}

/// The store, opened on first use.
fn open<'a>(dir: &Option<PathBuf>, inner: &'a mut Inner) -> Result<&'a mut HeldStore, String> {
    ensure_open(dir, &mut inner.store)
}

fn ensure_open<'a>(
    dir: &Option<PathBuf>,
    slot: &'a mut Option<HeldStore>,
) -> Result<&'a mut HeldStore, String> {
    if slot.is_none() {
        let dir = dir
            .as_deref()
            .ok_or("the guardrail needs the audit journal's directory")?;
        let store = HeldStore::open(dir)
            .map_err(|e| format!("the guardrail's store {}: {e}", dir.display()))?;
        *slot = Some(store);
    }
    slot.as_mut()
        .ok_or_else(|| "the guardrail's store did not open".to_string())
}

fn gauge_pending(tenant: &str, n: usize) {
    metrics::gauge!(names::GUARDRAIL_PENDING, "tenant" => tenant.to_string()).set(n as f64);
}
