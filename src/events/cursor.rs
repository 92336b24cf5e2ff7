//! Per-sink cursors: `<dir>/outbox/cursors/<sink>` holds the sequence
//! number of the last event the sink acknowledged, as decimal text.
//!
//! Written atomically (temp file, fsync, rename, fsync of the directory)
//! so a crash leaves either the old or the new cursor, never a torn one;
//! an old cursor only means some events are delivered again
//! (at-least-once).
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// `<dir>/outbox`.
pub(crate) fn outbox_dir(dir: &Path) -> PathBuf {
    dir.join("outbox")
}

/// `<dir>/outbox/cursors`.
pub(crate) fn cursors_dir(dir: &Path) -> PathBuf {
    outbox_dir(dir).join("cursors")
}

/// The sink's cursor; `None` when it has none yet (a new sink starts at
/// the oldest event still in the outbox).
pub fn read_cursor(dir: &Path, sink: &str) -> io::Result<Option<u64>> {
    let path = cursors_dir(dir).join(sink);
    match fs::read_to_string(&path) {
        Ok(text) => text.trim().parse::<u64>().map(Some).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: not a sequence number", path.display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Stores the sink's cursor durably.
pub(crate) fn write_cursor(dir: &Path, sink: &str, seq: u64) -> io::Result<()> {
    let cursors = cursors_dir(dir);
    fs::create_dir_all(&cursors)?;
    write_atomic(&cursors.join(sink), format!("{seq}\n").as_bytes())
}

/// Every cursor file: `(sink, seq)`, sorted by sink name. Unreadable
/// files are skipped.
pub(crate) fn list_cursors(dir: &Path) -> io::Result<Vec<(String, u64)>> {
    let entries = match fs::read_dir(cursors_dir(dir)) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        if let Ok(Some(seq)) = read_cursor(dir, &name) {
            out.push((name, seq));
        }
    }
    out.sort();
    Ok(out)
}

/// Replaces `path` with `bytes` atomically and durably: the data is on
/// disk and the rename is in the directory before this returns.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = parent.join(format!(".{name}.tmp"));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(parent)
}

/// fsync of a directory, so a rename or unlink in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn cursors_round_trip_and_list() {
        let dir = std::env::temp_dir().join(format!("scimgw-cursor-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(read_cursor(&dir, "a").unwrap(), None);
        write_cursor(&dir, "b", 7).unwrap();
        write_cursor(&dir, "a", 3).unwrap();
        write_cursor(&dir, "a", 4).unwrap();
        assert_eq!(read_cursor(&dir, "a").unwrap(), Some(4));
        assert_eq!(
            list_cursors(&dir).unwrap(),
            vec![("a".to_string(), 4), ("b".to_string(), 7)]
        );
        fs::write(cursors_dir(&dir).join("bad"), "x").unwrap();
        assert!(read_cursor(&dir, "bad").is_err());
        assert_eq!(list_cursors(&dir).unwrap().len(), 2);
        fs::remove_dir_all(&dir).unwrap();
    }
}
