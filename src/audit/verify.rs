//! `scim-gateway audit verify`: walks the chain through every line of every
//! file (sorted by name) and names the first record that breaks it.
//!
//! What each break looks like: a modified line no longer hashes to the
//! `prev` stored in the next one; a deleted line leaves a gap in `seq`; an
//! inserted line repeats a `seq` (or breaks `prev`); a reordered pair shows
//! a `seq` ahead of its turn with the missing one found later; a removed
//! file is a gap at a file boundary. The last line has no successor to
//! vouch for it: compare the reported head hash with an anchor kept
//! elsewhere (the journal logs the head at each rotation and at shutdown).
use super::chain::{hex, line_hash, ZERO_HASH};
use serde::Deserialize;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

/// How to verify.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions {
    /// Accept a log that starts after seq 1 (an archive whose older files
    /// were moved away); by default the first record must be seq 1 with
    /// the all-zero `prev`.
    pub partial: bool,
}

/// A log that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub files: usize,
    pub records: u64,
    /// `seq` of the first and last record (0 when empty).
    pub first_seq: u64,
    pub last_seq: u64,
    /// The hash of the last line: the anchor to compare.
    pub head: String,
    /// The newest file ends in an incomplete line (a write in progress, or
    /// a crash; the journal cuts it off at its next start).
    pub torn_tail: bool,
}

/// The first bad record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFailure {
    pub file: PathBuf,
    /// 1-based line number in `file` (0 when the file could not be read).
    pub line: usize,
    /// The record's `seq`, when it could be read.
    pub seq: Option<u64>,
    pub problem: Problem,
    pub detail: String,
}

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The file could not be read.
    Unreadable,
    /// The line is not a journal line (not JSON, no `seq` or `prev`).
    Unparsable,
    /// The record's bytes changed.
    Modified,
    /// Records are missing (deleted lines, or a removed file).
    Deleted,
    /// A record that is not part of the chain was added.
    Inserted,
    /// Records are out of order.
    Reordered,
    /// The log does not start at seq 1 (see [`VerifyOptions::partial`]).
    BadStart,
    /// A line in the middle of the log is incomplete.
    Truncated,
}

/// One line of the log, and where it is.
struct Line {
    file: usize,
    number: usize,
    bytes: Vec<u8>,
    terminated: bool,
}

#[derive(Deserialize)]
struct Link {
    seq: u64,
    prev: String,
}

/// Where the last good line was, for naming it.
struct Seen {
    file: usize,
    number: usize,
    seq: u64,
    hash: [u8; 32],
}

// === verification ===

/// Verifies the files at `paths` (files, or directories whose
/// `audit-*.jsonl` files are taken), all sorted together by file name.
pub fn verify_paths(
    paths: &[PathBuf],
    options: VerifyOptions,
) -> Result<VerifyReport, VerifyFailure> {
    let files = collect(paths)?;
    let mut lines = Lines::new(&files);
    let mut last: Option<Seen> = None;
    let mut report = VerifyReport {
        files: files.len(),
        records: 0,
        first_seq: 0,
        last_seq: 0,
        head: ZERO_HASH.to_string(),
        torn_tail: false,
    };
    while let Some(line) = lines.next_line()? {
        let fail = |seq: Option<u64>, problem: Problem, detail: String| VerifyFailure {
            file: files.get(line.file).cloned().unwrap_or_default(),
            line: line.number,
            seq,
            problem,
            detail,
        };
        if !line.terminated {
            if lines.at_end() {
                report.torn_tail = true;
                break;
            }
            return Err(fail(
                None,
                Problem::Truncated,
                "the line is incomplete (no newline) but more lines follow".into(),
            ));
        }
        let link: Link = serde_json::from_slice(&line.bytes).map_err(|e| {
            fail(
                None,
                Problem::Unparsable,
                format!("not a journal line ({e}): modified or inserted"),
            )
        })?;
        let seq = link.seq;
        let Some(prev) = &last else {
            if !options.partial && (seq != 1 || link.prev != ZERO_HASH) {
                return Err(fail(Some(seq), Problem::BadStart, format!(
                    "the log starts at seq {seq}, not at seq 1 with an all-zero prev: earlier records or files are missing (--partial accepts an archive)"
                )));
            }
            report.first_seq = seq;
            last = Some(Seen {
                file: line.file,
                number: line.number,
                seq,
                hash: line_hash(&line.bytes),
            });
            report.records += 1;
            continue;
        };
        let expected = prev.seq + 1;
        let prev_ok = link.prev == hex(&prev.hash);
        if seq == expected && prev_ok {
            last = Some(Seen {
                file: line.file,
                number: line.number,
                seq,
                hash: line_hash(&line.bytes),
            });
            report.records += 1;
            continue;
        }
        let next_seq = lines.peek_seq()?;
        if seq == expected {
            // `prev` does not match the line before.
            if next_seq == Some(seq) {
                return Err(fail(Some(seq), Problem::Inserted, format!(
                    "seq {seq} does not follow the chain (its prev is not the hash of seq {}) and the next line repeats seq {seq}: this line was inserted",
                    prev.seq
                )));
            }
            return Err(VerifyFailure {
                file: files.get(prev.file).cloned().unwrap_or_default(),
                line: prev.number,
                seq: Some(prev.seq),
                problem: Problem::Modified,
                detail: format!(
                    "its bytes no longer hash to the prev stored in seq {seq} ({}:{}): this record was modified (or that prev was)",
                    files.get(line.file).map(|p| p.display().to_string()).unwrap_or_default(),
                    line.number
                ),
            });
        }
        if seq > expected {
            if let Some((file, number)) = lines.find_later(expected)? {
                return Err(fail(Some(seq), Problem::Reordered, format!(
                    "seq {seq} comes where seq {expected} should, and seq {expected} comes later ({}:{number}): records were reordered",
                    files.get(file).map(|p| p.display().to_string()).unwrap_or_default()
                )));
            }
            if next_seq == Some(expected + 1) {
                return Err(fail(Some(seq), Problem::Modified, format!(
                    "seq {seq} stands where seq {expected} should, between seq {} and seq {}: its seq was modified",
                    prev.seq, expected + 1
                )));
            }
            let boundary = if line.number == 1 && line.file != prev.file {
                format!(
                    " between the end of {} and the start of this file: deleted records or a removed file",
                    files.get(prev.file).map(|p| p.display().to_string()).unwrap_or_default()
                )
            } else {
                ": records were deleted".to_string()
            };
            let range = if seq - 1 == expected {
                format!("seq {expected} is")
            } else {
                format!("seq {expected}..{} are", seq - 1)
            };
            return Err(fail(
                Some(seq),
                Problem::Deleted,
                format!("{range} missing{boundary}"),
            ));
        }
        // seq < expected: this seq was seen before.
        let (file, number, inserted_first) = lines.find_first(seq)?;
        let at = format!(
            "{}:{number}",
            files
                .get(file)
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        );
        if inserted_first {
            return Err(VerifyFailure {
                file: files.get(file).cloned().unwrap_or_default(),
                line: number,
                seq: Some(seq),
                problem: Problem::Inserted,
                detail: format!(
                    "seq {seq} appears twice ({at} and {}:{}); the next record does not chain to this one, so this one was inserted",
                    files.get(line.file).map(|p| p.display().to_string()).unwrap_or_default(),
                    line.number
                ),
            });
        }
        return Err(fail(
            Some(seq),
            Problem::Inserted,
            format!(
                "seq {seq} appears again (first at {at}), after seq {}: a record was inserted",
                prev.seq
            ),
        ));
    }
    if let Some(last) = last {
        report.last_seq = last.seq;
        report.head = hex(&last.hash);
    }
    Ok(report)
}

/// Files to read, sorted by file name.
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, VerifyFailure> {
    let unreadable = |path: &Path, e: io::Error| VerifyFailure {
        file: path.to_path_buf(),
        line: 0,
        seq: None,
        problem: Problem::Unreadable,
        detail: e.to_string(),
    };
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = super::files::list(path, |name| {
                (name.starts_with("audit-") && name.ends_with(".jsonl")).then_some(())
            })
            .map_err(|e| unreadable(path, e))?;
            files.extend(found.into_iter().map(|(p, ())| p));
        } else {
            files.push(path.clone());
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// Lines of all files in order, with one line of look-ahead.
struct Lines<'a> {
    files: &'a [PathBuf],
    file: usize,
    number: usize,
    reader: Option<BufReader<File>>,
    peeked: Option<Option<Line>>,
}

impl<'a> Lines<'a> {
    fn new(files: &'a [PathBuf]) -> Self {
        Lines {
            files,
            file: 0,
            number: 0,
            reader: None,
            peeked: None,
        }
    }

    fn read(&mut self) -> Result<Option<Line>, VerifyFailure> {
        loop {
            let Some(path) = self.files.get(self.file) else {
                return Ok(None);
            };
            let unreadable = |e: io::Error, line: usize| VerifyFailure {
                file: path.clone(),
                line,
                seq: None,
                problem: Problem::Unreadable,
                detail: e.to_string(),
            };
            if self.reader.is_none() {
                self.reader = Some(BufReader::new(
                    File::open(path).map_err(|e| unreadable(e, 0))?,
                ));
                self.number = 0;
            }
            let Some(reader) = self.reader.as_mut() else {
                return Ok(None);
            };
            let mut bytes = Vec::new();
            let n = reader
                .read_until(b'\n', &mut bytes)
                .map_err(|e| unreadable(e, self.number + 1))?;
            if n == 0 {
                self.reader = None;
                self.file += 1;
                continue;
            }
            self.number += 1;
            let terminated = bytes.last() == Some(&b'\n');
            if terminated {
                bytes.pop();
            }
            return Ok(Some(Line {
                file: self.file,
                number: self.number,
                bytes,
                terminated,
            }));
        }
    }

    fn next_line(&mut self) -> Result<Option<Line>, VerifyFailure> {
        match self.peeked.take() {
            Some(line) => Ok(line),
            None => self.read(),
        }
    }

    /// Whether the line just returned was the last one.
    fn at_end(&mut self) -> bool {
        if self.peeked.is_none() {
            match self.read() {
                Ok(line) => self.peeked = Some(line),
                Err(_) => return false,
            }
        }
        matches!(self.peeked, Some(None))
    }

    /// The seq of the next line, if it has one.
    fn peek_seq(&mut self) -> Result<Option<u64>, VerifyFailure> {
        if self.peeked.is_none() {
            let line = self.read()?;
            self.peeked = Some(line);
        }
        Ok(match &self.peeked {
            Some(Some(line)) => serde_json::from_slice::<Link>(&line.bytes)
                .ok()
                .map(|l| l.seq),
            _ => None,
        })
    }

    /// Where `seq` appears after the current line (consumes the rest).
    fn find_later(&mut self, seq: u64) -> Result<Option<(usize, usize)>, VerifyFailure> {
        while let Some(line) = self.next_line()? {
            if serde_json::from_slice::<Link>(&line.bytes).is_ok_and(|l| l.seq == seq) {
                return Ok(Some((line.file, line.number)));
            }
        }
        Ok(None)
    }

    /// The first place `seq` appears, and whether that line is the
    /// inserted one: the line after a genuine record carries its hash as
    /// `prev`.
    fn find_first(&self, seq: u64) -> Result<(usize, usize, bool), VerifyFailure> {
        let mut scan = Lines::new(self.files);
        while let Some(line) = scan.next_line()? {
            if serde_json::from_slice::<Link>(&line.bytes).is_ok_and(|l| l.seq == seq) {
                let hash = hex(&line_hash(&line.bytes));
                let vouched = scan.next_line()?.is_some_and(|next| {
                    serde_json::from_slice::<Link>(&next.bytes).is_ok_and(|l| l.prev == hash)
                });
                return Ok((line.file, line.number, !vouched));
            }
        }
        Ok((0, 0, false))
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Problem::Unreadable => "unreadable",
            Problem::Unparsable => "unparsable",
            Problem::Modified => "modified",
            Problem::Deleted => "deleted",
            Problem::Inserted => "inserted",
            Problem::Reordered => "reordered",
            Problem::BadStart => "bad start",
            Problem::Truncated => "truncated",
        })
    }
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if let Some(seq) = self.seq {
            write!(f, "seq {seq}: ")?;
        }
        write!(f, "{}: {}", self.problem, self.detail)
    }
}
