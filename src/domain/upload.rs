//! A resumable upload as the node keeps it while it is staged: for which
//! child and kind, how long it will be, how much of it is durably
//! received, and until when it may go on. Never a file name, and never a
//! byte of its content (that is in encrypted segments on disk).

use chrono::{DateTime, Utc};

use super::{ChildId, DocKind, DocumentId, UploadId};

/// What a client says when it starts a resumable upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    pub child_id: ChildId,
    pub kind: DocKind,
    pub title: Option<String>,
    /// The whole length in bytes, known in advance.
    pub length: u64,
}

/// One staged (or just completed) resumable upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: UploadId,
    /// The label of the principal who started it (`user:ID`); only they
    /// may go on with it.
    pub owner: String,
    pub child_id: ChildId,
    pub kind: DocKind,
    pub title: Option<String>,
    pub length: u64,
    /// Bytes durably received: every byte below this offset is in a
    /// synced, encrypted segment.
    pub offset: u64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The document it became, once complete.
    pub document: Option<DocumentId>,
}

impl Upload {
    /// Whether every byte has arrived.
    pub fn is_full(&self) -> bool {
        self.offset == self.length
    }
}
