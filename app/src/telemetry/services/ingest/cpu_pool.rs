//! The threads that do ingest's CPU work (decoding, normalization, pricing,
//! compression) before the writer commits it.
//!
//! They run at a lower scheduling priority than the rest of the server. The
//! one serial step of ingest, the writer and its database connection, takes
//! turns with these threads on the same cores; at equal priority the kernel
//! preempted the database thread thousands of times a second in favour of
//! request preparation, and every such wait lengthened every commit.
//! Preparation is parallel and can catch up; the commit cannot.

use std::panic::{AssertUnwindSafe, catch_unwind};

use tokio::sync::oneshot;

/// How much less these threads weigh than a thread at the default priority:
/// the nice value they run at (0 is the default, 19 the lowest). At 10 the
/// kernel gives a waiting default-priority thread about ten times their
/// share of a core.
const PREPARATION_NICE: i32 = 10;

/// A fixed pool of preparation threads, one per core: more at once would
/// only add threads and memory and take CPU from the writer.
pub struct CpuPool {
    pool: rayon_core::ThreadPool,
}

impl std::fmt::Debug for CpuPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuPool")
            .field("threads", &self.pool.current_num_threads())
            .finish()
    }
}

/// Why a job gave no result.
#[derive(Debug, thiserror::Error)]
pub enum CpuPoolError {
    #[error("the preparation threads could not start: {0}")]
    Start(String),
    #[error("the preparation job panicked")]
    Panicked,
}

impl CpuPool {
    /// Ingest's preparation threads.
    pub fn new(threads: usize) -> Result<Self, CpuPoolError> {
        Self::named(threads, "ingest-prep", PREPARATION_NICE)
    }

    /// Threads named `name-<n>` at `nice` (0 the default priority, 19 the
    /// lowest): background work below ingest uses a higher one.
    pub fn named(threads: usize, name: &'static str, nice: i32) -> Result<Self, CpuPoolError> {
        let pool = rayon_core::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(move |index| format!("{name}-{index}"))
            .start_handler(move |_| lower_this_threads_priority(nice))
            .build()
            .map_err(|err| CpuPoolError::Start(err.to_string()))?;
        Ok(Self { pool })
    }

    /// Threads named `name-<n>` that run only when a core would otherwise
    /// idle (Linux's `SCHED_IDLE`; elsewhere the lowest nice value): for
    /// long background computations such as a model's forward passes. At
    /// nice 19 alone such a thread still held a core for a moment after
    /// ingest's threads woke, enough to slow their answers by half again
    /// under a moderate load (BENCHMARKS.md); any other thread preempts an
    /// idle-class one at once.
    pub fn idle(threads: usize, name: &'static str) -> Result<Self, CpuPoolError> {
        let pool = rayon_core::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(move |index| format!("{name}-{index}"))
            .start_handler(|_| {
                lower_this_threads_priority(19);
                run_this_thread_only_when_idle();
            })
            .build()
            .map_err(|err| CpuPoolError::Start(err.to_string()))?;
        Ok(Self { pool })
    }

    /// Runs `work` on a preparation thread; jobs wait their turn in order.
    /// A waiting job holds only what its closure captured (a request body,
    /// which the body-size limit bounds).
    pub async fn run<T, F>(&self, work: F) -> Result<T, CpuPoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        self.pool.spawn(move || {
            // A panic must reach the request as an error, not unwind into
            // the pool (which would abort the process).
            let _ = done.send(catch_unwind(AssertUnwindSafe(work)));
        });
        match result.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) | Err(_) => Err(CpuPoolError::Panicked),
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_this_threads_priority(nice: i32) {
    // On Linux the nice value belongs to each thread, and `who = 0` names
    // the calling one. Raising it needs no privilege; failing leaves the
    // thread at the default priority, which is only slower.
    // SAFETY: setpriority reads no memory of ours.
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    if result != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not lower the preparation thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority(_nice: i32) {}

#[cfg(target_os = "linux")]
fn run_this_thread_only_when_idle() {
    let parameters = libc::sched_param { sched_priority: 0 };
    // `pid = 0` names the calling thread; lowering the policy to SCHED_IDLE
    // needs no privilege.
    // SAFETY: sched_setscheduler reads the parameters we pass, nothing else.
    let result = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &parameters) };
    if result != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "could not move a background thread to SCHED_IDLE");
    }
}

#[cfg(not(target_os = "linux"))]
fn run_this_thread_only_when_idle() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_work_and_reports_panics() {
        let pool = CpuPool::new(2).unwrap();
        assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42);
        let panicked = pool.run(|| -> u8 { panic!("bad input") }).await;
        assert!(matches!(panicked, Err(CpuPoolError::Panicked)));
        // The pool survives a panicking job.
        assert_eq!(pool.run(|| "still here").await.unwrap(), "still here");
        // An idle-class pool runs work too (on an otherwise quiet machine).
        let idle = CpuPool::idle(1, "test-idle").unwrap();
        #[cfg(target_os = "linux")]
        {
            // SAFETY: sched_getscheduler reads nothing of ours.
            let policy = idle.run(|| unsafe { libc::sched_getscheduler(0) }).await.unwrap();
            assert_eq!(policy, libc::SCHED_IDLE);
        }
        assert_eq!(idle.run(|| 6 * 7).await.unwrap(), 42);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn preparation_threads_run_at_lower_priority() {
        let pool = CpuPool::new(1).unwrap();
        // SAFETY: getpriority reads no memory of ours.
        let nice = pool
            .run(|| unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) })
            .await
            .unwrap();
        // SAFETY: as above, for the test's own thread.
        let default = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        assert_eq!(nice, (default + PREPARATION_NICE).min(19));
    }
}
