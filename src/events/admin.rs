//! The `events` subcommands (`redeliver`, `status`): plain functions over
//! the events directory that return the text to print. They need no
//! config and are safe while the gateway runs (renames and reads only).
use crate::events::cursor::{list_cursors, outbox_dir};
use crate::events::deadletter;
use crate::events::outbox::{highest_seq, list_segments};
use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::Path;

/// Moves dead letters back to be delivered by the running gateway's
/// dispatcher, and says how many per sink.
pub fn redeliver(dir: &Path, sink: Option<&str>, tenant: Option<&str>) -> Result<String, String> {
    require_dir(dir)?;
    if let Some(s) = sink {
        if !deadletter::sink_dir(dir, s).is_dir() {
            return Err(format!(
                "no dead letters for sink \"{s}\" under {}",
                dir.join("deadletter").display()
            ));
        }
    }
    let reports = deadletter::requeue(dir, sink, tenant)
        .map_err(|e| format!("requeueing dead letters in {}: {e}", dir.display()))?;
    let mut out = String::new();
    let mut total = 0;
    for r in &reports {
        total += r.requeued;
        let _ = writeln!(
            out,
            "{}: {} requeued, {} left",
            r.sink, r.requeued, r.skipped
        );
    }
    let _ = writeln!(
        out,
        "{total} event(s) requeued; the running gateway delivers them before newer events"
    );
    Ok(out)
}

/// The outbox's highest seq and segment count, and per sink its cursor,
/// lag, dead letters and requeued events.
pub fn status(dir: &Path) -> Result<String, String> {
    let outbox = outbox_status(dir)?;
    let mut out = format!(
        "outbox: highest seq {}, {} segment(s)\n",
        outbox.highest, outbox.segments
    );
    for s in &outbox.sinks {
        let _ = writeln!(
            out,
            "{}: cursor {}, behind {}, dead letters {}, requeued {}",
            s.sink,
            s.cursor.map_or("-".to_string(), |c| c.to_string()),
            s.behind,
            s.dead_letters,
            s.requeued,
        );
    }
    Ok(out)
}

/// The outbox and its sinks at one moment (`events status`, the admin
/// API).
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct OutboxStatus {
    /// The highest seq written to the outbox (0: none).
    pub highest: u64,
    pub segments: usize,
    pub sinks: Vec<SinkStatus>,
}

/// One sink's place in the outbox.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct SinkStatus {
    pub sink: String,
    /// The last seq it delivered (or dead-lettered); `None`: nothing yet.
    pub cursor: Option<u64>,
    /// Events written and not yet delivered to it.
    pub behind: u64,
    pub dead_letters: usize,
    pub requeued: usize,
}

/// Reads the outbox's state from `dir` (reads only: safe while the
/// gateway runs).
pub(crate) fn outbox_status(dir: &Path) -> Result<OutboxStatus, String> {
    require_dir(dir)?;
    let fail = |e: std::io::Error| format!("reading {}: {e}", dir.display());
    let highest = highest_seq(dir).map_err(fail)?.unwrap_or(0);
    let segments = list_segments(&outbox_dir(dir)).map_err(fail)?.len();
    let cursors = list_cursors(dir).map_err(fail)?;
    let mut names: BTreeSet<String> = cursors.iter().map(|(s, _)| s.clone()).collect();
    names.extend(deadletter::sinks(dir).map_err(fail)?);
    let mut sinks = Vec::new();
    for sink in names {
        let cursor = cursors.iter().find(|(s, _)| *s == sink).map(|(_, c)| *c);
        sinks.push(SinkStatus {
            dead_letters: deadletter::list(dir, &sink).map_err(fail)?.len(),
            requeued: deadletter::list_requeued(dir, &sink).map_err(fail)?.len(),
            behind: highest.saturating_sub(cursor.unwrap_or(0)),
            cursor,
            sink,
        });
    }
    Ok(OutboxStatus {
        highest,
        segments,
        sinks,
    })
}

/// A mistyped `--dir` should say so, not report an empty outbox.
fn require_dir(dir: &Path) -> Result<(), String> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(format!("{} is not a directory", dir.display()))
    }
}
