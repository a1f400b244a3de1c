//! Checking the whole log with the node's public key alone, in one pass
//! that holds one line at a time (a log of any length in constant memory).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use ssh_key::PublicKey;

use super::format::{checkpoint_message, line_hash, Body, Line, GENESIS};
use super::AuditError;
use crate::crypto;

/// What a successful verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Lines in the log (decisions and checkpoints).
    pub lines: u64,
    pub checkpoints: u64,
    /// Line of the last checkpoint (0: none yet).
    pub last_checkpoint: u64,
    /// Decisions after the last checkpoint, covered by the chain but not yet
    /// by a signature.
    pub unsigned_tail: u64,
}

fn broken(line: u64, reason: impl Into<String>) -> AuditError {
    AuditError::Broken {
        line,
        reason: reason.into(),
    }
}

/// A line's 1-based number, its bytes (without newline), and whether it
/// ended with a newline.
type NumberedLine = (u64, Vec<u8>, bool);

/// Reads lines with their 1-based numbers, refusing over-long ones.
fn lines(log: &Path) -> Result<impl Iterator<Item = Result<NumberedLine, AuditError>>, AuditError> {
    let file = File::open(log).map_err(|e| AuditError::Read(format!("{}: {e}", log.display())))?;
    let mut reader = BufReader::new(file);
    let mut n = 0u64;
    Ok(std::iter::from_fn(move || {
        let mut buf = Vec::new();
        match (&mut reader)
            .take(super::writer::MAX_LINE + 1)
            .read_until(b'\n', &mut buf)
        {
            Ok(0) => None,
            Ok(_) => {
                n += 1;
                let complete = buf.last() == Some(&b'\n');
                if complete {
                    buf.pop();
                } else if buf.len() as u64 > super::writer::MAX_LINE {
                    return Some(Err(broken(n, "line too long")));
                }
                Some(Ok((n, buf, complete)))
            }
            Err(e) => Some(Err(AuditError::Read(e.to_string()))),
        }
    }))
}

/// Checks the chain, every checkpoint's signature for `department`, and
/// that the log reaches the checkpoint recorded in `head` (when given).
/// Names the first bad line. `keys` are the node's signing keys, oldest
/// first (its card's previous keys, then its current one): each
/// checkpoint must verify with one of them, and never with an older key
/// than the checkpoint before it, since a node signs with a key only
/// until it rotates to the next.
pub fn verify(
    log: &Path,
    head: Option<&Path>,
    keys: &[PublicKey],
    department: &str,
) -> Result<Verified, AuditError> {
    let mut key_at = 0;
    let mut v = Verified {
        lines: 0,
        checkpoints: 0,
        last_checkpoint: 0,
        unsigned_tail: 0,
    };
    // The copy of the last checkpoint, read first so the log is read once.
    let recorded = match head.map(std::fs::read) {
        None => None,
        Some(Ok(copy)) => {
            let copy = copy.strip_suffix(b"\n").unwrap_or(&copy).to_vec();
            let line: Line = serde_json::from_slice(&copy)
                .map_err(|_| AuditError::Read("the checkpoint copy is malformed".into()))?;
            Some((line.seq, copy))
        }
        Some(Err(e)) if e.kind() == io::ErrorKind::NotFound => None,
        Some(Err(e)) => return Err(AuditError::Read(e.to_string())),
    };
    let mut recorded_matches = false;
    let mut prev_hash = GENESIS.to_string();
    let mut before_prev_hash: Option<String> = None;
    for item in lines(log)? {
        let (n, bytes, complete) = item?;
        if let Some((seq, copy)) = &recorded {
            if *seq == n {
                recorded_matches = bytes == *copy;
            }
        }
        if !complete {
            return Err(broken(n, "incomplete last line (cut off mid-write)"));
        }
        let line: Line = serde_json::from_slice(&bytes)
            .ok()
            .filter(|l: &Line| serde_json::to_vec(l).is_ok_and(|b| b == bytes))
            .ok_or_else(|| broken(n, format!("line {n} is not a valid audit line (altered)")))?;
        if line.seq != n {
            if line.seq + 1 == n && before_prev_hash.as_deref() == Some(line.prev.as_str()) {
                return Err(broken(
                    n - 1,
                    format!(
                        "line {} was inserted (entry {} appears twice)",
                        n - 1,
                        line.seq
                    ),
                ));
            }
            return Err(broken(
                n,
                format!(
                    "expected entry {n}, found entry {}: entries were deleted, inserted or reordered",
                    line.seq
                ),
            ));
        }
        if line.prev != prev_hash {
            return Err(broken(
                n.saturating_sub(1).max(1),
                if n == 1 {
                    "the first line does not start the chain".to_string()
                } else {
                    format!(
                        "line {} was altered (line {n} links to a different hash)",
                        n - 1
                    )
                },
            ));
        }
        match &line.body {
            Body::Checkpoint(c) => {
                let expected = checkpoint_message(department, line.seq, &line.prev, &line.time);
                let signed_by = (c.checkpoint == expected)
                    .then(|| {
                        keys.iter().skip(key_at).position(|key| {
                            crypto::verify_in(
                                key,
                                crypto::AUDIT_NAMESPACE,
                                c.checkpoint.as_bytes(),
                                c.signature.as_bytes(),
                            )
                            .is_ok()
                        })
                    })
                    .flatten();
                match signed_by {
                    Some(i) => key_at += i,
                    None => {
                        return Err(broken(
                            n,
                            "checkpoint signature does not verify with the node's key",
                        ))
                    }
                }
                v.checkpoints += 1;
                v.last_checkpoint = n;
                v.unsigned_tail = 0;
            }
            Body::Entry(_) => v.unsigned_tail += 1,
        }
        before_prev_hash = Some(std::mem::replace(&mut prev_hash, line_hash(&bytes)));
        v.lines = n;
    }
    if let Some((seq, _)) = recorded {
        if seq > v.lines {
            return Err(broken(
                v.lines + 1,
                format!(
                    "the log ends at line {} but its last checkpoint is line {seq}: truncated",
                    v.lines
                ),
            ));
        }
        if !recorded_matches {
            return Err(broken(
                seq,
                "differs from the recorded copy of the last checkpoint",
            ));
        }
    }
    Ok(v)
}
