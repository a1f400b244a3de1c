//! Crash-safe file replacement, the one way every module writes a file that
//! replaces (or appears in place of) another: write aside, fsync the file,
//! rename it into place, fsync the directory. After a power cut the path
//! holds the old content or the new, never a torn or empty file, and a
//! rename that was acknowledged survives.
//!
//! Written by hand: it is four system calls, and the crates that wrap them
//! (tempfile's `persist`, atomicwrites) skip the directory sync or the
//! owner-only mode this project needs.
//!
//! Debug builds honour `HANDOVER_TEST_CRASH_AT=NAME:STEP` (STEP one of
//! `written`, `synced`, `renamed`): the process aborts right after that step
//! while replacing a file called NAME, so tests can show that every step is
//! safe to die at. Release builds leave it out.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes`, owner-only (0600), crash-safely.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let aside = aside(path);
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&aside)?;
        f.write_all(bytes)?;
        crash_point(path, "written");
        f.sync_all()?;
        crash_point(path, "synced");
        Ok(())
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&aside);
        return Err(e);
    }
    commit_synced(&aside, path)
}

/// Syncs a directory, so that entries created, renamed or removed in it
/// survive a power cut.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The name a replacement of `path` is written under first.
pub fn aside(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// Renames `partial`, which the caller has already synced, into place at
/// `dest`, and syncs the directory.
pub fn commit_synced(partial: &Path, dest: &Path) -> io::Result<()> {
    fs::rename(partial, dest)?;
    crash_point(dest, "renamed");
    sync_dir(parent(dest))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(debug_assertions)]
fn crash_point(path: &Path, step: &str) {
    let Ok(at) = std::env::var("HANDOVER_TEST_CRASH_AT") else {
        return;
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if at.split_once(':') == Some((name, step)) {
        std::process::abort();
    }
}

#[cfg(not(debug_assertions))]
fn crash_point(_: &Path, _: &str) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("card.json");
        fs::write(&path, b"old").unwrap();
        replace(&path, b"new content").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new content");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!aside(&path).exists(), "nothing left aside");
    }

    #[test]
    fn a_failed_replacement_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        fs::write(&path, b"old").unwrap();
        // The aside name is taken by a directory: writing it fails.
        fs::create_dir(aside(&path)).unwrap();
        assert!(replace(&path, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }
}
