//! CPU-heavy steps of large requests run off the reactor.
//!
//! The pipeline's synchronous steps (the dialect's rewriting, validation
//! and mapping of a body, mapping an answer back) cost time in proportion
//! to the body. For the common request (a User, a small PATCH: a few KB,
//! tens of µs) running them in the request's task is the cheapest. A body
//! near the 2 MiB cap costs tens of milliseconds, and more with many PATCH
//! operations; run in the task, that time is taken from every other
//! request on the same worker thread (and with `run --worker-threads 1`,
//! from every request of every tenant).
//!
//! So a body over [`INLINE_MAX_BYTES`] is handled on tokio's blocking
//! pool, and the request's task waits for it without holding the worker.
//! Why this and not the alternatives:
//! - `tokio::task::block_in_place` would keep the code synchronous, but it
//!   panics on the current-thread runtime that `run --worker-threads 1`
//!   uses.
//! - Checking the request deadline inside the loops would stop a runaway
//!   request, but until then it still holds the worker: other tenants
//!   would wait up to the whole request timeout.
//! - Yielding every N operations would need the pure core (`scim`,
//!   `dialect`, `mapping`) to become async; it is plain functions by
//!   design.
//!
//! A handoff costs a few µs (two thread wake-ups), which is nothing next
//! to the work of a body above the threshold (parsing 64 KB alone takes
//! about 100 µs) and would be a loss for the small ones, which stay
//! inline. At most as many large bodies are worked on at once as the
//! machine has cores (a semaphore): more would only share the same cores,
//! and hold more parsed bodies in memory, while the reactor keeps its
//! share either way. The work itself is bounded too: PATCH by
//! `max_patch_operations` and by linear-time merging and application,
//! Bulk by its `maxOperations`, every body by `max_request_body_bytes`.
use crate::scim::error::{ScimError, ScimResult};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// Bodies up to this size are worked on in the request's task.
pub const INLINE_MAX_BYTES: usize = 64 * 1024;

/// Whether a body of `bytes` goes to the blocking pool.
pub fn worth_it(bytes: usize) -> bool {
    bytes > INLINE_MAX_BYTES
}

/// One permit per core: the large bodies worked on at once.
fn permits() -> Arc<Semaphore> {
    static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    PERMITS
        .get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            Arc::new(Semaphore::new(cores))
        })
        .clone()
}

/// Runs `work` on tokio's blocking pool and waits for its result without
/// holding the worker thread.
pub async fn blocking<T, F>(work: F) -> ScimResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let lost = || ScimError::internal("the gateway failed to process the request");
    let permit = permits().acquire_owned().await.map_err(|_| lost())?;
    // The permit goes with the work: a client that hangs up stops waiting,
    // not the work, which keeps its core until it ends.
    let work = move || {
        let _permit = permit;
        work()
    };
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(error = %e, "a request's off-reactor work failed");
        lost()
    })
}
