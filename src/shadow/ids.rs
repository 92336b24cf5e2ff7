//! A shadowed tenant's id map: each resource's **key** (the id its IdP
//! was answered with when the resource was created, the one the IdP
//! keeps) and its id at each upstream where that id differs.
//!
//! Only differing ids are kept: before a cutover the primary's ids are
//! the keys, so the primary's requests translate nothing, and only the
//! shadow's ids are stored. After a cutover (the roles swapped) the
//! resources created before it are found by their key at the new
//! primary, and those created after it have the new primary's ids as
//! keys and the former primary's as their entry.
//!
//! Kept beside the audit journal (`<audit dir>/shadow/<tenant>/ids.jsonl`,
//! mode 0600): one JSON line per change, written and fsynced before the
//! map answers with it, replayed at open and compacted when the log has
//! grown to several times the map. Ids only: no attribute of a resource
//! is kept.
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The most entries a tenant's map holds (a bound on memory and disk: a
/// million resources take about 200 MB).
pub const MAX_ENTRIES: usize = 2_000_000;

/// The id map of one tenant.
#[derive(Debug, Default)]
pub struct IdMap {
    /// `(kind, key)` → `(upstream, id)` where the id differs from the key.
    by_key: HashMap<(String, String), Vec<(String, String)>>,
    /// `(upstream, kind, id)` → key.
    by_side: HashMap<(String, String, String), String>,
    /// Entries per upstream (a side without any translates nothing).
    per_upstream: HashMap<String, usize>,
    log: Option<Log>,
}

#[derive(Debug)]
struct Log {
    path: PathBuf,
    file: File,
    lines: usize,
}

/// One line of the log.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    /// The resource kind: the endpoint, lower case (`users`).
    t: String,
    /// The key.
    k: String,
    /// The upstream and its id (absent: the entry is removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    u: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    i: Option<String>,
}

/// The kind of a resource endpoint (`Users` → `users`).
pub fn kind(endpoint: &str) -> String {
    endpoint.to_ascii_lowercase()
}

impl IdMap {
    /// A map kept in memory only (tests).
    pub fn in_memory() -> IdMap {
        IdMap::default()
    }

    /// The map kept in `dir` (created 0700), replayed from its log.
    pub fn open(dir: &Path) -> std::io::Result<IdMap> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let path = dir.join("ids.jsonl");
        let mut map = IdMap::default();
        let mut lines = 0usize;
        if let Ok(f) = File::open(&path) {
            for line in BufReader::new(f).lines() {
                let line = line?;
                lines += 1;
                // A torn last line (a crash mid-write) is skipped: its
                // change was never acknowledged.
                let Ok(l) = serde_json::from_str::<Line>(&line) else {
                    continue;
                };
                match (l.u, l.i) {
                    (Some(u), Some(i)) => map.put_mem(&l.t, &l.k, &u, &i),
                    _ => map.remove_mem(&l.t, &l.k),
                }
            }
        }
        let entries = map.len();
        let file = if lines > 1024 && lines > 2 * entries {
            map.compact(&path)?
        } else {
            open_append(&path)?
        };
        let lines = if lines > 1024 && lines > 2 * entries {
            entries
        } else {
            lines
        };
        map.log = Some(Log { path, file, lines });
        Ok(map)
    }

    /// `(kind, key)` pairs with an entry.
    pub fn len(&self) -> usize {
        self.by_key.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Whether any entry has an id at `upstream` (else translating for it
    /// changes nothing).
    pub fn has_upstream(&self, upstream: &str) -> bool {
        self.per_upstream.get(upstream).is_some_and(|n| *n > 0)
    }

    /// The id at `upstream` of the resource whose key is `key`: its entry,
    /// else the key itself.
    pub fn to_upstream<'a>(&'a self, kind: &str, key: &'a str, upstream: &str) -> &'a str {
        self.by_key
            .get(&(kind.to_string(), key.to_string()))
            .and_then(|ids| ids.iter().find(|(u, _)| u == upstream))
            .map_or(key, |(_, id)| id.as_str())
    }

    /// Whether `upstream` has a known id for `key` (an entry, or none
    /// needed because `upstream` holds the key itself is not known here).
    pub fn entry(&self, kind: &str, key: &str, upstream: &str) -> Option<&str> {
        self.by_key
            .get(&(kind.to_string(), key.to_string()))
            .and_then(|ids| ids.iter().find(|(u, _)| u == upstream))
            .map(|(_, id)| id.as_str())
    }

    /// The key of the resource `upstream` calls `id`: its entry, else the
    /// id itself.
    pub fn to_key<'a>(&'a self, kind: &str, upstream: &str, id: &'a str) -> &'a str {
        if !self.has_upstream(upstream) {
            return id;
        }
        self.by_side
            .get(&(upstream.to_string(), kind.to_string(), id.to_string()))
            .map_or(id, String::as_str)
    }

    /// Whether `upstream`'s `id` is some resource's id there (an entry).
    pub fn knows_side(&self, kind: &str, upstream: &str, id: &str) -> bool {
        self.by_side
            .contains_key(&(upstream.to_string(), kind.to_string(), id.to_string()))
    }

    /// Records that `upstream` calls the resource keyed `key` `id`
    /// (nothing when they are equal), durably. `Err` when full or the log
    /// cannot be written (the map is then unchanged).
    pub fn put(&mut self, kind: &str, key: &str, upstream: &str, id: &str) -> std::io::Result<()> {
        if id == key {
            if self.entry(kind, key, upstream).is_some() {
                return self.remove_side(kind, key, upstream);
            }
            return Ok(());
        }
        if self.entry(kind, key, upstream) == Some(id) {
            return Ok(());
        }
        if self.len() >= MAX_ENTRIES {
            return Err(std::io::Error::other("the id map is full"));
        }
        self.append(&Line {
            t: kind.to_string(),
            k: key.to_string(),
            u: Some(upstream.to_string()),
            i: Some(id.to_string()),
        })?;
        self.put_mem(kind, key, upstream, id);
        Ok(())
    }

    /// Forgets the resource keyed `key` (deleted), durably.
    pub fn remove(&mut self, kind: &str, key: &str) -> std::io::Result<()> {
        if !self
            .by_key
            .contains_key(&(kind.to_string(), key.to_string()))
        {
            return Ok(());
        }
        self.append(&Line {
            t: kind.to_string(),
            k: key.to_string(),
            u: None,
            i: None,
        })?;
        self.remove_mem(kind, key);
        Ok(())
    }

    fn remove_side(&mut self, kind: &str, key: &str, upstream: &str) -> std::io::Result<()> {
        // Rewritten as: the entry removed, then its other sides again.
        let others: Vec<(String, String)> = self
            .by_key
            .get(&(kind.to_string(), key.to_string()))
            .map(|ids| ids.iter().filter(|(u, _)| u != upstream).cloned().collect())
            .unwrap_or_default();
        self.remove(kind, key)?;
        for (u, id) in others {
            self.put(kind, key, &u, &id)?;
        }
        Ok(())
    }

    fn put_mem(&mut self, kind: &str, key: &str, upstream: &str, id: &str) {
        let ids = self
            .by_key
            .entry((kind.to_string(), key.to_string()))
            .or_default();
        if let Some(slot) = ids.iter_mut().find(|(u, _)| u == upstream) {
            self.by_side
                .remove(&(upstream.to_string(), kind.to_string(), slot.1.clone()));
            slot.1 = id.to_string();
        } else {
            ids.push((upstream.to_string(), id.to_string()));
            *self.per_upstream.entry(upstream.to_string()).or_default() += 1;
        }
        self.by_side.insert(
            (upstream.to_string(), kind.to_string(), id.to_string()),
            key.to_string(),
        );
    }

    fn remove_mem(&mut self, kind: &str, key: &str) {
        if let Some(ids) = self.by_key.remove(&(kind.to_string(), key.to_string())) {
            for (u, id) in ids {
                self.by_side.remove(&(u.clone(), kind.to_string(), id));
                if let Some(n) = self.per_upstream.get_mut(&u) {
                    *n = n.saturating_sub(1);
                }
            }
        }
    }

    fn append(&mut self, line: &Line) -> std::io::Result<()> {
        let Some(log) = &mut self.log else {
            return Ok(());
        };
        let mut text = serde_json::to_vec(line).map_err(std::io::Error::other)?;
        text.push(b'\n');
        log.file.write_all(&text)?;
        log.file.sync_data()?;
        log.lines += 1;
        Ok(())
    }

    /// Writes the map whole to a new log and puts it in place.
    fn compact(&self, path: &Path) -> std::io::Result<File> {
        let tmp = path.with_extension("jsonl.tmp");
        {
            let mut f = create_private(&tmp)?;
            let mut out = Vec::new();
            for ((t, k), ids) in &self.by_key {
                for (u, i) in ids {
                    serde_json::to_writer(
                        &mut out,
                        &Line {
                            t: t.clone(),
                            k: k.clone(),
                            u: Some(u.clone()),
                            i: Some(i.clone()),
                        },
                    )
                    .map_err(std::io::Error::other)?;
                    out.push(b'\n');
                }
            }
            f.write_all(&out)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        open_append(path)
    }

    /// Where the map is kept (`None`: in memory).
    pub fn path(&self) -> Option<&Path> {
        self.log.as_ref().map(|l| l.path.as_path())
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

fn create_private(path: &Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).write(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("scimgw-ids-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn ids_translate_both_ways_and_survive_a_reopen() {
        let dir = scratch("reopen");
        let mut map = IdMap::open(&dir).unwrap();
        assert_eq!(map.to_upstream("users", "p1", "new"), "p1");
        map.put("users", "p1", "new", "s1").unwrap();
        map.put("users", "p2", "new", "p2").unwrap(); // equal: nothing kept
        map.put("groups", "g1", "new", "h1").unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(map.to_upstream("users", "p1", "new"), "s1");
        assert_eq!(map.to_upstream("users", "p1", "old"), "p1");
        assert_eq!(map.to_key("users", "new", "s1"), "p1");
        assert_eq!(map.to_key("users", "old", "s1"), "s1");
        assert_eq!(map.to_key("groups", "new", "s1"), "s1", "kinds are apart");
        assert!(map.has_upstream("new") && !map.has_upstream("old"));
        map.remove("groups", "g1").unwrap();
        drop(map);
        let map = IdMap::open(&dir).unwrap();
        assert_eq!(map.len(), 1);
        assert_eq!(map.to_upstream("users", "p1", "new"), "s1");
        assert_eq!(map.to_key("groups", "new", "h1"), "h1");
    }

    #[test]
    fn a_torn_line_is_skipped_and_a_long_log_compacted() {
        let dir = scratch("torn");
        {
            let mut map = IdMap::open(&dir).unwrap();
            for i in 0..1500 {
                map.put("users", "k", "new", &format!("s{i}")).unwrap();
            }
        }
        let path = dir.join("ids.jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"t\":\"users\",\"k\":\"x\",\"u\"").unwrap();
        drop(f);
        let map = IdMap::open(&dir).unwrap();
        assert_eq!(map.to_upstream("users", "k", "new"), "s1499");
        assert_eq!(map.to_key("users", "new", "s3"), "s3", "old ids forgotten");
        assert_eq!(map.len(), 1);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "compacted");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
