//! Where heavy work runs: Argon2 password checks, encrypting and decrypting
//! documents, building and reading bundles, reading the audit log. It runs
//! on a pool of its own whose threads have the lowest CPU priority (nice
//! 19), so that on a small machine (two cores) a burst of downloads or
//! logins cannot starve the runtime's workers or the short use cases that
//! `AppState::run` puts on tokio's ordinary blocking pool: `/healthz` and a
//! small read stay quick while the heavy work takes whatever CPU is left.
//! A thread's priority cannot be raised again without privileges, which is
//! why the heavy pool is separate rather than a niced ordinary thread.

use std::sync::OnceLock;

use tokio::task::JoinHandle;

/// Threads the heavy pool may run at once; more work waits its turn.
const HEAVY_THREADS: usize = 64;

fn pool() -> &'static tokio::runtime::Runtime {
    static POOL: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    POOL.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(HEAVY_THREADS)
            .thread_name("handover-heavy")
            .on_thread_start(lowest_priority)
            .enable_all()
            .build()
            .expect("the heavy-work pool starts")
    })
}

#[cfg(target_os = "linux")]
fn lowest_priority() {
    // SAFETY: setpriority on the calling thread's own id has no memory
    // effects; a failure only leaves the thread at its priority.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19);
    }
}

#[cfg(not(target_os = "linux"))]
fn lowest_priority() {}

/// Runs `work` on the heavy pool (the drop-in for `spawn_blocking`).
pub fn spawn_heavy<T, F>(work: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    pool().spawn_blocking(work)
}

/// Runs a short blocking step of an async use case (a database query, an
/// audit append that waits for its fsync) where it stands, without holding
/// up the runtime: on a multi-threaded runtime the worker's other tasks move
/// to another worker meanwhile (`block_in_place`); elsewhere it just runs.
pub(super) fn inline<T>(step: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(step),
        _ => step(),
    }
}
