//! CPU-heavy steps of large requests run off the reactor.
//!
//! The pipeline's synchronous steps (the dialect's rewriting, validation
//! and mapping of a body, mapping an answer back) and the emulations'
//! (applying a PATCH to a resource read from the upstream, filtering a
//! listing) cost time in proportion to what they work on. For the common
//! request (a User, a small PATCH: a few KB, tens of µs) running them in
//! the request's task is the cheapest. A body near the 2 MiB cap costs
//! tens of milliseconds, more with many PATCH operations; run in the task,
//! that time is taken from every other request on the same worker thread
//! (with `run --worker-threads 1`, from every request of every tenant).
//!
//! So a body over [`INLINE_MAX_BYTES`] (a listing over
//! [`INLINE_MAX_RESOURCES`]) is worked on in tokio's blocking pool, and
//! the request's task waits for it without holding its worker. Why this
//! and not the alternatives:
//! - `tokio::task::block_in_place` would keep the code synchronous, but it
//!   panics on the current-thread runtime of `run --worker-threads 1`.
//! - Checking the request deadline inside the loops stops a runaway
//!   request, but until then it holds the worker: other tenants would
//!   wait up to the whole request timeout.
//! - Yielding every N operations would make the pure core (`scim`,
//!   `dialect`, `mapping`) async; it is plain functions by design.
//!
//! A handoff costs a few µs (two thread wake-ups): nothing next to the
//! work of a body above the threshold (parsing 64 KB alone takes about
//! 100 µs), a loss for the small ones, which stay inline. At most as many
//! large bodies are worked on at once as the machine has cores (a
//! semaphore): more would only share the same cores and hold more parsed
//! bodies in memory, while the reactor keeps its share either way. The
//! work itself is bounded: PATCH by `max_patch_operations` and linear-time
//! merging and application, Bulk by its `maxOperations`, every body by
//! `max_request_body_bytes`, listings by the emulation's page bounds.
//!
//! Not moved: the built-in store (its operations run under its lock and
//! are bounded by its own limits), and the mapped-filter emulation's
//! evaluation (its plan borrows the tenant's schema; its listing is
//! bounded by `filter_max_pages` × `filter_page_size`).
use crate::scim::error::{ScimError, ScimResult};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// Bodies up to this size are worked on in the request's task.
pub(crate) const INLINE_MAX_BYTES: usize = 64 * 1024;

/// Lists of up to this many resources are evaluated in the request's
/// task (an emulated filter over a listing: about 64 KB of typical Users).
pub(crate) const INLINE_MAX_RESOURCES: usize = 64;

/// Whether a body of `bytes` goes to the blocking pool.
pub(crate) fn worth_it(bytes: usize) -> bool {
    bytes > INLINE_MAX_BYTES
}

/// Whether a list of `resources` is evaluated on the blocking pool.
pub(crate) fn worth_it_resources(resources: usize) -> bool {
    resources > INLINE_MAX_RESOURCES
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
pub(crate) async fn blocking<T, F>(work: F) -> ScimResult<T>
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
