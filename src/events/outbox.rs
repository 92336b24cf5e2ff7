//! Reading the outbox in sequence order (the journal in `src/audit/`
//! writes it).
//!
//! Layout: `<dir>/outbox/<20-digit first seq>.jsonl` segments; each line
//! is `{"seq": n, "event": {CloudEvent}}` with `seq` contiguous from 1.
//! The newest segment's last line may be torn while it is written: a line
//! is only read once its terminating `\n` is there. A torn tail of an
//! *older* segment (the writer crashed, then started a new segment) is
//! abandoned: the reader moves on once a newer segment exists.
use crate::events::cloudevent::set_sequence;
use crate::events::cursor::{outbox_dir, sync_dir};
use crate::events::event::{DeliveredBody, Event};
use serde::Deserialize;
use serde_json::Value;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One outbox line.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OutboxRecord {
    pub seq: u64,
    /// The CloudEvent (its JSON as the line holds it, never parsed whole).
    pub event: Event,
}

/// A segment file: its first sequence number and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub first_seq: u64,
    pub path: PathBuf,
}

/// Reads records after a given sequence number, remembering where it
/// stopped so each batch reads only new bytes.
#[derive(Debug)]
pub struct OutboxReader {
    outbox: PathBuf,
    /// The next sequence number wanted.
    next_seq: u64,
    /// The segment being read and the offset of its first unread line.
    position: Option<(Segment, u64)>,
}

// === impl OutboxRecord ===

impl OutboxRecord {
    /// A record of `event` (a tree: tests, dead letters).
    pub fn new(seq: u64, event: impl Into<Event>) -> OutboxRecord {
        OutboxRecord {
            seq,
            event: event.into(),
        }
    }

    /// The event's `tenant` attribute.
    pub fn tenant(&self) -> Option<&str> {
        self.event.tenant()
    }

    /// The event's `id`.
    pub fn id(&self) -> &str {
        self.event.id()
    }

    /// The event's `subject` (the resource id): with the tenant, the key
    /// that keeps one resource's events together (e.g. a Kafka key).
    pub fn subject(&self) -> Option<&str> {
        self.event.subject()
    }

    /// The event's `time`.
    pub fn time(&self) -> Option<&str> {
        self.event.time()
    }

    /// The event as delivered: with `sequence` set to this record's `seq`
    /// (deterministic, so every retry sends the same bytes).
    pub fn delivered_event(&self) -> Value {
        let mut event = self.event.to_value();
        set_sequence(&mut event, self.seq);
        event
    }

    /// [`Self::delivered_event`] serialized: the event's bytes with
    /// `sequence` appended ([`Event::delivered`]).
    pub fn body(&self) -> Vec<u8> {
        self.event.delivered(self.seq)
    }

    /// [`Self::body`], borrowed ([`Event::delivered_body`]).
    pub fn delivered_body(&self) -> DeliveredBody<'_> {
        self.event.delivered_body(self.seq)
    }
}

// === impl OutboxReader ===

impl OutboxReader {
    /// A reader of `<dir>/outbox` starting after `after_seq` (a sink's
    /// cursor; 0 for everything).
    pub fn new(dir: &Path, after_seq: u64) -> OutboxReader {
        OutboxReader {
            outbox: outbox_dir(dir),
            next_seq: after_seq.saturating_add(1),
            position: None,
        }
    }

    /// The next sequence number this reader wants.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Wants nothing before `seq` (delivered some other way), keeping its
    /// place in the file: the lines in between are passed over.
    pub fn skip_to(&mut self, seq: u64) {
        self.next_seq = self.next_seq.max(seq);
    }

    /// Up to `max` complete records in order, none above `durable` when
    /// given (the writer's highest fsynced seq). Complete lines that do not
    /// parse are skipped with an error log: they can never become valid.
    pub fn read_batch(
        &mut self,
        max: usize,
        durable: Option<u64>,
    ) -> io::Result<Vec<OutboxRecord>> {
        let mut out = Vec::new();
        let mut rereads = 0;
        while out.len() < max {
            let segments = list_segments(&self.outbox)?;
            let Some((segment, offset)) = self.locate(&segments) else {
                return Ok(out);
            };
            let reached_end = self.read_segment(&segment, offset, max, durable, &mut out)?;
            if !reached_end {
                return Ok(out);
            }
            // End of this segment: move on only if a newer one exists, and
            // only after one more read of this one, since lines may have
            // been appended between our read and the listing.
            let newer = list_segments(&self.outbox)?
                .into_iter()
                .find(|s| s.first_seq > segment.first_seq);
            match newer {
                Some(next) if rereads > 0 => {
                    if next.first_seq > self.next_seq {
                        tracing::warn!(
                            expected = self.next_seq,
                            found = next.first_seq,
                            "outbox: sequence gap between segments"
                        );
                    }
                    self.next_seq = self.next_seq.max(next.first_seq);
                    self.position = Some((next, 0));
                    rereads = 0;
                }
                Some(_) => rereads += 1,
                None => return Ok(out),
            }
        }
        Ok(out)
    }

    /// The segment and offset to read next, `None` when the outbox is
    /// empty.
    fn locate(&mut self, segments: &[Segment]) -> Option<(Segment, u64)> {
        // The last segment starting at or before the wanted seq, else the
        // oldest (everything before it was delivered and removed).
        let seg = segments
            .iter()
            .rev()
            .find(|s| s.first_seq <= self.next_seq)
            .or_else(|| segments.first())?
            .clone();
        if let Some((at, off)) = &self.position {
            // Where it stopped, unless the wanted seq is in a later
            // segment (it was told to skip ahead).
            if segments.contains(at) && at.first_seq >= seg.first_seq {
                return Some((at.clone(), *off));
            }
        }
        self.position = Some((seg.clone(), 0));
        Some((seg, 0))
    }

    /// Reads complete lines from `offset`; returns whether it stopped at
    /// the end of the file (rather than at `max` or `durable`).
    fn read_segment(
        &mut self,
        segment: &Segment,
        offset: u64,
        max: usize,
        durable: Option<u64>,
        out: &mut Vec<OutboxRecord>,
    ) -> io::Result<bool> {
        let mut file = match fs::File::open(&segment.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.position = None;
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        file.seek(SeekFrom::Start(offset))?;
        let mut reader = BufReader::new(file);
        let mut offset = offset;
        let mut line = Vec::new();
        loop {
            if out.len() >= max {
                self.position = Some((segment.clone(), offset));
                return Ok(false);
            }
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 || line.last() != Some(&b'\n') {
                // End of file, or a torn last line: not ours yet.
                self.position = Some((segment.clone(), offset));
                return Ok(true);
            }
            // Lines before the wanted seq (a reader started again at its
            // cursor) are skipped without parsing their events.
            if leading_seq(&line).is_some_and(|seq| seq < self.next_seq) {
                offset += n as u64;
                continue;
            }
            let record = match read_line(&line) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(
                        segment = %segment.path.display(),
                        offset,
                        error = %e,
                        "outbox: skipping a line that is not a record"
                    );
                    offset += n as u64;
                    continue;
                }
            };
            if durable.is_some_and(|d| record.seq > d) {
                self.position = Some((segment.clone(), offset));
                return Ok(false);
            }
            offset += n as u64;
            if record.seq < self.next_seq {
                continue;
            }
            if record.seq > self.next_seq && !out.is_empty() {
                tracing::warn!(
                    expected = self.next_seq,
                    found = record.seq,
                    "outbox: sequence gap"
                );
            }
            self.next_seq = record.seq.saturating_add(1);
            out.push(record);
        }
    }
}

/// The segments of an outbox directory, oldest first. Files that are not
/// `<digits>.jsonl` are ignored.
pub fn list_segments(outbox: &Path) -> io::Result<Vec<Segment>> {
    let entries = match fs::read_dir(outbox) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".jsonl")) else {
            continue;
        };
        if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(first_seq) = stem.parse::<u64>() {
            out.push(Segment {
                first_seq,
                path: entry.path(),
            });
        }
    }
    out.sort_by_key(|s| s.first_seq);
    Ok(out)
}

/// Deletes the segments every sink is done with: those whose last seq (the
/// next segment's first seq − 1) is at or below `min_cursor`. The newest
/// segment is never deleted (the journal appends to it). Returns how many
/// were deleted.
pub(crate) fn remove_delivered_segments(dir: &Path, min_cursor: u64) -> io::Result<usize> {
    let outbox = outbox_dir(dir);
    let segments = list_segments(&outbox)?;
    let mut removed = 0;
    for pair in segments.windows(2) {
        let [old, next] = pair else { break };
        if next.first_seq.saturating_sub(1) > min_cursor {
            break;
        }
        match fs::remove_file(&old.path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    if removed > 0 {
        sync_dir(&outbox)?;
    }
    Ok(removed)
}

/// The highest complete sequence number in the outbox (the last complete
/// line of the newest non-empty segment), `None` when it is empty.
pub(crate) fn highest_seq(dir: &Path) -> io::Result<Option<u64>> {
    let segments = list_segments(&outbox_dir(dir))?;
    for segment in segments.iter().rev() {
        if let Some(seq) = last_seq_in(&segment.path)? {
            return Ok(Some(seq));
        }
    }
    Ok(None)
}

/// The seq of the last complete line of a segment, reading only its tail
/// when that holds a complete line.
fn last_seq_in(path: &Path) -> io::Result<Option<u64>> {
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let mut window = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        (&mut file).take(len - start).read_to_end(&mut tail)?;
        // Complete lines end in '\n'; a leading partial line (when the
        // window starts mid-line) is skipped.
        let complete_end = tail.iter().rposition(|b| *b == b'\n');
        if let Some(end) = complete_end {
            let body = tail.get(..end).unwrap_or_default();
            let from = if start == 0 {
                0
            } else {
                body.iter()
                    .position(|b| *b == b'\n')
                    .map_or(usize::MAX, |p| p + 1)
            };
            for line in body.get(from..).unwrap_or_default().rsplit(|b| *b == b'\n') {
                if let Ok(record) = serde_json::from_slice::<SeqOnly>(line) {
                    return Ok(Some(record.seq));
                }
            }
        }
        if start == 0 {
            return Ok(None);
        }
        window = window.saturating_mul(4);
    }
}

/// The seq of a line as the journal writes it (`{"seq":N,...`), without
/// parsing the rest; `None` for any other shape (then parsed in full).
fn leading_seq(line: &[u8]) -> Option<u64> {
    let digits = line.strip_prefix(b"{\"seq\":")?;
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    if end == 0 || end > 19 || digits.get(end) != Some(&b',') {
        return None;
    }
    std::str::from_utf8(digits.get(..end)?).ok()?.parse().ok()
}

/// A line as a record: its event's JSON borrowed, then copied once into
/// the [`Event`] (its head read, `data` only checked).
fn read_line(line: &[u8]) -> Result<OutboxRecord, serde_json::Error> {
    #[derive(Deserialize)]
    struct Line<'a> {
        seq: u64,
        #[serde(borrow)]
        event: &'a serde_json::value::RawValue,
    }
    let line: Line<'_> = serde_json::from_slice(line)?;
    Ok(OutboxRecord {
        seq: line.seq,
        event: Event::from_json(line.event.get().as_bytes())?,
    })
}

#[derive(Deserialize)]
struct SeqOnly {
    seq: u64,
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
