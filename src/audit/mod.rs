//! The audit log: an append-only file of JSON lines, one per decision
//! (allow and deny), each holding the SHA-256 of the line before it, with
//! checkpoints signed by the node's Ed25519 key (SSHSIG, namespace
//! `handover-audit`) every N entries and at shutdown. Opaque ids only: no
//! name and no document fact ever enters it. Format: docs/audit-format.md.
//!
//! Appends are durable when acknowledged (group commit: concurrent writers
//! share one fdatasync). If the log cannot be written, the append fails and
//! so does the request (fail closed).
//!
//! Reading by byte offset (`scan`) serves the access-history index that
//! the vault keeps in its database; the log stays the one truth.

mod format;
mod scan;
mod verify;
mod writer;

pub use format::{checkpoint_message, line_hash, Body, Checkpoint, Entry, Line, Outcome, GENESIS};
pub use scan::{lines_at, scan_from, ScannedLine};
pub use verify::{verify, Verified};
pub use writer::{AuditLog, Sealed, MAX_LINE};

/// File names inside the data directory.
pub const LOG_FILE: &str = "audit.log";
/// A copy of the last checkpoint line, so a log cut short below it is detected.
pub const HEAD_FILE: &str = "audit.head";

/// Why the audit log refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit log cannot be written ({0}); nothing was done")]
    Write(String),
    #[error("the audit log cannot be read: {0}")]
    Read(String),
    /// The chain does not hold: names the first bad entry (1-based line).
    #[error("audit log broken at line {line}: {reason}")]
    Broken { line: u64, reason: String },
}
