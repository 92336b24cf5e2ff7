//! Held operations, on disk: one JSON file per operation under
//! `<audit dir>/guardrail/<tenant>/`, written whole (temporary file,
//! fsync, rename, directory fsync) with mode 0600, because it holds the
//! request's body (personal data) and must survive a crash.
//!
//! An operation's id is derived from the request (tenant, method, target,
//! body): the IdP's retries of a held request find the same entry instead
//! of adding one. States: `held` → `releasing` (written before the request
//! is sent upstream) → `released`, or `held` → `dropped`. An entry left
//! `releasing` by a crash is shown as such and may be released again
//! (a deprovision repeated is harmless at the upstream: a second DELETE
//! gets 404, a second deactivation changes nothing) or dropped; it is never
//! sent again on its own. Decided entries are kept for a day, then pruned.
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long a released or dropped entry is kept (an IdP retry of a
/// released request within it is let through uncounted).
pub(super) const KEEP_DECIDED: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Held,
    Releasing,
    Released,
    Dropped,
}

impl State {
    /// Still waiting for an operator (or for a release to finish).
    pub fn pending(self) -> bool {
        matches!(self, State::Held | State::Releasing)
    }
}

/// One held operation: the request as the gateway received it after the
/// IdP dialect (never its credentials), who asked, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldOp {
    pub id: String,
    pub tenant: String,
    pub method: String,
    /// Below the tenant's base, e.g. `/Users/2819c223`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The body (JSON text; empty for DELETE).
    #[serde(default)]
    pub body: String,
    /// What the guardrail read it as (`user_delete`, ...) and its weight.
    pub kind: String,
    pub weight: u32,
    /// How the request authenticated (`static_token`, `jwt`, ...), its
    /// subject and credential name (never a secret).
    #[serde(default)]
    pub auth_method: String,
    pub subject: String,
    pub credential: String,
    pub client: String,
    pub request_id: String,
    /// RFC 3339, UTC.
    pub held_at: String,
    /// Times the IdP sent it again while held.
    #[serde(default)]
    pub retries: u32,
    pub state: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// The upstream's status for a released operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<u16>,
    /// Seconds since the epoch of `decided_at` (for pruning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_epoch: Option<u64>,
}

/// The id of an operation: the first 128 bits of SHA-256 over its parts,
/// in hex (the same request always gets the same id).
pub fn op_id(tenant: &str, method: &str, path: &str, query: Option<&str>, body: &[u8]) -> String {
    let mut h = Sha256::new();
    for part in [tenant.as_bytes(), method.as_bytes(), path.as_bytes()] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    let q = query.unwrap_or("").as_bytes();
    h.update((q.len() as u64).to_be_bytes());
    h.update(q);
    h.update(body);
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `id` is one of ours (32 lowercase hex digits): anything else
/// (a path, `..`) is refused before it names a file.
pub fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The held operations of every tenant, in memory and on disk.
#[derive(Debug)]
pub(super) struct HeldStore {
    dir: PathBuf,
    /// By tenant, then id.
    ops: BTreeMap<String, BTreeMap<String, HeldOp>>,
    /// Each tenant's pending operations, counted as entries change: the
    /// guardrail asks at every deprovision, and a mass deactivation may
    /// hold many thousands (a count over them each time would be
    /// quadratic, under the lock).
    pending: BTreeMap<String, usize>,
}

impl HeldStore {
    /// Opens (creating) `dir` and loads every tenant's entries; prunes
    /// decided entries older than [`KEEP_DECIDED`].
    pub(super) fn open(dir: &Path) -> std::io::Result<HeldStore> {
        create_private_dir(dir)?;
        let mut ops: BTreeMap<String, BTreeMap<String, HeldOp>> = BTreeMap::new();
        let now = epoch(SystemTime::now());
        for tenant_dir in std::fs::read_dir(dir)? {
            let tenant_dir = tenant_dir?.path();
            if !tenant_dir.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&tenant_dir)? {
                let path = file?.path();
                if path.extension().is_none_or(|e| e != "json") {
                    // A temporary file left by a crash mid-write.
                    if path.extension().is_some_and(|e| e == "tmp") {
                        let _ = std::fs::remove_file(&path);
                    }
                    continue;
                }
                let text = std::fs::read(&path)?;
                let op: HeldOp = serde_json::from_slice(&text).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: {e}", path.display()),
                    )
                })?;
                let expired = !op.state.pending()
                    && op
                        .decided_epoch
                        .is_some_and(|at| now.saturating_sub(at) > KEEP_DECIDED.as_secs());
                if expired {
                    std::fs::remove_file(&path)?;
                    continue;
                }
                ops.entry(op.tenant.clone())
                    .or_default()
                    .insert(op.id.clone(), op);
            }
        }
        let pending = ops
            .iter()
            .map(|(t, m)| (t.clone(), m.values().filter(|o| o.state.pending()).count()))
            .collect();
        Ok(HeldStore {
            dir: dir.to_path_buf(),
            ops,
            pending,
        })
    }

    pub(super) fn get(&self, tenant: &str, id: &str) -> Option<&HeldOp> {
        self.ops.get(tenant)?.get(id)
    }

    pub(super) fn get_mut(&mut self, tenant: &str, id: &str) -> Option<&mut HeldOp> {
        self.ops.get_mut(tenant)?.get_mut(id)
    }

    /// The store's directory.
    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keeps `op` in memory only (its file is written by [`persist`]).
    pub(super) fn remember(&mut self, op: HeldOp) {
        let now = op.state.pending();
        let tenant = op.tenant.clone();
        let before = self
            .ops
            .entry(tenant.clone())
            .or_default()
            .insert(op.id.clone(), op)
            .is_some_and(|old| old.state.pending());
        let count = self.pending.entry(tenant).or_default();
        match (before, now) {
            (false, true) => *count += 1,
            (true, false) => *count = count.saturating_sub(1),
            _ => {}
        }
    }

    /// Forgets `id` (its file was never written).
    pub(super) fn forget(&mut self, tenant: &str, id: &str) {
        let removed = self.ops.get_mut(tenant).and_then(|m| m.remove(id));
        if removed.is_some_and(|o| o.state.pending()) {
            if let Some(count) = self.pending.get_mut(tenant) {
                *count = count.saturating_sub(1);
            }
        }
    }

    /// A tenant's entries, oldest first.
    pub(super) fn list(&self, tenant: &str) -> Vec<&HeldOp> {
        let mut list: Vec<&HeldOp> = self
            .ops
            .get(tenant)
            .into_iter()
            .flat_map(|m| m.values())
            .collect();
        list.sort_by(|a, b| a.held_at.cmp(&b.held_at).then(a.id.cmp(&b.id)));
        list
    }

    /// Every tenant that has entries.
    pub(super) fn tenants(&self) -> impl Iterator<Item = &str> {
        self.ops.keys().map(String::as_str)
    }

    /// Removes every decided entry of `tenant` (memory and files), however
    /// recent: what a full store gives up first (the decided entries only
    /// let an IdP's retry of a decided operation be recognized); gives how
    /// many went.
    pub(super) fn prune(&mut self, tenant: &str) -> usize {
        let Some(m) = self.ops.get_mut(tenant) else {
            return 0;
        };
        let old: Vec<String> = m
            .values()
            .filter(|o| !o.state.pending())
            .map(|o| o.id.clone())
            .collect();
        let Ok(dir) = tenant_dir(&self.dir, tenant) else {
            return 0;
        };
        for id in &old {
            m.remove(id);
            let _ = std::fs::remove_file(dir.join(format!("{id}.json")));
        }
        old.len()
    }

    /// A tenant's entries, pending or decided.
    pub(super) fn entries(&self, tenant: &str) -> usize {
        self.ops.get(tenant).map_or(0, BTreeMap::len)
    }

    /// A tenant's operations still waiting.
    pub(super) fn pending(&self, tenant: &str) -> usize {
        self.pending.get(tenant).copied().unwrap_or(0)
    }

    /// Writes `op` (new or changed) durably, then keeps it.
    pub(super) fn put(&mut self, op: HeldOp) -> std::io::Result<()> {
        persist(&self.dir, &op)?;
        self.remember(op);
        Ok(())
    }
}

/// Writes `op` durably under the store's directory `dir`.
pub(super) fn persist(dir: &Path, op: &HeldOp) -> std::io::Result<()> {
    if !valid_id(&op.id) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a held operation id",
        ));
    }
    let dir = tenant_dir(dir, &op.tenant)?;
    create_private_dir(&dir)?;
    let text = serde_json::to_vec_pretty(op).map_err(std::io::Error::other)?;
    write_durably(&dir, &op.id, &text)
}

/// The directory of `tenant`'s entries: a tenant name that would leave
/// the store's directory is refused.
fn tenant_dir(root: &Path, tenant: &str) -> std::io::Result<PathBuf> {
    let plain = !tenant.is_empty()
        && tenant != "."
        && tenant != ".."
        && !tenant.contains(['/', '\\', '\0']);
    if !plain {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("tenant name {tenant:?} cannot name a directory"),
        ));
    }
    Ok(root.join(tenant))
}

/// Seconds since the epoch.
pub(super) fn epoch(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// `dir/id.json` replaced whole: a crash leaves the old or the new
/// content, never a mix.
fn write_durably(dir: &Path, id: &str, text: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = dir.join(format!("{id}.tmp"));
    let dest = dir.join(format!("{id}.json"));
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &dest)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn op(tenant: &str, path: &str) -> HeldOp {
        HeldOp {
            id: op_id(tenant, "DELETE", path, None, b""),
            tenant: tenant.into(),
            method: "DELETE".into(),
            path: path.into(),
            query: None,
            body: String::new(),
            kind: "user_delete".into(),
            weight: 1,
            auth_method: "static_token".into(),
            subject: "okta".into(),
            credential: "okta-token".into(),
            client: "127.0.0.1".into(),
            request_id: "r1".into(),
            held_at: "2026-12-07T03:00:00Z".into(),
            retries: 0,
            state: State::Held,
            decided_by: None,
            decided_at: None,
            outcome: None,
            decided_epoch: None,
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("scimgw-held-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn entries_survive_a_reopen_private_and_per_tenant() {
        let dir = scratch("reopen");
        let mut store = HeldStore::open(&dir).unwrap();
        let a = op("acme", "/Users/1");
        store.put(a.clone()).unwrap();
        store.put(op("globex", "/Users/1")).unwrap();
        let mut released = op("acme", "/Users/2");
        released.state = State::Released;
        released.decided_epoch = Some(epoch(SystemTime::now()));
        store.put(released).unwrap();
        // A crash mid-write leaves a temporary file: ignored and removed.
        std::fs::write(dir.join("acme").join(format!("{}.tmp", a.id)), b"{").unwrap();
        let store = HeldStore::open(&dir).unwrap();
        assert_eq!(store.get("acme", &a.id), Some(&a));
        assert_eq!(store.pending("acme"), 1);
        assert_eq!(store.list("acme").len(), 2);
        assert_eq!(store.pending("globex"), 1);
        assert_ne!(a.id, op("globex", "/Users/1").id, "ids differ per tenant");
        let file = dir.join("acme").join(format!("{}.json", a.id));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!dir.join("acme").join(format!("{}.tmp", a.id)).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_pending_count_follows_every_change() {
        let dir = scratch("count");
        let mut store = HeldStore::open(&dir).unwrap();
        let (a, b) = (op("acme", "/Users/1"), op("acme", "/Users/2"));
        store.remember(a.clone());
        store.remember(a.clone());
        store.put(b.clone()).unwrap();
        assert_eq!(store.pending("acme"), 2);
        let mut released = b.clone();
        released.state = State::Released;
        store.put(released).unwrap();
        assert_eq!(store.pending("acme"), 1);
        store.forget("acme", &a.id);
        assert_eq!(store.pending("acme"), 0);
        assert_eq!(store.pending("globex"), 0);
        let mut again = b;
        again.state = State::Held;
        store.put(again).unwrap();
        assert_eq!(HeldStore::open(&dir).unwrap().pending("acme"), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn old_decided_entries_are_pruned_and_bad_names_refused() {
        let dir = scratch("prune");
        let mut store = HeldStore::open(&dir).unwrap();
        let mut old = op("acme", "/Users/9");
        old.state = State::Dropped;
        old.decided_epoch = Some(epoch(SystemTime::now()) - KEEP_DECIDED.as_secs() - 10);
        store.put(old.clone()).unwrap();
        let store2 = HeldStore::open(&dir).unwrap();
        assert!(store2.get("acme", &old.id).is_none());
        // At run time too (when a tenant's store is full): every decided
        // one goes, the pending stay.
        let mut store2 = store2;
        store2.remember(old.clone());
        persist(&dir, &old).unwrap();
        store2.put(op("acme", "/Users/10")).unwrap();
        assert_eq!(store2.prune("acme"), 1);
        assert_eq!(store2.entries("acme"), 1);
        assert!(!dir.join("acme").join(format!("{}.json", old.id)).exists());
        let mut store = store2;
        let mut bad = op("../etc", "/Users/1");
        assert!(store.put(bad.clone()).is_err());
        bad.tenant = "acme".into();
        bad.id = "../../x".into();
        assert!(store.put(bad).is_err());
        assert!(valid_id(&op("a", "/x").id));
        assert!(!valid_id("ABCDEF0123456789abcdef0123456789"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
