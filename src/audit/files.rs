//! File names and recovery of the end of a log file.
//!
//! Audit files are `audit-<20-digit first seq>-<YYYYMMDDTHHMMSSZ>.jsonl`:
//! the seq comes first so that sorting by name is sorting by seq even when
//! the clock steps back; the time is when the file was started (its age for
//! rotation). Outbox segments are `<20-digit first outbox seq>.jsonl` (the
//! contract with `crate::events`).
use crate::scim::datetime::DateTime;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Where the outbox lives inside the audit directory.
pub(crate) const OUTBOX_DIR: &str = "outbox";

/// The name of the audit file whose first record is `first_seq`, started
/// at `created`.
pub(crate) fn audit_file_name(first_seq: u64, created: DateTime) -> String {
    let t = created.to_rfc3339();
    let compact: String = t
        .chars()
        .take(19)
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("audit-{first_seq:020}-{compact}Z.jsonl")
}

/// `(first seq, start time in Unix seconds)` of an audit file name.
pub(crate) fn parse_audit_file_name(name: &str) -> Option<(u64, i64)> {
    let rest = name.strip_prefix("audit-")?.strip_suffix(".jsonl")?;
    let (seq, time) = rest.split_once('-')?;
    if seq.len() != 20 || time.len() != 16 {
        return None;
    }
    let seq = seq.parse().ok()?;
    let (d, t) = (time.get(..8)?, time.get(9..15)?);
    let rfc = format!(
        "{}-{}-{}T{}:{}:{}Z",
        d.get(..4)?,
        d.get(4..6)?,
        d.get(6..)?,
        t.get(..2)?,
        t.get(2..4)?,
        t.get(4..)?
    );
    Some((seq, DateTime::parse(&rfc)?.secs))
}

/// The name of the outbox segment whose first event is `first_seq`.
pub(crate) fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.jsonl")
}

/// The first seq of an outbox segment name.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let seq = name.strip_suffix(".jsonl")?;
    if seq.len() != 20 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    seq.parse().ok()
}

/// The files in `dir` whose names `parse` accepts, sorted by name (so by
/// first seq), with what `parse` made of each name.
pub(crate) fn list<T>(
    dir: &Path,
    parse: impl Fn(&str) -> Option<T>,
) -> io::Result<Vec<(PathBuf, T)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(parsed) = parse(name) {
            if entry.file_type()?.is_file() {
                out.push((entry.path(), parsed));
            }
        }
    }
    out.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()));
    Ok(out)
}

/// The end of a log file as found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tail {
    /// Length up to and including the last newline.
    pub good_len: u64,
    /// Bytes after the last newline: a line whose write never completed.
    pub torn_bytes: u64,
    /// The last complete line, without its newline.
    pub last_line: Option<Vec<u8>>,
}

/// Reads the end of `path` backwards until the last complete line is found.
pub(crate) fn read_tail(path: &Path) -> io::Result<Tail> {
    const CHUNK: u64 = 64 * 1024;
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    // `buf` holds the file's bytes from `from` to `len`.
    let mut buf: Vec<u8> = Vec::new();
    let mut from = len;
    let mut last_nl: Option<u64> = None;
    loop {
        if from == 0 {
            break;
        }
        let start = from.saturating_sub(CHUNK);
        let mut chunk = vec![0u8; usize::try_from(from - start).unwrap_or(0)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        from = start;
        let newlines: Vec<u64> = memchr::memrchr_iter(b'\n', &buf)
            .take(2)
            .map(|i| from + i as u64)
            .collect();
        if last_nl.is_none() {
            last_nl = newlines.first().copied();
        }
        // The last line is complete once its start is known: a second
        // newline before it, or the start of the file.
        if newlines.len() == 2 {
            break;
        }
    }
    let Some(nl) = last_nl else {
        return Ok(Tail {
            good_len: 0,
            torn_bytes: len,
            last_line: None,
        });
    };
    let rel_end = usize::try_from(nl - from).unwrap_or(0);
    let head = buf.get(..rel_end).unwrap_or(&[]);
    let line_start = memchr::memrchr(b'\n', head).map_or(0, |i| i + 1);
    Ok(Tail {
        good_len: nl + 1,
        torn_bytes: len - (nl + 1),
        last_line: head.get(line_start..).map(<[u8]>::to_vec),
    })
}

/// Cuts `path` to `len` bytes and makes that durable.
pub(crate) fn truncate(path: &Path, len: u64) -> io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(len)?;
    file.sync_all()
}

/// Makes the directory entries in `dir` durable (after creating a file).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
