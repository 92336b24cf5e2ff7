//! The journal's own thread, where its batches are written.
//!
//! The file work of a batch must not run on a request thread (a slow
//! disk would stall every request on it), so it is handed to another
//! thread and the journal's task waits for the answer. tokio's blocking
//! pool did that at twice the cost the hand-off needs: `spawn_blocking`
//! wakes an idle pool thread while it still holds the pool's lock, so on
//! a busy core the woken thread runs at once, finds the lock taken and
//! sleeps again, and is woken a second time when the lock is released
//! (measured with `perf sched`, audited POSTs on one core: of every two
//! runs of a pool thread, one was such a wasted wake-up, about 4 context
//! switches per batch where 2 do). Each batch also went to whichever pool
//! thread was idle, so the writer's buffers and the files' state were
//! cold in its cache.
//!
//! Here one thread takes the jobs from a queue whose lock is released
//! before the thread is woken: one wake-up per batch, on the same
//! thread each time. Jobs run one after another in the order given; the
//! journal's task gives one batch at a time and waits for it. A job that
//! panics answers `None` (as a failed `spawn_blocking` would) and the
//! thread goes on. The thread ends once its [`WriteThread`] is dropped
//! and the queue is empty.
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// The handle the journal's task gives jobs through.
pub(super) struct WriteThread {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

impl WriteThread {
    /// Starts the thread (named `name`).
    pub(super) fn start(name: &str) -> std::io::Result<WriteThread> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
        });
        let worker = shared.clone();
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || worker.serve())?;
        Ok(WriteThread { shared })
    }

    /// Runs `work` on the thread and waits for its result without holding
    /// the caller's thread; `None` when it panicked (or the thread is
    /// gone).
    pub(super) async fn run<T, F>(&self, work: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (answer, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = catch_unwind(AssertUnwindSafe(work)).ok();
            let _ = answer.send(outcome);
        });
        self.shared.lock().jobs.push_back(job);
        // After the lock is released: the thread, woken, takes it at once.
        self.shared.ready.notify_one();
        result.await.ok().flatten()
    }
}

impl Drop for WriteThread {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_one();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A job never runs under the lock, so no panic can poison it
        // mid-change; a poisoned lock's queue is whole.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn serve(&self) {
        loop {
            let job = {
                let mut queue = self.lock();
                loop {
                    if let Some(job) = queue.jobs.pop_front() {
                        break job;
                    }
                    if queue.closed {
                        return;
                    }
                    queue = self
                        .ready
                        .wait(queue)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            job();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn runs_jobs_in_order_on_one_named_thread() {
        let thread = WriteThread::start("journal-test").unwrap();
        let mut names = Vec::new();
        for i in 0..50u32 {
            let (n, name) = thread
                .run(move || (i, std::thread::current().name().map(str::to_string)))
                .await
                .unwrap();
            assert_eq!(n, i);
            names.push(name);
        }
        assert!(names.iter().all(|n| n.as_deref() == Some("journal-test")));
        assert_ne!(
            std::thread::current().name(),
            Some("journal-test"),
            "the jobs ran off the caller's thread"
        );
    }

    #[tokio::test]
    async fn a_panicking_job_answers_none_and_the_thread_goes_on() {
        let thread = WriteThread::start("journal-test").unwrap();
        let panicked: Option<u32> = thread.run(|| panic!("job failed")).await;
        assert_eq!(panicked, None);
        assert_eq!(thread.run(|| 7).await, Some(7));
    }

    #[tokio::test]
    async fn the_thread_ends_when_its_handle_is_dropped() {
        let thread = WriteThread::start("journal-test").unwrap();
        let weak = Arc::downgrade(&thread.shared);
        assert_eq!(thread.run(|| 1).await, Some(1));
        drop(thread);
        // The thread holds the other reference until it returns.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while weak.upgrade().is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "the thread did not end"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[tokio::test]
    async fn jobs_given_at_once_all_run() {
        let thread = Arc::new(WriteThread::start("journal-test").unwrap());
        let runs: Vec<_> = (0..32u64)
            .map(|i| {
                let thread = thread.clone();
                tokio::spawn(async move { thread.run(move || i * 2).await })
            })
            .collect();
        for (i, run) in runs.into_iter().enumerate() {
            assert_eq!(run.await.unwrap(), Some(i as u64 * 2));
        }
    }
}
