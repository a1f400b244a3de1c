//! Bundles being received into the inbox: each is written to an
//! owner-only `inbox/.partial-*` file that is removed when its guard is
//! dropped (a client that hangs up, a request that times out, any error),
//! unless it was renamed into the inbox. Bytes waiting in the inbox and
//! being received are bounded in total and per source department; a sweep
//! removes partial files no live guard owns (after a crash).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A partial file, removed on drop unless [`PartialFile::keep`] was called.
pub(super) struct PartialFile<'a> {
    path: PathBuf,
    staging: &'a Staging,
    kept: bool,
}

impl PartialFile<'_> {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file was renamed away: nothing to remove.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for PartialFile<'_> {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(&self.path);
        }
        self.staging.lock().live.remove(&self.path);
    }
}

/// Bytes reserved for a bundle being received; given back on drop.
pub(super) struct Reservation<'a> {
    source: String,
    bytes: u64,
    staging: &'a Staging,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut s = self.staging.lock();
        if let Some(n) = s.receiving.get_mut(&self.source) {
            *n = n.saturating_sub(self.bytes);
            if *n == 0 {
                s.receiving.remove(&self.source);
            }
        }
    }
}

/// Which limit a bundle would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagingLimit {
    Total,
    PerSource,
}

#[derive(Default)]
struct State {
    /// Bytes being received, per source department.
    receiving: HashMap<String, u64>,
    /// Partial files with a live guard.
    live: HashSet<PathBuf>,
}

/// The node's bundles in flight.
#[derive(Default)]
pub(super) struct Staging {
    state: Mutex<State>,
}

impl Staging {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves `bytes` for a bundle of `source`, if the bytes already
    /// waiting (`waiting_total`, `waiting_source`), those being received
    /// and these stay within the limits.
    pub fn reserve(
        &self,
        source: &str,
        bytes: u64,
        waiting_total: u64,
        waiting_source: u64,
        max_total: u64,
        max_source: u64,
    ) -> Result<Reservation<'_>, StagingLimit> {
        let mut s = self.lock();
        let receiving_total: u64 = s.receiving.values().sum();
        let receiving_source = s.receiving.get(source).copied().unwrap_or(0);
        if waiting_total + receiving_total + bytes > max_total {
            return Err(StagingLimit::Total);
        }
        if waiting_source + receiving_source + bytes > max_source {
            return Err(StagingLimit::PerSource);
        }
        *s.receiving.entry(source.to_string()).or_insert(0) += bytes;
        Ok(Reservation {
            source: source.to_string(),
            bytes,
            staging: self,
        })
    }

    /// A new partial file's path in `dir`, owned by the returned guard.
    pub fn partial(&self, dir: &Path, prefix: &str) -> PartialFile<'_> {
        let path = dir.join(format!("{prefix}{}", uuid::Uuid::now_v7()));
        self.lock().live.insert(path.clone());
        PartialFile {
            path,
            staging: self,
            kept: false,
        }
    }

    /// Removes the files in `dir` named `prefix…` that no live guard owns.
    pub fn sweep(&self, dir: &Path, prefix: &str) -> std::io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with(prefix)
                && !self.lock().live.contains(&path)
            {
                match fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_guard_removes_its_file_and_the_sweep_spares_live_ones() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Staging::default();
        let live = staging.partial(dir.path(), ".partial-");
        fs::write(live.path(), b"x").unwrap();
        let dropped = staging.partial(dir.path(), ".partial-");
        fs::write(dropped.path(), b"y").unwrap();
        let gone = dropped.path().to_path_buf();
        drop(dropped);
        assert!(!gone.exists());
        fs::write(dir.path().join(".partial-left-by-a-crash"), b"z").unwrap();
        assert_eq!(staging.sweep(dir.path(), ".partial-").unwrap(), 1);
        assert!(live.path().exists());
        drop(live);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn reservations_are_bounded_and_given_back() {
        let s = Staging::default();
        let a = s.reserve("a", 60, 0, 0, 100, 80).unwrap();
        assert_eq!(
            s.reserve("a", 30, 0, 0, 100, 80).err(),
            Some(StagingLimit::PerSource)
        );
        assert_eq!(
            s.reserve("b", 50, 0, 0, 100, 80).err(),
            Some(StagingLimit::Total)
        );
        let b = s.reserve("b", 40, 0, 0, 100, 80).unwrap();
        drop((a, b));
        assert!(s.reserve("a", 80, 20, 0, 100, 80).is_ok());
        assert_eq!(
            s.reserve("a", 80, 21, 0, 100, 80).err(),
            Some(StagingLimit::Total)
        );
    }
}
