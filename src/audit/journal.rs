//! The journal: one background task owns the audit files and the outbox;
//! requests hand it entries through a bounded queue and await an [`Ack`].
//! Requests never touch the disk.
//!
//! Group commit: the task takes everything queued (up to [`MAX_BATCH`]),
//! writes it with one write(2) per file and, under `fsync = "per_record"`,
//! one fsync per file, then resolves the batch's acks. The file work runs
//! on the journal's own thread ([`WriteThread`]), so a slow disk never
//! stalls a request thread; entries queued meanwhile form the next batch.
//! Under `fsync = "interval"` the periodic fsync runs beside the loop, on
//! tokio's blocking pool and on descriptors of its own
//! (`Writer::begin_sync`): batches go on being written while it runs, and
//! only what was written before it began is published as durable.
use super::metrics::{self, FileKind};
use super::record::AuditRecord;
use super::settings::{AuditSettings, FsyncPolicy};
use super::thread::WriteThread;
use super::writer::{Entry, Receipt, Writer};
use crate::events::{Event, OutboxRecord, RecentEvent, RecentEvents};
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Most entries in one group commit.
pub const MAX_BATCH: usize = 4096;

/// Most turns of the scheduler the journal's task gives up before it
/// takes a batch, while each brings more entries.
const YIELDS: usize = 4;

/// The handle requests append through; cheap to clone. When the last
/// clone is dropped the task writes what is queued, fsyncs and ends.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Command>,
    outbox: watch::Receiver<u64>,
    /// Set once a write or fsync failed (the task answers errors since).
    stopped: Arc<AtomicBool>,
    /// The chain's head after the last batch written (for the admin API;
    /// set by the journal's task, never on a request's path).
    head: Arc<std::sync::Mutex<super::chain::ChainHead>>,
    /// The newest events, for the dispatcher (filled by the task).
    recent: Arc<RecentEvents>,
}

/// Resolves when the entry is as durable as the policy promises:
/// `per_record`: after the fsync of its batch; `interval`: after its
/// write(2) (on disk at the next fsync, within `fsync_interval`).
/// Awaiting it includes waiting for room in the queue when it is full, so
/// bound it with the request's deadline. Dropping an `Ack` after the entry
/// was queued does not withdraw the entry.
#[must_use = "an Ack does nothing until awaited"]
pub struct Ack {
    state: AckState,
}

enum AckState {
    /// Queued; waiting for the writer's answer.
    Queued(oneshot::Receiver<Result<Receipt, JournalError>>),
    /// The queue was full: waiting for room, then for the answer.
    Waiting(Pin<Box<dyn Future<Output = Result<Receipt, JournalError>> + Send>>),
    /// Already decided.
    Ready(Option<Result<Receipt, JournalError>>),
}

/// Why an entry was not journaled. Opaque; the predicates are the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalError {
    kind: ErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKind {
    /// The journal was shut down (or its task is gone).
    Closed,
    /// A write or fsync failed; the journal stopped (fail closed).
    Failed(FileKind),
}

enum Command {
    /// The entry (its event kept for the dispatcher) and where to answer.
    Append(Entry, oneshot::Sender<Result<Receipt, JournalError>>),
    Shutdown(oneshot::Sender<Result<(), JournalError>>),
}

// === impl Journal ===

impl Journal {
    /// Opens (or continues) the journal in `settings.dir` and starts its
    /// task on the current tokio runtime. A torn last line left by a crash
    /// is cut off and logged (it was never acknowledged).
    pub fn open(settings: AuditSettings) -> Result<Journal, String> {
        let problems = settings.problems();
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "the audit journal needs a tokio runtime".to_string())?;
        crate::telemetry::names::audit::describe();
        let lock = lock_dir(&settings.dir)?;
        let writer = Writer::open(&settings)?;
        let thread = WriteThread::start("audit-journal")
            .map_err(|e| format!("cannot start the audit journal's thread: {e}"))?;
        let durable = writer.durable_outbox_seq();
        metrics::outbox_durable(durable);
        tracing::info!(
            dir = %settings.dir.display(),
            head_seq = writer.head().seq,
            head_hash = %writer.head().hash_hex(),
            outbox_seq = durable,
            fsync = ?settings.fsync,
            "audit journal opened"
        );
        let (tx, rx) = mpsc::channel(settings.queue);
        let (watch_tx, outbox) = watch::channel(durable);
        let stopped = Arc::new(AtomicBool::new(false));
        let stopped_flag = stopped.clone();
        let head = Arc::new(std::sync::Mutex::new(writer.head().clone()));
        let recent = Arc::new(RecentEvents::new());
        let task = Task {
            head: head.clone(),
            lock,
            recent: recent.clone(),
            thread,
        };
        runtime.spawn(run(rx, writer, settings, watch_tx, stopped, task));
        Ok(Journal {
            tx,
            outbox,
            stopped: stopped_flag,
            head,
            recent,
        })
    }

    /// Queues `record` (and `event`, for the outbox, in the same batch and
    /// the same fsync). See [`Ack`] for when it resolves.
    pub fn append(&self, record: AuditRecord, event: Option<Event>) -> Ack {
        let auth_failure = record.kind == super::record::AuditKind::AuthFailure;
        self.append_json(record.to_json(), auth_failure, event)
    }

    /// [`Self::append`] of a record already written as JSON
    /// ([`RecordRef::to_json`](super::record::RecordRef::to_json)).
    pub(crate) fn append_json(
        &self,
        record: Vec<u8>,
        auth_failure: bool,
        event: Option<Event>,
    ) -> Ack {
        // The event is already its JSON; the same bytes go on to the
        // dispatcher (`RecentEvents`), so a caught-up sink neither reads
        // nor parses it back.
        let entry = Entry {
            record,
            event,
            auth_failure,
        };
        let (reply, answer) = oneshot::channel();
        match self.tx.try_send(Command::Append(entry, reply)) {
            Ok(()) => Ack {
                state: AckState::Queued(answer),
            },
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Ack::ready(Err(JournalError::new(ErrorKind::Closed)))
            }
            Err(mpsc::error::TrySendError::Full(command)) => {
                let tx = self.tx.clone();
                Ack {
                    state: AckState::Waiting(Box::pin(async move {
                        tx.send(command)
                            .await
                            .map_err(|_| JournalError::new(ErrorKind::Closed))?;
                        answer
                            .await
                            .unwrap_or(Err(JournalError::new(ErrorKind::Closed)))
                    })),
                }
            }
        }
    }

    /// Journals a failed authentication (no event).
    pub fn auth_failure(
        &self,
        request_id: &str,
        method: &str,
        client_ip: IpAddr,
        tenant: Option<&str>,
        status: u16,
        reason: &str,
    ) -> Ack {
        let record =
            AuditRecord::auth_failure(request_id, method, client_ip, tenant, status, reason);
        self.append(record, None)
    }

    /// The chain's head: the last record's `seq` and the SHA-256 (hex) of
    /// its line, as of the last batch written.
    pub fn head(&self) -> (u64, String) {
        let head = self
            .head
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (head.seq, head.hash_hex())
    }

    /// Whether the journal still takes entries: `false` after a shutdown
    /// or after a write or fsync failure stopped it. Writes are refused
    /// before they reach an upstream while it is `false` (fail closed).
    pub fn is_open(&self) -> bool {
        !self.tx.is_closed() && !self.stopped.load(Ordering::Acquire)
    }

    /// The highest durable (fsynced) outbox seq; sinks wake on changes.
    /// Only durable seqs are published: after a power loss the outbox
    /// continues from what is on disk, and a sink must never have seen a
    /// seq that is then reused.
    pub fn outbox_watch(&self) -> watch::Receiver<u64> {
        self.outbox.clone()
    }

    /// The newest events written, in memory, for the dispatcher
    /// ([`RecentEvents`]; read only up to [`Self::outbox_watch`]).
    pub fn recent_events(&self) -> Arc<RecentEvents> {
        self.recent.clone()
    }

    /// Stops taking entries, writes everything already queued, fsyncs, and
    /// resolves when that is done. Later appends fail with
    /// [`JournalError::is_closed`].
    pub async fn shutdown(&self) -> Result<(), JournalError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Command::Shutdown(reply))
            .await
            .map_err(|_| JournalError::new(ErrorKind::Closed))?;
        answer
            .await
            .unwrap_or(Err(JournalError::new(ErrorKind::Closed)))
    }
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("outbox_seq", &*self.outbox.borrow())
            .finish_non_exhaustive()
    }
}

// === impl Ack ===

impl Ack {
    fn ready(result: Result<Receipt, JournalError>) -> Ack {
        Ack {
            state: AckState::Ready(Some(result)),
        }
    }
}

impl Future for Ack {
    type Output = Result<Receipt, JournalError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            AckState::Queued(answer) => Pin::new(answer)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(JournalError::new(ErrorKind::Closed)))),
            AckState::Waiting(fut) => fut.as_mut().poll(cx),
            AckState::Ready(result) => Poll::Ready(
                result
                    .take()
                    .unwrap_or(Err(JournalError::new(ErrorKind::Closed))),
            ),
        }
    }
}

impl fmt::Debug for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ack")
    }
}

// === impl JournalError ===

impl JournalError {
    fn new(kind: ErrorKind) -> Self {
        JournalError { kind }
    }

    /// The journal was shut down.
    pub fn is_closed(&self) -> bool {
        self.kind == ErrorKind::Closed
    }

    /// A write or fsync failed and the journal stopped.
    pub fn is_failed(&self) -> bool {
        matches!(self.kind, ErrorKind::Failed(_))
    }
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::Closed => f.write_str("the audit journal is closed"),
            ErrorKind::Failed(kind) => write!(
                f,
                "the audit journal stopped after an I/O failure on the {} file",
                kind.as_str()
            ),
        }
    }
}

impl std::error::Error for JournalError {}

// === the task ===

/// An exclusive lock on `<dir>/LOCK`: one journal per directory, also
/// across processes (each replica needs its own audit directory). The
/// kernel drops the lock when the process dies, even by SIGKILL.
fn lock_dir(dir: &std::path::Path) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the audit directory {}: {e}", dir.display()))?;
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |_| {
            format!(
                "the audit directory {} is in use by another gateway process (each replica needs its own [audit] dir)",
                dir.display()
            )
        },
    )?;
    Ok(file)
}

/// What the journal's task keeps besides the writer: where it publishes
/// the chain's head, the directory's lock (held while it runs), and the
/// thread its batches are written on.
struct Task {
    head: Arc<std::sync::Mutex<super::chain::ChainHead>>,
    lock: std::fs::File,
    recent: Arc<RecentEvents>,
    thread: WriteThread,
}

/// The writer moves to the journal's thread for each batch and comes back.
async fn run(
    mut rx: mpsc::Receiver<Command>,
    writer: Writer,
    settings: AuditSettings,
    watch_tx: watch::Sender<u64>,
    stopped: Arc<AtomicBool>,
    task: Task,
) {
    let Task {
        head,
        lock,
        recent,
        thread,
    } = task;
    let per_record = settings.fsync == FsyncPolicy::PerRecord;
    let mut writer = Some(writer);
    let mut failed: Option<JournalError> = None;
    let mut sync_due: Option<Instant> = None;
    // The interval fsync in flight: it runs beside the loop, so batches
    // go on being written (and their writes answered) while the disk
    // flushes, instead of every request of those milliseconds waiting.
    let mut syncing: Option<JoinHandle<SyncOutcome>> = None;
    let mut shutdown_waiters = Vec::new();
    loop {
        if failed.is_some() {
            stopped.store(true, Ordering::Release);
        }
        // Checked first, so that a queue that never empties cannot starve
        // the interval fsync.
        if syncing.is_none() && sync_due.is_some_and(|due| Instant::now() >= due) {
            sync_due = None;
            syncing = begin_sync(&mut writer, &mut failed);
        }
        let idle = syncing.is_none();
        let first = tokio::select! {
            biased;
            outcome = sync_done(&mut syncing) => {
                syncing = None;
                end_sync(outcome, &mut writer, &mut failed, &watch_tx);
                continue;
            }
            command = rx.recv() => command,
            () = sleep_until(sync_due), if idle => continue,
        };
        let Some(first) = first else { break };
        // Back of the run queue before the batch is taken, while that
        // brings more entries (at most YIELDS times): the requests already
        // woken on this worker, and those the I/O driver wakes next, run
        // first and queue their entries, so they join this batch instead
        // of waiting for the next one (fewer, larger batches: each costs
        // a hand-off to the journal's thread and back, and a write(2) per
        // file). Alone, an entry waits for one turn of the scheduler.
        let mut queued = rx.len();
        for _ in 0..YIELDS {
            tokio::task::yield_now().await;
            let now = rx.len();
            if now == queued || now >= MAX_BATCH {
                break;
            }
            queued = now;
        }
        let room = (queued + 1).min(MAX_BATCH);
        let mut entries = Vec::with_capacity(room);
        let mut replies = Vec::with_capacity(room);
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Append(entry, reply) => {
                    entries.push(entry);
                    replies.push(reply);
                }
                Command::Shutdown(reply) => {
                    // Everything already queued is still written.
                    rx.close();
                    shutdown_waiters.push(reply);
                }
            }
            if entries.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        metrics::queue_depth(rx.len());
        if entries.is_empty() {
            continue;
        }
        if let Some(error) = &failed {
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
            continue;
        }
        let result = match writer.take() {
            Some(mut w) => {
                thread
                    .run(move || {
                        let r = w.write_batch(&entries, per_record);
                        (w, r, entries)
                    })
                    .await
            }
            None => None,
        };
        match result {
            Some((w, Ok(receipts), entries)) => {
                *head
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = w.head().clone();
                writer = Some(w);
                // Before the durable seq that wakes the sinks moves.
                recent.push(recent_events(entries, &receipts));
                if per_record {
                    publish(&writer, &watch_tx);
                } else if sync_due.is_none() {
                    sync_due = Some(Instant::now() + settings.fsync_interval);
                }
                for (reply, receipt) in replies.into_iter().zip(receipts) {
                    let _ = reply.send(Ok(receipt));
                }
            }
            Some((_, Err((kind, e)), _)) => {
                fail(&mut failed, kind, &e);
                for reply in replies {
                    let _ = reply.send(Err(JournalError::new(ErrorKind::Failed(kind))));
                }
            }
            None => {
                let e = std::io::Error::other("the journal writer panicked");
                fail(&mut failed, FileKind::Audit, &e);
                for reply in replies {
                    let _ = reply.send(Err(JournalError::new(ErrorKind::Failed(FileKind::Audit))));
                }
            }
        }
    }
    // Every sender is gone or shutdown was asked: make it all durable.
    if let Some(pending) = syncing.take() {
        end_sync(pending.await, &mut writer, &mut failed, &watch_tx);
    }
    sync(&thread, &mut writer, &mut failed, &watch_tx).await;
    drop(thread);
    stopped.store(true, Ordering::Release);
    // Released before anyone hears of the shutdown, so the directory can
    // be opened again at once.
    drop(lock);
    if let Some(w) = &writer {
        tracing::info!(
            head_seq = w.head().seq,
            head_hash = %w.head().hash_hex(),
            outbox_seq = w.durable_outbox_seq(),
            "audit journal closed"
        );
    }
    let outcome = match &failed {
        Some(e) => Err(e.clone()),
        None => Ok(()),
    };
    for reply in shutdown_waiters {
        let _ = reply.send(outcome.clone());
    }
}

/// The written events of a batch, for [`RecentEvents`].
fn recent_events(
    entries: Vec<Entry>,
    receipts: &[Receipt],
) -> impl Iterator<Item = RecentEvent> + '_ {
    entries
        .into_iter()
        .zip(receipts)
        .filter_map(|(entry, receipt)| {
            Some(RecentEvent {
                record: OutboxRecord {
                    seq: receipt.outbox_seq?,
                    event: entry.event?,
                },
            })
        })
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(due) => tokio::time::sleep_until(due).await,
        None => std::future::pending().await,
    }
}

/// What an interval fsync off the loop gives back.
type SyncOutcome = Result<u64, (FileKind, std::io::Error)>;

/// Starts the interval fsync on the blocking pool (`None` when the
/// journal already failed, or when taking the files failed: then it has).
fn begin_sync(
    writer: &mut Option<Writer>,
    failed: &mut Option<JournalError>,
) -> Option<JoinHandle<SyncOutcome>> {
    if failed.is_some() {
        return None;
    }
    match writer.as_ref()?.begin_sync() {
        Ok(pending) => Some(tokio::task::spawn_blocking(move || pending.run())),
        Err((kind, e)) => {
            fail(failed, kind, &e);
            None
        }
    }
}

async fn sync_done(
    syncing: &mut Option<JoinHandle<SyncOutcome>>,
) -> Result<SyncOutcome, tokio::task::JoinError> {
    match syncing {
        Some(pending) => pending.await,
        None => std::future::pending().await,
    }
}

/// An interval fsync ended: what it covered is durable and published, or
/// the journal fails closed.
fn end_sync(
    outcome: Result<SyncOutcome, tokio::task::JoinError>,
    writer: &mut Option<Writer>,
    failed: &mut Option<JournalError>,
    watch_tx: &watch::Sender<u64>,
) {
    match outcome {
        Ok(Ok(seq)) => {
            if let Some(w) = writer.as_mut() {
                w.synced(seq);
            }
            publish(writer, watch_tx);
        }
        Ok(Err((kind, e))) => fail(failed, kind, &e),
        Err(_) => fail(
            failed,
            FileKind::Audit,
            &std::io::Error::other("the journal's fsync panicked"),
        ),
    }
}

/// fsyncs on the journal's thread and publishes the durable outbox seq.
async fn sync(
    thread: &WriteThread,
    writer: &mut Option<Writer>,
    failed: &mut Option<JournalError>,
    watch_tx: &watch::Sender<u64>,
) {
    if failed.is_some() {
        return;
    }
    let Some(mut w) = writer.take() else { return };
    let result = thread
        .run(move || {
            let r = w.sync();
            (w, r)
        })
        .await;
    match result {
        Some((w, Ok(_))) => {
            *writer = Some(w);
            publish(writer, watch_tx);
        }
        Some((_, Err((kind, e)))) => fail(failed, kind, &e),
        None => fail(
            failed,
            FileKind::Audit,
            &std::io::Error::other("the journal writer panicked"),
        ),
    }
}

fn publish(writer: &Option<Writer>, watch_tx: &watch::Sender<u64>) {
    if let Some(w) = writer {
        let seq = w.durable_outbox_seq();
        watch_tx.send_if_modified(|current| {
            let changed = *current != seq;
            *current = seq;
            changed
        });
        metrics::outbox_durable(seq);
    }
}

/// A failed write or fsync stops the journal: after a failed fsync the
/// kernel may have dropped the dirty pages, so retrying could acknowledge
/// entries that are not on disk. Writes fail closed from here on; a
/// restart cuts the torn tail and continues the chain.
fn fail(failed: &mut Option<JournalError>, kind: FileKind, e: &std::io::Error) {
    metrics::failed(kind);
    tracing::error!(
        file = kind.as_str(),
        error = %e,
        "audit journal I/O failure: the journal stopped; writes are refused until restart"
    );
    *failed = Some(JournalError::new(ErrorKind::Failed(kind)));
}
