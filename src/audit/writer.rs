//! The synchronous half of the journal: owns the current audit file and
//! outbox segment, turns queued entries into chained lines, rotates, and
//! fsyncs. Only the journal task calls it (on the journal's thread); nothing
//! here is shared.
use super::chain::{push_line, ChainHead, FieldValue};
use super::files::{self, Tail};
use super::metrics::{self, FileKind};
use super::settings::AuditSettings;
use crate::scim::datetime::DateTime;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One queued entry: the record and its event, already serialized by the
/// caller (so the writer only frames, hashes and writes).
#[derive(Debug)]
pub(super) struct Entry {
    /// The record's JSON object.
    pub record: Vec<u8>,
    /// The event, for the outbox (its JSON written as it is).
    pub event: Option<crate::events::Event>,
    /// Counted as an auth failure rather than a write.
    pub auth_failure: bool,
}

/// Where an entry landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The audit record's `seq`.
    pub seq: u64,
    /// The event's outbox seq, when there was an event.
    pub outbox_seq: Option<u64>,
}

/// An open log file.
#[derive(Debug)]
struct LogFile {
    file: File,
    len: u64,
    /// Unix seconds when the file was started.
    created: i64,
    /// Written since the last fsync.
    dirty: bool,
}

/// The writer's state.
#[derive(Debug)]
pub(super) struct Writer {
    dir: PathBuf,
    outbox_dir: PathBuf,
    max_file_bytes: u64,
    max_file_age: Duration,
    segment_bytes: u64,
    audit: Option<LogFile>,
    head: ChainHead,
    outbox: Option<LogFile>,
    /// The last outbox seq written.
    outbox_seq: u64,
    /// The last outbox seq fsynced.
    durable_outbox_seq: u64,
    /// The batch's lines before their write, kept between batches
    /// (allocated and freed for every batch, tens of KB under load, they
    /// took the allocator's slow path: 1.3 % of an audited gateway's CPU);
    /// released above [`KEPT_BUFFER_BYTES`].
    audit_buf: Vec<u8>,
    outbox_buf: Vec<u8>,
}

/// What [`Writer::write_lines`] wrote.
struct Written {
    receipts: Vec<Receipt>,
    /// Bytes written to the audit file.
    audit: u64,
    /// Bytes written to the outbox.
    outbox: u64,
    events: u64,
    auth_failures: u64,
}

/// The most capacity a line buffer keeps between batches.
const KEPT_BUFFER_BYTES: usize = 256 * 1024;

// === impl Writer ===

impl Writer {
    /// Opens the directory, creating it if needed, and finds where the
    /// chain and the outbox continue: a torn last line is cut off (it was
    /// never acknowledged) and logged.
    pub(super) fn open(settings: &AuditSettings) -> Result<Writer, String> {
        let dir = settings.dir.clone();
        let outbox_dir = settings.outbox_dir();
        for d in [&dir, &outbox_dir] {
            std::fs::create_dir_all(d)
                .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        let (audit, head) = recover_audit(&dir)?;
        let (outbox, outbox_seq) = recover_outbox(&outbox_dir)?;
        Ok(Writer {
            dir,
            outbox_dir,
            max_file_bytes: settings.max_file_bytes,
            max_file_age: settings.max_file_age,
            segment_bytes: settings.outbox_segment_bytes,
            audit,
            head,
            outbox,
            outbox_seq,
            durable_outbox_seq: outbox_seq,
            audit_buf: Vec::new(),
            outbox_buf: Vec::new(),
        })
    }

    /// The end of the chain.
    pub(super) fn head(&self) -> &ChainHead {
        &self.head
    }

    /// The highest outbox seq known to be on disk.
    pub(super) fn durable_outbox_seq(&self) -> u64 {
        self.durable_outbox_seq
    }

    /// Writes `entries` in order: one write(2) per file (more only when a
    /// file rotates mid-batch), then, with `sync`, one fsync per file.
    /// On error nothing after the failure point is written whole; the
    /// caller must stop using the writer (the torn tail is cut at the next
    /// open).
    pub(super) fn write_batch(
        &mut self,
        entries: &[Entry],
        sync: bool,
    ) -> Result<Vec<Receipt>, (FileKind, io::Error)> {
        // Each buffer sized for the batch's lines at once (a line is its
        // object and under 100 bytes of `seq`, `prev` and framing), not
        // grown as they are pushed.
        let (mut audit_len, mut outbox_len) = (0, 0);
        for entry in entries {
            audit_len += entry.record.len() + 100;
            outbox_len += entry.event.as_ref().map_or(0, |e| e.json().len() + 40);
        }
        let mut audit_buf = std::mem::take(&mut self.audit_buf);
        let mut outbox_buf = std::mem::take(&mut self.outbox_buf);
        audit_buf.clear();
        outbox_buf.clear();
        audit_buf.reserve(audit_len);
        outbox_buf.reserve(outbox_len);
        let result = self.write_lines(entries, &mut audit_buf, &mut outbox_buf);
        for (kept, mut buf) in [
            (&mut self.audit_buf, audit_buf),
            (&mut self.outbox_buf, outbox_buf),
        ] {
            if buf.capacity() <= KEPT_BUFFER_BYTES {
                buf.clear();
                *kept = buf;
            }
        }
        let w = result?;
        let receipts = w.receipts;
        let writes = entries.len() as u64 - w.auth_failures;
        metrics::batch_written(writes, w.auth_failures, w.events, w.audit, w.outbox);
        if sync {
            self.sync()?;
        }
        Ok(receipts)
    }

    /// [`Writer::write_batch`]'s lines, built into the two buffers and
    /// written: the receipts, the bytes written to each file, the events
    /// and the authentication failures.
    fn write_lines(
        &mut self,
        entries: &[Entry],
        audit_buf: &mut Vec<u8>,
        outbox_buf: &mut Vec<u8>,
    ) -> Result<Written, (FileKind, io::Error)> {
        let mut receipts = Vec::with_capacity(entries.len());
        let (mut written_audit, mut written_outbox) = (0u64, 0u64);
        let (mut events, mut auth_failures) = (0u64, 0u64);
        let now = DateTime::now().secs;
        for entry in entries {
            let seq = self.head.seq + 1;
            let line_len = entry.record.len() as u64 + 100;
            if self.needs_rotation(FileKind::Audit, audit_buf.len() as u64 + line_len, now) {
                written_audit +=
                    flush(self.audit.as_mut(), audit_buf).map_err(|e| (FileKind::Audit, e))?;
                self.rotate_audit(seq).map_err(|e| (FileKind::Audit, e))?;
            }
            let prev = self.head.hash_hex();
            let range = push_line(
                audit_buf,
                &[
                    ("seq", FieldValue::U64(seq)),
                    ("prev", FieldValue::Str(&prev)),
                ],
                &entry.record,
            );
            self.head = ChainHead::after(seq, audit_buf.get(range).unwrap_or(&[]));
            auth_failures += u64::from(entry.auth_failure);
            let outbox_seq = match &entry.event {
                Some(event) => {
                    let oseq = self.outbox_seq + 1;
                    let event = event.json();
                    let line_len = event.len() as u64 + 40;
                    if self.needs_rotation(
                        FileKind::Outbox,
                        outbox_buf.len() as u64 + line_len,
                        now,
                    ) {
                        written_outbox += flush(self.outbox.as_mut(), outbox_buf)
                            .map_err(|e| (FileKind::Outbox, e))?;
                        self.rotate_outbox(oseq)
                            .map_err(|e| (FileKind::Outbox, e))?;
                    }
                    push_line(
                        outbox_buf,
                        &[
                            ("seq", FieldValue::U64(oseq)),
                            ("event", FieldValue::Raw(event)),
                        ],
                        b"{}",
                    );
                    self.outbox_seq = oseq;
                    events += 1;
                    Some(oseq)
                }
                None => None,
            };
            receipts.push(Receipt { seq, outbox_seq });
        }
        written_audit += flush(self.audit.as_mut(), audit_buf).map_err(|e| (FileKind::Audit, e))?;
        written_outbox +=
            flush(self.outbox.as_mut(), outbox_buf).map_err(|e| (FileKind::Outbox, e))?;
        Ok(Written {
            receipts,
            audit: written_audit,
            outbox: written_outbox,
            events,
            auth_failures,
        })
    }

    /// fsyncs (fdatasync) whatever was written since the last sync: the
    /// audit file first, then the outbox, so an event is never durable
    /// before its record. Returns whether anything was synced.
    pub(super) fn sync(&mut self) -> Result<bool, (FileKind, io::Error)> {
        let a =
            sync_file(self.audit.as_mut(), FileKind::Audit).map_err(|e| (FileKind::Audit, e))?;
        let o =
            sync_file(self.outbox.as_mut(), FileKind::Outbox).map_err(|e| (FileKind::Outbox, e))?;
        self.durable_outbox_seq = self.outbox_seq;
        Ok(a || o)
    }

    /// Starts an interval sync that runs beside the writer, so that
    /// batches go on being written while the disk flushes: the files
    /// written since the last full sync, as new descriptors of the same
    /// open files (`dup`), and the outbox seq written so far. Only the seq taken here
    /// becomes durable when [`PendingSync::run`] succeeds
    /// ([`Writer::synced`]).
    pub(super) fn begin_sync(&self) -> Result<PendingSync, (FileKind, io::Error)> {
        let audit = dup_dirty(self.audit.as_ref()).map_err(|e| (FileKind::Audit, e))?;
        let outbox = dup_dirty(self.outbox.as_ref()).map_err(|e| (FileKind::Outbox, e))?;
        Ok(PendingSync {
            audit,
            outbox,
            outbox_seq: self.outbox_seq,
        })
    }

    /// A [`PendingSync`] begun at outbox seq `seq` succeeded.
    pub(super) fn synced(&mut self, seq: u64) {
        self.durable_outbox_seq = self.durable_outbox_seq.max(seq);
    }

    /// Whether adding `pending` bytes to the current file of `kind` must
    /// start a new file first (no file yet, too big, or too old).
    fn needs_rotation(&self, kind: FileKind, pending: u64, now: i64) -> bool {
        let (file, max, age) = match kind {
            FileKind::Audit => (&self.audit, self.max_file_bytes, Some(self.max_file_age)),
            FileKind::Outbox => (&self.outbox, self.segment_bytes, None),
        };
        let Some(f) = file else { return true };
        let total = f.len + pending;
        let too_big = f.len > 0 && total > max;
        let too_old = age.is_some_and(|a| {
            f.len > 0
                && now.saturating_sub(f.created) >= i64::try_from(a.as_secs()).unwrap_or(i64::MAX)
        });
        too_big || too_old
    }

    /// Closes the current audit file (fsynced, so the chain's end in it is
    /// durable before the next file exists) and starts one at `first_seq`.
    fn rotate_audit(&mut self, first_seq: u64) -> io::Result<()> {
        let had = self.audit.is_some();
        sync_file(self.audit.as_mut(), FileKind::Audit)?;
        let now = DateTime::now();
        let path = self.dir.join(files::audit_file_name(first_seq, now));
        self.audit = Some(create(&path, &self.dir, now.secs)?);
        if had {
            metrics::rotated(FileKind::Audit);
            tracing::info!(
                file = %path.display(),
                head_seq = self.head.seq,
                head_hash = %self.head.hash_hex(),
                "audit file rotated; the previous file ends at this head"
            );
        }
        Ok(())
    }

    /// Closes the current outbox segment (fsynced) and starts one at
    /// `first_seq`.
    fn rotate_outbox(&mut self, first_seq: u64) -> io::Result<()> {
        let had = self.outbox.is_some();
        // Durable now, but only published by the next `sync`, after the
        // audit records of these events.
        sync_file(self.outbox.as_mut(), FileKind::Outbox)?;
        let path = self.outbox_dir.join(files::segment_name(first_seq));
        self.outbox = Some(create(&path, &self.outbox_dir, DateTime::now().secs)?);
        if had {
            metrics::rotated(FileKind::Outbox);
        }
        Ok(())
    }
}

/// Writes `buf` to `file` and empties it; the bytes written.
fn flush(file: Option<&mut LogFile>, buf: &mut Vec<u8>) -> io::Result<u64> {
    if buf.is_empty() {
        return Ok(0);
    }
    let Some(f) = file else {
        return Err(io::Error::other("no open file to write to"));
    };
    f.file.write_all(buf)?;
    let n = buf.len() as u64;
    f.len += n;
    f.dirty = true;
    buf.clear();
    Ok(n)
}

/// fdatasync if dirty; whether it synced.
fn sync_file(file: Option<&mut LogFile>, kind: FileKind) -> io::Result<bool> {
    match file {
        Some(f) if f.dirty => {
            let start = Instant::now();
            f.file.sync_data()?;
            metrics::fsynced(kind, start.elapsed());
            f.dirty = false;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// An interval sync taken off the writer ([`Writer::begin_sync`]).
#[derive(Debug)]
pub(super) struct PendingSync {
    audit: Option<File>,
    outbox: Option<File>,
    outbox_seq: u64,
}

impl PendingSync {
    /// fsyncs (fdatasync) the audit file, then the outbox (an event is
    /// never durable before its record); the outbox seq now durable. Runs
    /// on the blocking pool.
    pub(super) fn run(self) -> Result<u64, (FileKind, io::Error)> {
        for (file, kind) in [
            (self.audit, FileKind::Audit),
            (self.outbox, FileKind::Outbox),
        ] {
            if let Some(f) = file {
                let start = Instant::now();
                f.sync_data().map_err(|e| (kind, e))?;
                metrics::fsynced(kind, start.elapsed());
            }
        }
        Ok(self.outbox_seq)
    }
}

/// A second descriptor of `file` when it was written since its last
/// sync. It stays marked dirty: a rotation fsyncs the file it closes
/// itself, so that a file's end is durable before the next file exists
/// whatever sync is still in flight (the chain never has a gap between
/// files); a second fsync of clean pages costs next to nothing.
fn dup_dirty(file: Option<&LogFile>) -> io::Result<Option<File>> {
    match file {
        Some(f) if f.dirty => Ok(Some(f.file.try_clone()?)),
        _ => Ok(None),
    }
}

/// Creates a new file (never reuses a name) and makes its directory entry
/// durable.
fn create(path: &Path, dir: &Path, created: i64) -> io::Result<LogFile> {
    let file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(path)?;
    files::sync_dir(dir)?;
    Ok(LogFile {
        file,
        len: 0,
        created,
        dirty: false,
    })
}

/// Opens an existing file to append at `len`.
fn reopen(path: &Path, len: u64, created: i64) -> Result<LogFile, String> {
    let file = OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    Ok(LogFile {
        file,
        len,
        created,
        dirty: false,
    })
}

/// Reads the tail of `path` and cuts a torn last line away.
fn recover_tail(path: &Path, kind: FileKind) -> Result<Tail, String> {
    let tail =
        files::read_tail(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if tail.torn_bytes > 0 {
        files::truncate(path, tail.good_len)
            .map_err(|e| format!("cannot truncate the torn end of {}: {e}", path.display()))?;
        metrics::torn_tail(kind);
        tracing::warn!(
            file = %path.display(),
            torn_bytes = tail.torn_bytes,
            "cut off a torn last line left by a crash (it was never acknowledged)"
        );
    }
    Ok(tail)
}

/// The `seq` of a stored line.
fn line_seq(line: &[u8], path: &Path) -> Result<u64, String> {
    #[derive(serde::Deserialize)]
    struct Seq {
        seq: u64,
    }
    serde_json::from_slice::<Seq>(line).map(|s| s.seq).map_err(|e| {
        format!(
            "the last line of {} is not a journal line ({e}); run `scim-gateway audit verify` on the directory",
            path.display()
        )
    })
}

/// The current audit file and the chain head. An empty newest file (a
/// crash right after rotation) is removed and the file before it continues.
fn recover_audit(dir: &Path) -> Result<(Option<LogFile>, ChainHead), String> {
    let list_err = |e: io::Error| format!("cannot list {}: {e}", dir.display());
    let mut found = files::list(dir, files::parse_audit_file_name).map_err(list_err)?;
    while let Some((path, (first_seq, created))) = found.pop() {
        let tail = recover_tail(&path, FileKind::Audit)?;
        match tail.last_line {
            Some(line) => {
                let seq = line_seq(&line, &path)?;
                let file = reopen(&path, tail.good_len, created)?;
                return Ok((Some(file), ChainHead::after(seq, &line)));
            }
            None if found.is_empty() && first_seq > 1 => {
                return Err(format!(
                    "{} is empty and no earlier audit file is left to continue the chain from (it should start at seq {first_seq})",
                    path.display()
                ));
            }
            None => {
                std::fs::remove_file(&path)
                    .map_err(|e| format!("cannot remove the empty {}: {e}", path.display()))?;
                tracing::warn!(file = %path.display(), "removed an empty audit file left by a crash");
            }
        }
    }
    Ok((None, ChainHead::fresh()))
}

/// The current outbox segment and the last outbox seq. An empty newest
/// segment continues at its name's seq.
fn recover_outbox(dir: &Path) -> Result<(Option<LogFile>, u64), String> {
    let found = files::list(dir, files::parse_segment_name)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let Some((path, first_seq)) = found.last() else {
        return Ok((None, 0));
    };
    let tail = recover_tail(path, FileKind::Outbox)?;
    let last = match &tail.last_line {
        Some(line) => line_seq(line, path)?,
        None => first_seq.saturating_sub(1),
    };
    let created = DateTime::now().secs;
    Ok((Some(reopen(path, tail.good_len, created)?), last))
}
