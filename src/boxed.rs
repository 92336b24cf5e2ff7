//! Futures boxed where they are built.
//!
//! `Box::pin(future)` builds the future on the stack and then copies it,
//! its whole size, into the allocation. The request path boxes several
//! large futures per request (the pipeline's state is about 5.6 KB, the
//! upstream exchange's 3 KB), and those copies were about a third of the
//! bytes a default-tenant POST copied (38 KB of `memmove` per request,
//! the gateway's largest user-space cost in `perf`). [`pinned`] allocates
//! first and builds the future in the allocation: the compiler then writes
//! the future's first state straight into it, and nothing is copied
//! (checked with the load bench's `memmove` sizes: 41.6 → 29.9 KB per
//! POST; `benches/load/README.md`).
use std::pin::Pin;

/// `Box::pin(make())`, the future built in its allocation (see the
/// module docs). `make` is a closure so that the allocation comes first:
/// a future passed by value would already be built, on the stack.
#[inline(always)]
pub(crate) fn pinned<F>(make: impl FnOnce() -> F) -> Pin<Box<F>> {
    Box::into_pin(Box::write(Box::new_uninit(), make()))
}

#[cfg(test)]
mod tests {
    use super::pinned;

    #[tokio::test]
    async fn a_pinned_future_runs_as_boxed() {
        let text = String::from("state");
        let future = pinned(|| async move {
            tokio::task::yield_now().await;
            text.len()
        });
        assert_eq!(future.await, 5);
    }
}
