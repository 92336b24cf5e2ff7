//! Which files a reload depends on, and whether any of them changed: the
//! config file and every file it references (mapping tables, schema
//! directories, certificates and keys, CA bundles, CRLs, `*_file`
//! secrets), symlinks followed.
//!
//! A change is decided by content, not by which name an event carried:
//! every event in a watched directory leads to a re-read of the
//! fingerprints (a SHA-256 of each file's bytes, read through its
//! symlinks), and only a different fingerprint reloads. That is what makes
//! a Kubernetes ConfigMap or Secret update work: the kubelet writes a new
//! timestamped directory and renames the `..data` symlink over the old
//! one, so the only event names `..data`, never `gateway.toml`, while
//! `gateway.toml -> ..data/gateway.toml` now reads differently. It also
//! keeps editor swap files and unrelated neighbours from reloading.
//!
//! Which files are referenced is read from the raw TOML by key name, not
//! from the compiled snapshot: every string under a key ending in `_file`,
//! every element under one ending in `_files` (or `_file`: a webhook's
//! `secret_file` is a list), `mapping` and `schemas_dir`
//! (relative to the config's directory, as the compile step resolves
//! them). A key added later with such a name is watched without a change
//! here.
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The content of one watched path: `None` when it cannot be read.
type Fingerprint = Option<[u8; 32]>;

/// The watched paths and their fingerprints as last seen.
#[derive(Debug, Default)]
pub(super) struct Watched {
    seen: BTreeMap<PathBuf, Fingerprint>,
}

impl Watched {
    /// The config at `config` and what it references, fingerprinted now.
    pub(super) fn new(config: &Path) -> Watched {
        let mut w = Watched::default();
        w.refresh(config);
        w
    }

    /// Re-reads the referenced paths (the config may name other files
    /// now) and their fingerprints; `true` when anything differs from the
    /// last time. A config that does not parse keeps the previous list of
    /// referenced files, so their changes are still seen.
    pub(super) fn refresh(&mut self, config: &Path) -> bool {
        let paths = referenced(config).unwrap_or_else(|| {
            let mut old: BTreeSet<PathBuf> = self.seen.keys().cloned().collect();
            old.insert(config.to_path_buf());
            old
        });
        let now: BTreeMap<PathBuf, Fingerprint> = paths
            .into_iter()
            .map(|p| (p.clone(), fingerprint(&p)))
            .collect();
        let changed = now != self.seen;
        self.seen = now;
        changed
    }

    /// The directories to watch: each path's own directory, the directory
    /// its symlinks lead to, and a watched directory itself (its files).
    pub(super) fn directories(&self) -> BTreeSet<PathBuf> {
        let mut dirs = BTreeSet::new();
        for path in self.seen.keys() {
            let real = std::fs::canonicalize(path).ok();
            for p in std::iter::once(path.as_path()).chain(real.as_deref()) {
                if p.is_dir() {
                    dirs.insert(p.to_path_buf());
                }
                if let Some(parent) = p.parent() {
                    let parent = if parent.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        parent
                    };
                    dirs.insert(parent.to_path_buf());
                }
            }
        }
        dirs
    }
}

/// The config file and every path it references; `None` when the file
/// cannot be read or parsed.
fn referenced(config: &Path) -> Option<BTreeSet<PathBuf>> {
    let text = std::fs::read_to_string(config).ok()?;
    let value: toml::Table = toml::from_str(&text).ok()?;
    let base = config.parent().unwrap_or(Path::new(""));
    let mut found = BTreeSet::from([config.to_path_buf()]);
    collect(&toml::Value::Table(value), base, &mut found);
    Some(found)
}

fn collect(value: &toml::Value, base: &Path, found: &mut BTreeSet<PathBuf>) {
    let add = |found: &mut BTreeSet<PathBuf>, s: &str| {
        if !s.is_empty() {
            found.insert(base.join(s));
        }
    };
    match value {
        toml::Value::Table(table) => {
            for (key, v) in table {
                match v {
                    toml::Value::String(s) if names_a_path(key) => add(found, s),
                    // `ca_files`, `crl_files`; a webhook's `secret_file` is a list too.
                    toml::Value::Array(items) if key.ends_with("_files") || names_a_path(key) => {
                        for s in items.iter().filter_map(toml::Value::as_str) {
                            add(found, s);
                        }
                    }
                    _ => collect(v, base, found),
                }
            }
        }
        toml::Value::Array(items) => {
            for v in items {
                collect(v, base, found);
            }
        }
        _ => {}
    }
}

/// Keys whose string value is a file (or directory) the compile step reads.
fn names_a_path(key: &str) -> bool {
    key.ends_with("_file") || key == "mapping" || key == "schemas_dir"
}

/// A file's bytes, or a directory's file names and bytes (one level, in
/// name order), hashed; `None` when unreadable.
fn fingerprint(path: &Path) -> Fingerprint {
    let mut hash = Sha256::new();
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for entry in entries {
            hash.update(entry.file_name()?.as_encoded_bytes());
            hash.update([0]);
            hash.update(std::fs::read(&entry).ok()?);
            hash.update([0]);
        }
    } else {
        hash.update(std::fs::read(path).ok()?);
    }
    Some(hash.finalize().into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_referenced_file_is_found_by_its_key() {
        let dir = std::env::temp_dir().join(format!("scimgw-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("gateway.toml");
        std::fs::write(
            &config,
            r#"
[server.tls]
cert_file = "tls/server.crt"
key_file = "/etc/keys/server.key"
[upstreams.hr.auth]
token_file = "secrets/hr-token"
[[tenants]]
id = "acme"
[tenants.schema]
mapping = "mappings/hr.toml"
schemas_dir = "schemas"
[tenants.mtls]
ca_files = ["ca/a.pem", "ca/b.pem"]
crl_files = ["ca/a.crl"]
[[tenants.webhooks]]
name = "hr"
url = "https://hooks.example/scim"
secret_file = ["secrets/whsec-old", "secrets/whsec-new"]
[audit]
dir = "audit"
"#,
        )
        .unwrap();
        let found = referenced(&config).unwrap();
        let want: BTreeSet<PathBuf> = [
            config.clone(),
            dir.join("tls/server.crt"),
            PathBuf::from("/etc/keys/server.key"),
            dir.join("secrets/hr-token"),
            dir.join("mappings/hr.toml"),
            dir.join("schemas"),
            dir.join("ca/a.pem"),
            dir.join("ca/b.pem"),
            dir.join("ca/a.crl"),
            dir.join("secrets/whsec-old"),
            dir.join("secrets/whsec-new"),
        ]
        .into_iter()
        .collect();
        assert_eq!(found, want, "the audit dir is output, not input");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_a_change_of_content_counts() {
        let dir = std::env::temp_dir().join(format!("scimgw-watch-fp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("gateway.toml");
        std::fs::write(
            &config,
            "[[tenants]]\nid = \"a\"\n[tenants.schema]\nmapping = \"m.toml\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("m.toml"), "one").unwrap();
        let mut w = Watched::new(&config);
        assert!(!w.refresh(&config), "nothing changed");
        std::fs::write(dir.join("m.toml"), "one").unwrap();
        assert!(!w.refresh(&config), "the same bytes written again");
        std::fs::write(dir.join("unrelated.txt"), "x").unwrap();
        assert!(!w.refresh(&config), "a neighbour is not watched");
        std::fs::write(dir.join("m.toml"), "two").unwrap();
        assert!(w.refresh(&config), "the mapping table changed");
        std::fs::remove_file(dir.join("m.toml")).unwrap();
        assert!(w.refresh(&config), "the mapping table went away");
        assert!(w.directories().contains(&dir));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
