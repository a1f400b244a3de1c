//! Independent per-entry jobs (digesting entries, decrypting documents) run
//! on a few threads. The outcome is the same as running them in order: on
//! failure, the error of the lowest failing job is returned.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Most threads one bundle operation uses.
const MAX_THREADS: usize = 4;

/// Runs `job(0..count)` on up to [`MAX_THREADS`] threads and returns the
/// results in index order. Jobs are taken in increasing order, and once one
/// fails no new job starts; every job below a failing one has therefore
/// been taken and finished, so the lowest error is the one a sequential run
/// would have met first.
pub fn run<T, E, F>(count: usize, job: F) -> Result<Vec<T>, E>
where
    T: Send,
    E: Send,
    F: Fn(usize) -> Result<T, E> + Sync,
{
    run_on(MAX_THREADS, count, job)
}

/// Like [`run`], on at most `threads` threads (and never more than the
/// machine's cores): for jobs that each hold buffers or threads of their own.
pub fn run_on<T, E, F>(threads: usize, count: usize, job: F) -> Result<Vec<T>, E>
where
    T: Send,
    E: Send,
    F: Fn(usize) -> Result<T, E> + Sync,
{
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(threads)
        .max(1)
        .min(count);
    if threads <= 1 {
        return (0..count).map(job).collect();
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<T, E>>>> = Mutex::new((0..count).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                if failed.load(Ordering::Acquire) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::AcqRel);
                if i >= count {
                    break;
                }
                let result = job(i);
                if result.is_err() {
                    failed.store(true, Ordering::Release);
                }
                results.lock().expect("no job panics holding the lock")[i] = Some(result);
            });
        }
    });
    let mut out = Vec::with_capacity(count);
    for result in results
        .into_inner()
        .expect("no job panicked holding the lock")
    {
        match result {
            Some(r) => out.push(r?),
            // Not started because an earlier job failed; that error was returned above.
            None => unreachable!("a job is skipped only after a lower one failed"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order() {
        let out: Result<Vec<usize>, ()> = run(100, |i| Ok(i * 2));
        assert_eq!(out.unwrap(), (0..100).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn the_lowest_failure_wins() {
        for _ in 0..50 {
            let out: Result<Vec<usize>, usize> =
                run(64, |i| if i == 17 || i == 40 { Err(i) } else { Ok(i) });
            assert_eq!(out.unwrap_err(), 17);
        }
    }

    #[test]
    fn no_jobs_no_results() {
        let out: Result<Vec<u8>, ()> = run(0, |_| unreachable!());
        assert!(out.unwrap().is_empty());
    }
}
