//! Appending to the audit log: one line per decision, chained by hash,
//! durable before the append returns. Writers in this process share one
//! fdatasync (group commit); writers in other processes on the same node
//! are serialised by an exclusive `flock` on the file around each write,
//! after which the tail is re-read if another process appended.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use chrono::{DateTime, SubsecRound, Utc};

use super::format::{checkpoint_message, line_hash, Body, Checkpoint, Entry, Line, GENESIS};
use super::{AuditError, HEAD_FILE, LOG_FILE};
use crate::crypto::{self, KeySource};

/// Longest line read back when looking for the tail.
pub const MAX_LINE: u64 = 64 * 1024;

/// The node's audit log, open for appending.
pub struct AuditLog {
    state: Mutex<State>,
    /// A second handle of the log file, for the inter-process lock.
    lock_handle: File,
    synced: Condvar,
    keys: Box<dyn KeySource>,
    department: String,
    head_path: PathBuf,
    checkpoint_every: u64,
    write_errors: std::sync::atomic::AtomicU64,
}

/// Where [`AuditLog::seal`] ended the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sealed {
    /// The seq of the checkpoint that is the log's last line.
    pub seq: u64,
    /// The log's length in bytes, through that line's newline.
    pub len: u64,
}

struct State {
    file: File,
    /// File length as this process last saw it.
    len: u64,
    /// Last line's seq and hash.
    seq: u64,
    prev: String,
    /// Lines since the last checkpoint.
    since_checkpoint: u64,
    /// Highest seq this process wrote, and the highest known durable.
    written: u64,
    durable: u64,
    syncing: bool,
    /// Set once a sync failed: nothing more is acknowledged.
    failed: Option<String>,
}

fn write_err(e: impl std::fmt::Display) -> AuditError {
    AuditError::Write(e.to_string())
}

impl AuditLog {
    /// Opens (creating if need be) the log in `dir`. Refuses when the log
    /// is shorter than its last recorded checkpoint (cut short or
    /// replaced): the node must not go on writing a chain that no longer
    /// verifies.
    pub fn open(
        dir: &Path,
        keys: impl KeySource + 'static,
        department: &str,
        checkpoint_every: u64,
    ) -> Result<AuditLog, AuditError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .mode(0o600)
            .open(dir.join(LOG_FILE))
            .map_err(write_err)?;
        let lock_handle = file.try_clone().map_err(write_err)?;
        let log = AuditLog {
            lock_handle,
            state: Mutex::new(State {
                file,
                len: 0,
                seq: 0,
                prev: GENESIS.to_string(),
                since_checkpoint: 0,
                written: 0,
                durable: 0,
                syncing: false,
                failed: None,
            }),
            synced: Condvar::new(),
            keys: Box::new(keys),
            department: department.to_string(),
            head_path: dir.join(HEAD_FILE),
            checkpoint_every: checkpoint_every.max(1),
            write_errors: Default::default(),
        };
        {
            let mut st = log.lock();
            let _guard = Flock::exclusive(&log.lock_handle)?;
            refresh(&mut st)?;
            if let Some(head_seq) = read_head_seq(&log.head_path)? {
                if st.seq < head_seq {
                    return Err(AuditError::Write(format!(
                        "the audit log ends at line {} but its last checkpoint is line {head_seq}: \
                         it was cut short or replaced (run `handover audit verify`)",
                        st.seq
                    )));
                }
            }
        }
        Ok(log)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one decision; returns once it is durable. A failure is
    /// counted ([`AuditLog::write_errors`]).
    pub fn append(&self, entry: Entry) -> Result<u64, AuditError> {
        let appended = self.append_durably(entry);
        if appended.is_err() {
            self.write_errors
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        appended
    }

    /// How many appends failed since the log was opened.
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn append_durably(&self, entry: Entry) -> Result<u64, AuditError> {
        let mut st = self.lock();
        if let Some(f) = &st.failed {
            return Err(AuditError::Write(f.clone()));
        }
        let seq = self.write_line(&mut st, Body::Entry(entry))?;
        if st.since_checkpoint >= self.checkpoint_every {
            self.write_checkpoint(&mut st)?;
        }
        self.wait_durable(st, seq)?;
        Ok(seq)
    }

    /// Writes a signed checkpoint now if anything was appended since the
    /// last one (at shutdown), and makes it durable.
    pub fn checkpoint(&self) -> Result<(), AuditError> {
        let mut st = self.lock();
        if let Some(f) = &st.failed {
            return Err(AuditError::Write(f.clone()));
        }
        if st.since_checkpoint == 0 && st.written == 0 {
            return Ok(());
        }
        let guard = Flock::exclusive(&self.lock_handle)?;
        refresh(&mut st)?;
        drop(guard);
        if st.since_checkpoint == 0 {
            return Ok(());
        }
        let seq = self.write_checkpoint(&mut st)?;
        self.wait_durable(st, seq)
    }

    /// Ends the log with a signed checkpoint now (unless its last line is
    /// one already) and makes it durable; returns that checkpoint's seq
    /// and the log's length in bytes up to and including it. A backup
    /// copies exactly those bytes, whatever other processes append later.
    pub fn seal(&self) -> Result<Sealed, AuditError> {
        let mut st = self.lock();
        if let Some(f) = &st.failed {
            return Err(AuditError::Write(f.clone()));
        }
        let guard = Flock::exclusive(&self.lock_handle)?;
        refresh(&mut st)?;
        if st.seq == 0 || st.since_checkpoint > 0 {
            let seq = self.write_locked(&mut st, |seq, prev, time| {
                Ok(self.checkpoint_body(seq, prev, time))
            })?;
            debug_assert_eq!(seq, st.seq);
        }
        drop(guard);
        // The last line may be another process's: one sync covers it too.
        st.written = st.written.max(st.seq);
        let sealed = Sealed {
            seq: st.seq,
            len: st.len,
        };
        self.wait_durable(st, sealed.seq)?;
        Ok(sealed)
    }

    /// Writes one line under the file lock; returns its seq.
    fn write_line(&self, st: &mut State, body: Body) -> Result<u64, AuditError> {
        let _guard = Flock::exclusive(&self.lock_handle)?;
        refresh(st)?;
        self.write_locked(st, |_, _, _| Ok(body))
    }

    fn write_locked(
        &self,
        st: &mut State,
        body: impl FnOnce(u64, &str, &DateTime<Utc>) -> Result<Body, AuditError>,
    ) -> Result<u64, AuditError> {
        let seq = st.seq + 1;
        let time = Utc::now().trunc_subsecs(6);
        let line = Line {
            seq,
            prev: st.prev.clone(),
            time,
            body: body(seq, &st.prev, &time)?,
        };
        let is_checkpoint = matches!(line.body, Body::Checkpoint(_));
        let mut bytes = serde_json::to_vec(&line).map_err(write_err)?;
        let hash = line_hash(&bytes);
        bytes.push(b'\n');
        if let Err(e) = st.file.write_all(&bytes) {
            // A partial line may be on disk: nothing more is acknowledged
            // by this process; the next open cuts the partial line off.
            st.failed = Some(format!("writing failed: {e}"));
            return Err(write_err(e));
        }
        st.len += bytes.len() as u64;
        st.seq = seq;
        st.prev = hash;
        st.written = seq;
        st.since_checkpoint = if is_checkpoint {
            0
        } else {
            st.since_checkpoint + 1
        };
        if is_checkpoint {
            // The head copy lets `verify` notice a log cut short below it.
            // The log is synced first, so a head never names a line that a
            // power cut could take back.
            let written = st
                .file
                .sync_data()
                .and_then(|()| crate::durable::replace(&self.head_path, &bytes));
            if let Err(e) = written {
                st.failed = Some(format!("writing the checkpoint copy failed: {e}"));
                return Err(write_err(e));
            }
        }
        Ok(seq)
    }

    fn write_checkpoint(&self, st: &mut State) -> Result<u64, AuditError> {
        let _guard = Flock::exclusive(&self.lock_handle)?;
        refresh(st)?;
        self.write_locked(st, |seq, prev, time| {
            Ok(self.checkpoint_body(seq, prev, time))
        })
    }

    fn checkpoint_body(&self, seq: u64, prev: &str, time: &DateTime<Utc>) -> Body {
        let message = checkpoint_message(&self.department, seq, prev, time);
        let signature = crypto::sign_in(
            &self.keys.keys(),
            crypto::AUDIT_NAMESPACE,
            message.as_bytes(),
        );
        Body::Checkpoint(Checkpoint {
            checkpoint: message,
            signature,
        })
    }

    /// Group commit: the first waiter syncs everything written so far; the
    /// others wait for a sync that covers their line.
    fn wait_durable<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        seq: u64,
    ) -> Result<(), AuditError> {
        loop {
            if let Some(f) = &st.failed {
                return Err(AuditError::Write(f.clone()));
            }
            if st.durable >= seq {
                return Ok(());
            }
            if st.syncing {
                st = self.synced.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            st.syncing = true;
            let upto = st.written;
            let file = st.file.try_clone();
            drop(st);
            let result = file.and_then(|f| f.sync_data());
            st = self.lock();
            st.syncing = false;
            match result {
                Ok(()) => st.durable = st.durable.max(upto),
                Err(e) => st.failed = Some(format!("syncing failed: {e}")),
            }
            self.synced.notify_all();
        }
    }
}

impl Drop for AuditLog {
    /// At shutdown, a signed checkpoint covers whatever this process wrote.
    fn drop(&mut self) {
        if let Err(e) = self.checkpoint() {
            tracing::error!(error = %e, "audit checkpoint at shutdown failed");
        }
    }
}

/// Re-reads the tail when the file changed since this process last saw it
/// (another process appended), and cuts off a partial last line (a write
/// that never completed, so was never acknowledged).
fn refresh(st: &mut State) -> Result<(), AuditError> {
    let len = st.file.metadata().map_err(write_err)?.len();
    if len == st.len {
        return Ok(());
    }
    let start = len.saturating_sub(MAX_LINE);
    let mut tail = Vec::with_capacity((len - start) as usize);
    st.file.seek(SeekFrom::Start(start)).map_err(write_err)?;
    (&st.file)
        .take(len - start)
        .read_to_end(&mut tail)
        .map_err(write_err)?;
    let mut end = tail.len();
    if tail.last() != Some(&b'\n') {
        let cut = tail.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
        if cut == 0 && start > 0 {
            return Err(AuditError::Write("the last audit line is too long".into()));
        }
        st.file.set_len(start + cut as u64).map_err(write_err)?;
        st.file.sync_data().map_err(write_err)?;
        tracing::warn!("cut an incomplete last line off the audit log");
        end = cut;
    }
    st.len = start + end as u64;
    if end == 0 {
        st.seq = 0;
        st.prev = GENESIS.to_string();
        st.since_checkpoint = 0;
        return Ok(());
    }
    let body = &tail[..end - 1];
    let from = body.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    if from == 0 && start > 0 {
        return Err(AuditError::Write("the last audit line is too long".into()));
    }
    let last = &body[from..];
    let line: Line = serde_json::from_slice(last)
        .map_err(|_| AuditError::Write("the last audit line is malformed".into()))?;
    st.seq = line.seq;
    st.prev = line_hash(last);
    // Unknown without reading further back; counting from here errs on
    // the side of an early checkpoint.
    st.since_checkpoint = match line.body {
        Body::Checkpoint(_) => 0,
        Body::Entry(_) => st.since_checkpoint.max(1),
    };
    Ok(())
}

fn read_head_seq(path: &Path) -> Result<Option<u64>, AuditError> {
    match fs::read(path) {
        Ok(bytes) => {
            let line: Line = serde_json::from_slice(bytes.trim_ascii_end())
                .map_err(|_| AuditError::Write(format!("{HEAD_FILE} is malformed")))?;
            Ok(Some(line.seq))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(write_err(e)),
    }
}

/// An exclusive lock (`flock`) on the log file, released on drop. Taken on
/// a second handle of the same open file, so holding it borrows nothing of
/// the state it protects.
struct Flock<'a>(&'a File);

impl<'a> Flock<'a> {
    fn exclusive(file: &'a File) -> Result<Flock<'a>, AuditError> {
        file.lock().map_err(write_err)?;
        Ok(Flock(file))
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}
