//! Hot reload of the files a config references (here a mapping table),
//! and of a Kubernetes ConfigMap's symlink swap (`..data` renamed over),
//! by content; a broken referenced file keeps the old config.
use crate::support::audited::temp_dir;
use crate::support::gateway::token_for;
use crate::support::process::GatewayProcess;
use scim_gateway::authn::static_token::hash_token_hex;
use scim_gateway::config::ConfigHandle;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAPPING: &str = include_str!("../../config/mappings/saas-app.toml");

fn config(extra_tenant: bool) -> String {
    let tenant = |id: &str| {
        format!(
            "[[tenants]]\nid = \"{id}\"\nupstream = \"store\"\n[[tenants.tokens]]\nname = \"t\"\nhash = \"{}\"\n[tenants.schema]\nmapping = \"app.toml\"\n",
            hash_token_hex(&token_for(id))
        )
    };
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nplaintext = true\ndrain_delay = \"0s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[audit]\nenabled = false\n[upstreams.store]\nkind = \"builtin\"\n{}{}",
        tenant("acme"),
        if extra_tenant { tenant("globex") } else { String::new() }
    )
}

/// A mapping table that differs by its description.
fn mapping(n: usize) -> String {
    MAPPING.replacen("description = \"", &format!("description = \"v{n} "), 1)
}

/// Watches `handle` until `stop` is sent.
fn watch(handle: &Arc<ConfigHandle>) -> tokio::sync::oneshot::Sender<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(handle.clone().watch(async {
        let _ = rx.await;
    }));
    tx
}

/// Does `change(n)` (each time a different content) until a reload
/// succeeds: the watcher starts in a task of its own, and a change made
/// before it watches is not an event. Only `change` touches the files.
async fn until_reloaded(handle: &ConfigHandle, mut change: impl FnMut(usize)) {
    let before = handle.reload_outcomes().0;
    let start = Instant::now();
    for n in 1.. {
        change(n);
        let round = Instant::now();
        while round.elapsed() < Duration::from_millis(1500) {
            if handle.reload_outcomes().0 > before {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no reload");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_mapping_table_reloads() {
    let dir = temp_dir("reload-mapping");
    std::fs::write(dir.join("app.toml"), mapping(0)).unwrap();
    std::fs::write(dir.join("gateway.toml"), config(false)).unwrap();
    let handle = Arc::new(ConfigHandle::new(&dir.join("gateway.toml")).unwrap());
    let stop = watch(&handle);
    until_reloaded(&handle, |n| {
        std::fs::write(dir.join("app.toml"), mapping(n)).unwrap();
    })
    .await;
    assert_eq!(handle.reload_outcomes().1, 0, "no failed reload");
    let _ = stop.send(());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The kubelet's update of a ConfigMap volume: a new `..<timestamp>`
/// directory, a `..data_tmp` symlink to it renamed over `..data`, the old
/// directory removed. The visible names are symlinks through `..data`.
fn configmap_version(dir: &Path, n: usize, gateway: &str, app: &str) {
    let version = format!("..2026_{n:04}");
    std::fs::create_dir_all(dir.join(&version)).unwrap();
    std::fs::write(dir.join(&version).join("gateway.toml"), gateway).unwrap();
    std::fs::write(dir.join(&version).join("app.toml"), app).unwrap();
    let old = std::fs::read_link(dir.join("..data")).ok();
    std::os::unix::fs::symlink(&version, dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    if let Some(old) = old {
        std::fs::remove_dir_all(dir.join(old)).unwrap();
    }
    for name in ["gateway.toml", "app.toml"] {
        if std::fs::symlink_metadata(dir.join(name)).is_err() {
            std::os::unix::fs::symlink(format!("..data/{name}"), dir.join(name)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configmap_symlink_swap_reloads_the_config_and_its_files() {
    let dir = temp_dir("reload-configmap");
    configmap_version(&dir, 0, &config(false), &mapping(0));
    let path = dir.join("gateway.toml");
    let handle = Arc::new(ConfigHandle::new(&path).unwrap());
    assert!(handle.load().tenant("globex").is_none());
    let stop = watch(&handle);

    // The main config changes: a second tenant.
    until_reloaded(&handle, |n| {
        let text = format!("{}# version {n}\n", config(true));
        configmap_version(&dir, n, &text, &mapping(0));
    })
    .await;
    assert!(
        handle.load().tenant("globex").is_some(),
        "the swapped-in config is live"
    );

    // Only the referenced mapping table changes, through the same swap.
    until_reloaded(&handle, |n| {
        configmap_version(&dir, 100 + n, &config(true), &mapping(n));
    })
    .await;
    assert_eq!(handle.reload_outcomes().1, 0, "no failed reload");
    let _ = stop.send(());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_referenced_file_keeps_the_old_config_and_is_logged() {
    let dir = temp_dir("reload-broken");
    std::fs::write(dir.join("app.toml"), mapping(0)).unwrap();
    std::fs::write(dir.join("gateway.toml"), config(false)).unwrap();
    let gw = tokio::task::block_in_place(|| GatewayProcess::spawn(&dir.join("gateway.toml")));
    let users = format!("http://{}/tenants/acme/scim/v2/Users", gw.public);
    let get = || async {
        reqwest::Client::new()
            .get(&users)
            .bearer_auth(token_for("acme"))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(get().await, 200);

    // Broken until the refusal is logged (see `until_reloaded` for why
    // more than once).
    let start = Instant::now();
    for n in 0.. {
        std::fs::write(dir.join("app.toml"), format!("broken {n} [")).unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        if gw.log_count("config reload refused") > 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no refusal logged:\n{}",
            gw.log_tail()
        );
    }
    let refusal = gw.log_lines("config reload refused").join("\n");
    assert!(
        refusal.contains("mapping"),
        "the problem names the key: {refusal}"
    );
    assert_eq!(get().await, 200, "the old config still serves");
    let _ = std::fs::remove_dir_all(&dir);
}
