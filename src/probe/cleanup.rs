//! What the probe made, and deleting it all at the end of the run, also
//! after a failure midway, the run's time limit or Ctrl-C.
use super::client::{encode, Client};
use serde_json::Value;
use std::sync::Mutex;

/// The resources the probe created (paths such as `/Users/123`), in
/// creation order, and those already deleted by a check.
#[derive(Debug, Default)]
pub(super) struct Made {
    paths: Mutex<Vec<String>>,
    deleted: Mutex<Vec<String>>,
}

impl Made {
    /// Records a resource as soon as its id is known (before any check
    /// on it can fail).
    pub(super) fn add(&self, path: String) {
        if let Ok(mut p) = self.paths.lock() {
            if !p.contains(&path) {
                p.push(path);
            }
        }
    }

    /// A check deleted it already.
    pub(super) fn deleted(&self, path: &str) {
        if let Ok(mut d) = self.deleted.lock() {
            d.push(path.to_string());
        }
    }

    fn pending(&self) -> Vec<String> {
        let deleted = self.deleted.lock().map(|d| d.clone()).unwrap_or_default();
        self.paths
            .lock()
            .map(|p| {
                p.iter()
                    .filter(|path| !deleted.contains(path))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Deletes what the probe made, newest first (a group before the users it
/// holds). With `sweep`, also lists `/Users` and `/Groups` by the prefix
/// (when the upstream filters `eq`/`sw` correctly, as checked, or after a
/// run cut short) and deletes what a lost answer kept from being recorded; a listed resource is
/// deleted only when its own name starts with the prefix, so an upstream
/// that ignores the filter loses nothing of its own. Returns what is left.
pub(super) async fn run(client: &Client, made: &Made, prefix: &str, sweep: bool) -> Vec<String> {
    let mut left = Vec::new();
    for path in made.pending().into_iter().rev() {
        let r = client.delete(&path).await;
        if !(r.ok() || r.status == 404 || client.dry_run()) {
            left.push(path);
        }
    }
    if !sweep || client.dry_run() {
        return left;
    }
    for (endpoint, attr) in [("/Groups", "displayName"), ("/Users", "userName")] {
        let filter = format!("{attr} sw \"{prefix}\"");
        let query = format!("filter={}&count=100", encode(&filter));
        let list = client.get(endpoint, Some(&query)).await;
        let resources = list
            .body
            .get("Resources")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for r in resources {
            let ours = r
                .get(attr)
                .and_then(Value::as_str)
                .is_some_and(|v| v.starts_with(prefix));
            let Some(id) = r.get("id").and_then(Value::as_str).filter(|_| ours) else {
                continue;
            };
            let path = format!("{endpoint}/{id}");
            let d = client.delete(&path).await;
            if !(d.ok() || d.status == 404 || left.contains(&path)) {
                left.push(path);
            }
        }
    }
    left
}
