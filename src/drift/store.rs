//! One tenant's digests: an append-only log `<audit dir>/drift/<tenant>.log`
//! (one JSON line per write the gateway made, 0600) and its map in memory.
//!
//! Why a log and not a file rewritten per write: a write costs one short
//! write(2) under a mutex (no fsync, no rename), the map answers the
//! run. The log is compacted (rewritten atomically: temporary file,
//! fsync, rename) on open and whenever it holds more than twice the lines
//! its map needs, so its size stays within twice the live entries. A
//! process crash loses nothing written (the page cache has it); a power
//! loss may lose the last lines, which a run then reports as drift (a
//! false alarm, never a drift hidden: see docs/safety.md).
use super::canonical::Digest;
use super::Kind;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// What the gateway knows of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// The digest of the representation it last answered.
    Digest(Digest),
    /// Written, but the answer had no body (a PATCH answered 204).
    Unverified,
    /// Deleted through the gateway (a tombstone, until a run sees it gone).
    Deleted,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub state: State,
    /// The write's number in this process (a run skips resources written
    /// after it began: their listing may predate the write).
    pub stamp: u64,
    /// The last run that saw the resource upstream.
    pub seen: u32,
}

/// One line of the log.
#[derive(Serialize, Deserialize)]
struct Line<'a> {
    /// `User` or `Group`.
    #[serde(borrow)]
    t: Cow<'a, str>,
    /// Borrowed unless the id holds an escaped character.
    #[serde(borrow)]
    id: Cow<'a, str>,
    /// 64 hex digits, `u` (unverified) or `d` (deleted).
    #[serde(borrow)]
    s: Cow<'a, str>,
}

#[derive(Debug)]
pub(crate) struct TenantLog {
    path: PathBuf,
    file: File,
    pub maps: [HashMap<String, Entry>; 2],
    lines: usize,
    pub stamp: u64,
    pub run: u32,
}

impl TenantLog {
    /// Opens (or creates) the log, reads it into the map and compacts it.
    pub(crate) fn open(dir: &Path, tenant: &str) -> std::io::Result<TenantLog> {
        let path = dir.join(format!("{tenant}.log"));
        let mut maps: [HashMap<String, Entry>; 2] = Default::default();
        let mut lines = 0;
        match File::open(&path) {
            Ok(f) => {
                for line in BufReader::new(f).lines() {
                    let line = line?;
                    lines += 1;
                    // A torn last line (a crash mid-write) is skipped.
                    let Ok(l) = serde_json::from_str::<Line<'_>>(&line) else {
                        continue;
                    };
                    let (Some(kind), Some(state)) = (Kind::parse(&l.t), parse_state(&l.s)) else {
                        continue;
                    };
                    let entry = Entry {
                        state,
                        stamp: 0,
                        seen: 0,
                    };
                    maps[kind as usize].insert(l.id.into_owned(), entry);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let file = append(&path)?;
        let mut log = TenantLog {
            path,
            file,
            maps,
            lines,
            stamp: 0,
            run: 0,
        };
        if log.lines > log.live() {
            log.compact()?;
        }
        Ok(log)
    }

    fn live(&self) -> usize {
        self.maps[0].len() + self.maps[1].len()
    }

    /// Records one write (the map first: a failed append is logged by the
    /// caller and the run still compares against what was answered).
    pub(crate) fn record(&mut self, kind: Kind, id: &str, state: State) -> std::io::Result<()> {
        self.stamp += 1;
        let entry = self.maps[kind as usize]
            .entry(id.to_string())
            .or_insert(Entry {
                state,
                stamp: 0,
                seen: 0,
            });
        entry.state = state;
        entry.stamp = self.stamp;
        let mut line = serde_json::to_vec(&Line {
            t: kind.name().into(),
            id: id.into(),
            s: state_text(state).into(),
        })
        .map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.lines += 1;
        if self.lines > 2 * self.live() + 1024 {
            self.compact()?;
        }
        Ok(())
    }

    /// Forgets entries (tombstones a run found gone) and compacts.
    pub(crate) fn forget(&mut self, gone: &[(Kind, String)]) -> std::io::Result<()> {
        for (kind, id) in gone {
            self.maps[*kind as usize].remove(id);
        }
        self.compact()
    }

    /// The log rewritten with one line per live entry: a temporary file,
    /// fsynced, renamed over the log, the directory fsynced.
    fn compact(&mut self) -> std::io::Result<()> {
        let tmp = self.path.with_extension("log.tmp");
        let mut out = std::io::BufWriter::new(create(&tmp)?);
        for kind in [Kind::User, Kind::Group] {
            for (id, e) in &self.maps[kind as usize] {
                serde_json::to_writer(
                    &mut out,
                    &Line {
                        t: kind.name().into(),
                        id: id.as_str().into(),
                        s: state_text(e.state).into(),
                    },
                )
                .map_err(std::io::Error::other)?;
                out.write_all(b"\n")?;
            }
        }
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        self.file = append(&self.path)?;
        self.lines = self.live();
        Ok(())
    }
}

fn append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

fn create(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

fn state_text(state: State) -> String {
    match state {
        State::Digest(d) => hex(&d),
        State::Unverified => "u".into(),
        State::Deleted => "d".into(),
    }
}

fn parse_state(s: &str) -> Option<State> {
    match s {
        "u" => Some(State::Unverified),
        "d" => Some(State::Deleted),
        _ if s.len() == 64 => {
            let mut d = [0u8; 32];
            for (i, byte) in d.iter_mut().enumerate() {
                *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
            }
            Some(State::Digest(d))
        }
        _ => None,
    }
}

fn hex(d: &Digest) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(64);
    for b in d {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_reopen_and_compaction_keeps_the_last() {
        let dir = std::env::temp_dir().join(format!("drift-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut log = TenantLog::open(&dir, "acme").unwrap();
        log.record(Kind::User, "1", State::Digest([7; 32])).unwrap();
        log.record(Kind::User, "1", State::Unverified).unwrap();
        log.record(Kind::Group, "g", State::Deleted).unwrap();
        log.record(Kind::User, "2", State::Digest([1; 32])).unwrap();
        drop(log);
        let log = TenantLog::open(&dir, "acme").unwrap();
        assert_eq!(log.maps[0]["1"].state, State::Unverified);
        assert_eq!(log.maps[0]["2"].state, State::Digest([1; 32]));
        assert_eq!(log.maps[1]["g"].state, State::Deleted);
        // Compacted on open: one line per entry.
        let text = std::fs::read_to_string(dir.join("acme.log")).unwrap();
        assert_eq!(text.lines().count(), 3);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("acme.log"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
