//! The live configuration: one [`Snapshot`] behind an `ArcSwap`, loaded
//! once per request; replaced whole on reload (SIGHUP, or a change of the
//! file or of a file it references: [`super::watch`]), or kept when the
//! new file does not compile.
//!
//! Listener addresses and TLS settings of already-open connections are not
//! re-bound: a changed `listen` needs a restart (logged), while a changed
//! certificate applies to new connections.
use super::compile::load;
use super::errors::ConfigErrors;
use super::watch::Watched;
use crate::snapshot::Snapshot;
use crate::telemetry::emit::ConfigReloaded;
use arc_swap::ArcSwap;
use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long file events are collected before one reload (editors write a
/// file in several steps).
const DEBOUNCE: Duration = Duration::from_millis(200);

/// The current configuration and how to renew it.
#[derive(Debug)]
pub struct ConfigHandle {
    path: PathBuf,
    current: ArcSwap<Snapshot>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    /// The problems of the last refused reload and when (cleared by a
    /// successful one), for the admin API.
    last_error: std::sync::Mutex<Option<ReloadError>>,
}

/// A refused reload, as the admin API shows it.
#[derive(Debug, Clone)]
pub struct ReloadError {
    pub at: std::time::SystemTime,
    pub problems: Vec<String>,
}

impl ConfigHandle {
    /// Loads and compiles `path`.
    pub fn new(path: &Path) -> Result<ConfigHandle, ConfigErrors> {
        let snapshot = load(path, None)?;
        Ok(ConfigHandle::from_snapshot(path, snapshot))
    }

    /// Wraps an already compiled snapshot.
    pub fn from_snapshot(path: &Path, snapshot: Snapshot) -> ConfigHandle {
        crate::upstream::balance::health::start_all(snapshot.upstreams.values());
        ConfigHandle {
            path: path.to_path_buf(),
            current: ArcSwap::from_pointee(snapshot),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            last_error: std::sync::Mutex::new(None),
        }
    }

    /// The current snapshot (cheap: load it once per request).
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The config file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Recompiles the file; swaps on success, keeps the current snapshot on
    /// failure.
    pub fn reload(&self) -> Result<(), ConfigErrors> {
        // systemd (`Type=notify`) shows the unit as reloading until READY=1.
        crate::telemetry::sd_notify::notify("RELOADING=1");
        let outcome = self.reload_now();
        crate::telemetry::sd_notify::notify("READY=1");
        outcome
    }

    fn reload_now(&self) -> Result<(), ConfigErrors> {
        let current = self.load();
        match load(&self.path, Some(&current)) {
            Ok(next) => {
                if next.server.listen != current.server.listen
                    || next.server.reuse_port != current.server.reuse_port
                    || next.admin != current.admin
                {
                    tracing::warn!(
                        "listen addresses changed in the config; they take effect after a restart"
                    );
                }
                if next.server.connections != current.server.connections
                    || next.server.cache_max_bytes != current.server.cache_max_bytes
                {
                    tracing::warn!(
                        "connection caps or server.cache_max_bytes changed in the config; they take effect after a restart"
                    );
                }
                if next.audit != current.audit {
                    tracing::warn!(
                        "[audit] changed in the config; the audit log keeps its settings until a restart"
                    );
                }
                if next.traces != current.traces {
                    tracing::warn!(
                        "[telemetry.traces] changed in the config; traces keep their settings until a restart"
                    );
                }
                for warning in &next.warnings {
                    tracing::warn!(warning = %warning, "the reloaded config works, but note");
                }
                crate::upstream::balance::health::start_all(next.upstreams.values());
                let old = self.current.swap(Arc::new(next));
                free_off_the_request_path(old);
                self.reloads_ok.fetch_add(1, Ordering::Relaxed);
                *self.last_error_slot() = None;
                ConfigReloaded {
                    ok: true,
                    problems: &[],
                }
                .emit();
                Ok(())
            }
            Err(e) => {
                self.reloads_failed.fetch_add(1, Ordering::Relaxed);
                *self.last_error_slot() = Some(ReloadError {
                    at: std::time::SystemTime::now(),
                    problems: e.lines(),
                });
                ConfigReloaded {
                    ok: false,
                    problems: &e.lines(),
                }
                .emit();
                Err(e)
            }
        }
    }

    /// `(ok, failed)` reload counts.
    pub fn reload_outcomes(&self) -> (u64, u64) {
        (
            self.reloads_ok.load(Ordering::Relaxed),
            self.reloads_failed.load(Ordering::Relaxed),
        )
    }

    /// The last refused reload since the last successful one, if any.
    pub fn last_reload_error(&self) -> Option<ReloadError> {
        self.last_error_slot().clone()
    }

    fn last_error_slot(&self) -> std::sync::MutexGuard<'_, Option<ReloadError>> {
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reloads on SIGHUP and whenever the config file or a file it
    /// references changes (by content, symlinks followed: see
    /// [`super::watch`]), until `shutdown` completes.
    ///
    /// SIGHUP is taken over when this is called, not when the future first
    /// runs: `run` calls it before it tells systemd `READY=1`, and a SIGHUP
    /// before the handler exists would end the process (its default).
    /// Call it within the Tokio runtime.
    pub fn watch(self: Arc<Self>, shutdown: impl Future<Output = ()>) -> impl Future<Output = ()> {
        #[cfg(unix)]
        let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        async move {
            #[cfg(unix)]
            self.watch_with(hup.ok(), shutdown).await;
            #[cfg(not(unix))]
            self.watch_with(shutdown).await;
        }
    }

    async fn watch_with(
        self: Arc<Self>,
        #[cfg(unix)] hup: Option<tokio::signal::unix::Signal>,
        shutdown: impl Future<Output = ()>,
    ) {
        // `true`: a file event (debounced: an editor may still be
        // writing); `false`: SIGHUP (the operator asked: at once).
        let (tx, mut rx) = tokio::sync::mpsc::channel::<bool>(16);
        #[cfg(unix)]
        let sighup = {
            let tx = tx.clone();
            tokio::spawn(async move {
                let Some(mut hup) = hup else {
                    return;
                };
                while hup.recv().await.is_some() {
                    let _ = tx.try_send(false);
                }
            })
        };
        // Reading and hashing every referenced file is blocking work.
        let path = self.path.clone();
        let mut watched = tokio::task::spawn_blocking(move || Watched::new(&path))
            .await
            .unwrap_or_default();
        let mut dirs = match DirWatcher::new(tx.clone()) {
            Ok(mut w) => {
                w.sync(&watched.directories());
                Some(w)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the config files; reload with SIGHUP");
                None
            }
        };
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                got = rx.recv() => {
                    let Some(file_event) = got else {
                        break;
                    };
                    // A file event: let the writer finish. Then decide once
                    // for everything that arrived meanwhile.
                    if file_event {
                        tokio::time::sleep(DEBOUNCE).await;
                    }
                    let mut asked = !file_event;
                    while let Ok(e) = rx.try_recv() {
                        asked |= !e;
                    }
                    let handle = self.clone();
                    let checked = tokio::task::spawn_blocking(move || {
                        // SIGHUP reloads in any case; a file event only when
                        // a watched file reads differently.
                        if watched.refresh(&handle.path) || asked {
                            let _ = handle.reload();
                        }
                        watched
                    })
                    .await;
                    let Ok(checked) = checked else {
                        break;
                    };
                    watched = checked;
                    // The files may live elsewhere now (a new mapping
                    // table, a ConfigMap's new `..data` target).
                    if let Some(d) = dirs.as_mut() {
                        d.sync(&watched.directories());
                    }
                }
            }
        }
        #[cfg(unix)]
        sighup.abort();
        drop(dirs);
    }
}

/// Frees a replaced snapshot on a thread of its own once the requests that
/// still hold it are done, not on whichever request thread lets go last:
/// dropping thousands of tenants takes milliseconds that no request should
/// wait for. Gives up waiting (and lets the last holder free it) after
/// [`REAP_WITHIN`]: something long-lived may hold it.
fn free_off_the_request_path(old: Arc<Snapshot>) {
    let reaper = std::thread::Builder::new()
        .name("snapshot-reaper".into())
        .spawn(move || {
            let deadline = std::time::Instant::now() + REAP_WITHIN;
            while Arc::strong_count(&old) > 1 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            drop(old);
        });
    if let Err(e) = reaper {
        tracing::debug!(error = %e, "no thread to free the old config on");
    }
}

/// How long [`free_off_the_request_path`] waits for the last request.
const REAP_WITHIN: Duration = Duration::from_secs(120);

/// Watches directories (not recursively) and signals `tx` on any event
/// but a read in them; [`Watched`] decides whether it mattered. Directories
/// are watched, not files, because editors and the kubelet replace files
/// by renaming.
struct DirWatcher {
    watcher: notify::RecommendedWatcher,
    watching: BTreeSet<PathBuf>,
}

impl DirWatcher {
    fn new(tx: tokio::sync::mpsc::Sender<bool>) -> notify::Result<DirWatcher> {
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            // Reads are our own fingerprinting, among others: never a change.
            if let Ok(event) = event {
                if !matches!(event.kind, notify::EventKind::Access(_)) {
                    let _ = tx.try_send(true);
                }
            }
        })?;
        Ok(DirWatcher {
            watcher,
            watching: BTreeSet::new(),
        })
    }

    /// Watches exactly `want`. A directory that cannot be watched (not yet
    /// there) is tried again at the next sync.
    fn sync(&mut self, want: &BTreeSet<PathBuf>) {
        use notify::{RecursiveMode, Watcher};
        for gone in self.watching.difference(want) {
            let _ = self.watcher.unwatch(gone);
        }
        self.watching.retain(|d| want.contains(d));
        for dir in want {
            if self.watching.contains(dir) {
                continue;
            }
            match self.watcher.watch(dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watching.insert(dir.clone());
                }
                Err(e) => {
                    tracing::debug!(dir = %dir.display(), error = %e, "cannot watch a config directory (yet)");
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
plaintext = true
[upstreams.store]
kind = "builtin"
[[tenants]]
id = "acme"
upstream = "store"
[[tenants.tokens]]
name = "t"
hash = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
"#;

    async fn wait_for(what: impl Fn() -> bool) -> bool {
        for _ in 0..100 {
            if what() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    #[tokio::test]
    async fn file_changes_reload_and_bad_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("scimgw-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gateway.toml");
        std::fs::write(&path, CONFIG).unwrap();
        let handle = Arc::new(ConfigHandle::new(&path).unwrap());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let watcher = tokio::spawn(handle.clone().watch(async {
            let _ = stop_rx.await;
        }));
        tokio::time::sleep(Duration::from_millis(200)).await;

        let with_second = format!("{CONFIG}\n[[tenants]]\nid = \"globex\"\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"t\"\nhash = \"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"\n");
        let tmp = dir.join("gateway.toml.tmp");
        std::fs::write(&tmp, &with_second).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert!(
            wait_for(|| handle.load().tenant("globex").is_some()).await,
            "reload on change"
        );

        std::fs::write(&path, "this is not toml [").unwrap();
        assert!(
            wait_for(|| handle.reload_outcomes().1 >= 1).await,
            "a failed reload is counted"
        );
        assert!(
            handle.load().tenant("globex").is_some(),
            "the old snapshot stays"
        );

        let _ = stop_tx.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), watcher).await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
