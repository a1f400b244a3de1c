//! Keeping the store honest: `check` re-reads every blob against its digest
//! and lists what is missing, orphaned, corrupt or left by an interrupted
//! upload, and the resumable uploads staged; `gc` removes the leftovers
//! and expired uploads.

use std::collections::BTreeSet;

use serde::Serialize;

use super::access::Note;
use super::{Vault, VaultError};
use crate::domain::Principal;
use crate::policy::Action;

/// What `check` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    /// Documents whose blob decrypted and matched its digest.
    pub verified: usize,
    /// Document ids whose blob is gone.
    pub missing: Vec<String>,
    /// Document ids whose blob fails authentication or its digest.
    pub corrupt: Vec<String>,
    /// Blob keys that belong to no document and to no upload.
    pub orphaned: Vec<String>,
    /// Blob keys left by an interrupted upload (removed by `gc`).
    pub interrupted: Vec<String>,
    /// On S3: blob keys whose multipart upload was begun and never
    /// completed or aborted, so its parts still take space (aborted by `gc`).
    pub incomplete_multipart: Vec<String>,
    /// Resumable uploads staged (started, not yet complete), and the
    /// bytes they hold so far (encrypted, under `uploads/`).
    pub staged_uploads: usize,
    pub staged_upload_bytes: u64,
    /// Staged uploads that cannot complete: a segment file is missing.
    pub broken_uploads: Vec<String>,
    /// A storage key rotation began and has not finished (the old identity
    /// is still kept): run `keys rotate --storage` again. Headers still
    /// wrapped to another identity than the current one, if so.
    pub storage_rotation_unfinished: bool,
    pub headers_to_rewrap: u64,
}

impl CheckReport {
    /// True when every document is whole and nothing unexplained is stored.
    pub fn is_consistent(&self) -> bool {
        self.missing.is_empty()
            && self.corrupt.is_empty()
            && self.orphaned.is_empty()
            && self.broken_uploads.is_empty()
    }
}

/// What `gc` removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    /// Leftovers of interrupted uploads removed.
    pub interrupted: usize,
    /// Orphaned blobs removed (only when asked).
    pub orphaned: usize,
    /// Expired resumable uploads, and staged files no upload owns, removed.
    pub uploads: usize,
}

impl Vault {
    /// Re-reads and verifies every document; lists what does not fit.
    pub async fn check(&self, actor: &Principal) -> Result<CheckReport, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::default())?;
        let mut report = CheckReport::default();
        let documents = self.db.all_documents()?;
        let pending: BTreeSet<_> = self.db.pending_blobs()?.into_iter().collect();
        for (doc, key) in &documents {
            if !self.blobs.exists(key).await? {
                report.missing.push(doc.id.to_string());
                continue;
            }
            match self.verify_blob(doc, key, Box::new(std::io::sink())).await {
                Ok(()) => report.verified += 1,
                Err(VaultError::Integrity(_)) => report.corrupt.push(doc.id.to_string()),
                Err(e) => return Err(e),
            }
        }
        let known: BTreeSet<_> = documents.iter().map(|(_, k)| k.clone()).collect();
        for key in self.blobs.list().await? {
            if pending.contains(&key) {
                report.interrupted.push(key.as_str().to_string());
            } else if !known.contains(&key) {
                report.orphaned.push(key.as_str().to_string());
            }
        }
        for staged in self.blobs.staged_files() {
            report.interrupted.push(staged.path.display().to_string());
        }
        for (key, _) in self.db.pending_multiparts()? {
            report.incomplete_multipart.push(key.as_str().to_string());
        }
        report.interrupted.sort();
        report.interrupted.dedup();
        let (staged, bytes, broken) = self.staged_uploads()?;
        report.staged_uploads = staged;
        report.staged_upload_bytes = bytes;
        report.broken_uploads = broken;
        let keys = self.keys();
        report.storage_rotation_unfinished = keys.recipients().len() > 1;
        if report.storage_rotation_unfinished {
            report.headers_to_rewrap = self.db.headers_not_to(&keys.recipient().to_string())?;
        }
        Ok(report)
    }

    /// Removes leftovers of interrupted uploads, and with `orphans` also blobs
    /// that belong to no document. Needs the node to itself.
    pub async fn gc(&self, actor: &Principal, orphans: bool) -> Result<GcReport, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::default())?;
        self.exclusively(async {
            let mut report = GcReport {
                interrupted: self.clear_interrupted_uploads().await?,
                uploads: self.sweep_uploads().await?,
                ..GcReport::default()
            };
            if orphans {
                let known: BTreeSet<_> = self
                    .db
                    .all_documents()?
                    .into_iter()
                    .map(|(_, k)| k)
                    .collect();
                for key in self.blobs.list().await? {
                    if !known.contains(&key) {
                        self.blobs.delete(&key).await?;
                        report.orphaned += 1;
                    }
                }
            }
            Ok(report)
        })
        .await
    }

    /// While serving: deletes the blobs of uploads that began more than
    /// `older_than` ago and never committed (their client went away; no
    /// request lives that long). Returns how many.
    pub async fn sweep_abandoned_uploads(
        &self,
        older_than: std::time::Duration,
    ) -> Result<usize, VaultError> {
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::days(1));
        let old = self.db.pending_blobs_before(cutoff)?;
        for key in &old {
            self.discard(key).await;
        }
        if !old.is_empty() {
            tracing::info!(removed = old.len(), "removed blobs of abandoned uploads");
        }
        Ok(old.len())
    }

    /// Deletes the blobs and staging files of uploads that never committed.
    /// Caller holds the exclusive lock.
    pub(super) async fn clear_interrupted_uploads(&self) -> Result<usize, VaultError> {
        let mut removed = 0;
        for (key, id) in self.db.pending_multiparts()? {
            self.blobs.abort_multipart(&key, &id).await?;
        }
        for key in self.db.pending_blobs()? {
            self.blobs.delete(&key).await?;
            self.db.forget_pending_blob(&key)?;
            removed += 1;
        }
        // Under the exclusive lock no upload is running: every staging file is a leftover.
        for staged in self.blobs.staged_files() {
            self.blobs.remove_staged(&staged)?;
            removed += 1;
        }
        if removed > 0 {
            tracing::info!(removed, "removed leftovers of interrupted uploads");
        }
        Ok(removed)
    }
}
