//! Resumable uploads: the use cases behind the tus protocol of the API and
//! the upload page. An upload is started for a child and a kind (decided
//! by the same policy as a plain upload), receives its bytes in any number
//! of appends, and once its last byte is in becomes a document through
//! exactly the path of a plain upload ([`Vault::store_document`]).
//!
//! No plaintext reaches the disk: received bytes are age-encrypted to the
//! node's key as they arrive, in segments of at most [`SEGMENT_BYTES`]
//! under `uploads/ID/` in the data directory. A segment is synced and
//! renamed into place, and only then does its row (its length and the
//! SHA-256 of its plaintext) commit and move the upload's offset: the
//! offset a client is told is always durable. A connection that drops
//! keeps every byte that arrived (the unfinished segment is closed and
//! committed); a kill loses at most the unfinished segment.
//!
//! The first [`intake::HEAD_BYTES`] decide the media type, so a file intake
//! would refuse is refused (and removed, with everything staged) as soon
//! as they are in. A completed upload keeps its row, naming its document,
//! until it expires: a client whose last answer was lost asks again and
//! learns that it is done, instead of sending the file twice.
//!
//! An append that starts at the first byte is followed by a sealer: the
//! plain upload's path runs on another thread and reads each segment as it
//! commits (and has passed the type check), so a file sent in one go is
//! sealed while it arrives rather than read back whole after its last
//! byte. The policy is then asked once the last byte is in, as for any
//! completion; if the append ends early, the sealer's blob is discarded
//! and a later append seals the upload after its last byte. At most
//! [`MAX_FOLLOWERS`] appends are followed at once.
//!
//! Written by hand: no Rust tus server crate is mature enough to embed,
//! and this one must keep the vault's promises (encryption at rest, one
//! intake path, policy and audit).

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::access::Note;
use super::documents::{checked_title, AskPolicy, NewDocument};
use super::intake::{self, IntakeError, Limits};
use super::{Vault, VaultError};
use crate::crypto::{self, Threads};
use crate::domain::{Document, NewUpload, Principal, Upload, UploadId, UserId};
use crate::policy::Action;
use crate::store::Segment;

/// The most plaintext one segment holds.
pub const SEGMENT_BYTES: u64 = 1024 * 1024;
/// The directory of staged uploads, in the data directory.
const UPLOADS_DIR: &str = "uploads";
/// How long a request waits for a running append of the same upload to
/// end by itself (a client that reconnected before the server saw the
/// old connection drop): it still drains what the old connection
/// delivered, so no byte that arrived is lost.
const LET_END_WAIT: Duration = Duration::from_secs(3);
/// How long it then waits after asking that append to stop (it stops at
/// its next read; one stuck on a silent connection may not).
const TAKE_OVER_WAIT: Duration = Duration::from_secs(2);

/// At most this many appends are followed by a sealer at once; others
/// are sealed after their last byte, as a resumed append is.
const MAX_FOLLOWERS: usize = 8;

/// Which per-user limit a new upload would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadLimit {
    /// Uploads started and not yet complete.
    OpenUploads { max: u64 },
    /// Bytes of the user's staged uploads, counted at their whole length.
    StagedBytes { max: u64 },
}

impl std::fmt::Display for UploadLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UploadLimit::OpenUploads { max } => {
                write!(f, "at most {max} unfinished uploads per user")
            }
            UploadLimit::StagedBytes { max } => {
                write!(f, "at most {max} bytes of unfinished uploads per user")
            }
        }
    }
}

/// What an append left: the upload as it now stands, the document it
/// became if it is complete, and the failure of the source if the bytes
/// stopped early (what arrived before it is kept).
#[derive(Debug)]
pub struct Appended {
    pub upload: Upload,
    pub document: Option<Document>,
    /// Once it is a document: whether intake removed metadata from it
    /// (location and camera data, a PDF's document information).
    pub metadata_removed: bool,
    pub interrupted: Option<io::Error>,
}

/// The uploads an append or a completion is working on: one at a time per
/// upload, and a newer append asks the older one to stop.
#[derive(Default)]
pub(super) struct ActiveUploads {
    slots: Mutex<HashMap<UploadId, Slot>>,
    /// Sealers following a running append (each holds a heavy-pool thread
    /// for as long as its append runs, which on a slow link is long).
    followers: Arc<AtomicUsize>,
}

#[derive(Clone, Default)]
struct Slot {
    turn: Arc<tokio::sync::Mutex<()>>,
    stop: Arc<AtomicBool>,
}

impl Slot {
    /// The turn of this upload: at once if free; else once the running
    /// append ends, or stops when asked; `None` if it does neither in time.
    async fn take_over(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let turn = self.turn.clone();
        if let Ok(t) = tokio::time::timeout(LET_END_WAIT, turn.clone().lock_owned()).await {
            return Some(t);
        }
        self.stop.store(true, Ordering::SeqCst);
        let taken = tokio::time::timeout(TAKE_OVER_WAIT, turn.lock_owned())
            .await
            .ok();
        self.stop.store(false, Ordering::SeqCst);
        taken
    }
}

impl ActiveUploads {
    fn slot(&self, id: UploadId) -> Slot {
        self.slots
            .lock()
            .expect("upload slots")
            .entry(id)
            .or_default()
            .clone()
    }

    fn forget(&self, id: UploadId) {
        self.slots.lock().expect("upload slots").remove(&id);
    }

    /// A place for one more following sealer, if fewer than
    /// [`MAX_FOLLOWERS`] run; given back when dropped.
    fn follower(&self) -> Option<FollowerPlace> {
        self.followers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < MAX_FOLLOWERS).then_some(n + 1)
            })
            .ok()
            .map(|_| FollowerPlace(self.followers.clone()))
    }

    fn is_busy(&self, id: UploadId) -> bool {
        self.slots
            .lock()
            .expect("upload slots")
            .get(&id)
            .is_some_and(|s| s.turn.try_lock().is_err())
    }
}

impl Vault {
    /// The largest document this node takes, in bytes (the most an
    /// upload may declare).
    pub fn max_document_bytes(&self) -> u64 {
        self.settings.max_document_bytes
    }

    /// Starts a resumable upload of `new.length` bytes. Decided (and
    /// audited) like a plain upload to the child; refused at once if the
    /// length is 0 or above the document limit, or if the caller's
    /// unfinished uploads would pass their limits.
    pub fn create_upload(&self, actor: &Principal, new: NewUpload) -> Result<Upload, VaultError> {
        let id = UploadId::new();
        self.authorize_child(actor, Action::AddDocument, new.child_id, Note::target(id))?;
        let title = checked_title(new.kind, new.title.as_deref())?;
        if new.length == 0 {
            return Err(IntakeError::Empty.into());
        }
        let limit = self.settings.max_document_bytes;
        if new.length > limit {
            return Err(IntakeError::TooLarge { limit }.into());
        }
        let owner = actor.label();
        let (open, staged) = self.db.staged_by(&owner)?;
        let max_open = self.settings.uploads_max_open_per_user;
        if open >= max_open {
            return Err(VaultError::UploadLimit(UploadLimit::OpenUploads {
                max: max_open,
            }));
        }
        let max_bytes = self.settings.uploads_max_staged_bytes_per_user;
        if staged.saturating_add(new.length) > max_bytes {
            return Err(VaultError::UploadLimit(UploadLimit::StagedBytes {
                max: max_bytes,
            }));
        }
        let now = self.now();
        let upload = Upload {
            id,
            owner,
            child_id: new.child_id,
            kind: new.kind,
            title,
            length: new.length,
            offset: 0,
            created_at: now,
            expires_at: now + chrono::Duration::seconds(self.settings.upload_expiry_secs as i64),
            document: None,
        };
        self.db.insert_upload(&upload)?;
        tracing::info!(upload = %id, length = upload.length, "resumable upload started");
        Ok(upload)
    }

    /// Where an upload of the caller stands. An append still running is
    /// asked to stop first (its client has come back on a new connection),
    /// so the offset told is the one the next append must use. An upload
    /// whose bytes have all arrived but that is not yet a document (the
    /// server stopped in between) is completed first, so that "all bytes
    /// are in" is only ever said of an upload that is a document.
    pub async fn upload_status(
        &self,
        actor: &Principal,
        id: UploadId,
    ) -> Result<Upload, VaultError> {
        let upload = super::heavy::inline(|| self.own_upload(actor, id))?;
        let busy = self.active_uploads.is_busy(id);
        if upload.document.is_some() || (!busy && !upload.is_full()) {
            return Ok(upload);
        }
        // An append still running: its client asks where the upload
        // stands, so it has given that connection up. Let the append end
        // (or ask it to stop), and answer with what it committed.
        let slot = self.active_uploads.slot(id);
        let Some(_turn) = slot.take_over().await else {
            return super::heavy::inline(|| self.own_upload(actor, id));
        };
        let upload = super::heavy::inline(|| self.own_upload(actor, id))?;
        if upload.is_full() && upload.document.is_none() {
            self.complete_upload(actor, &upload).await?;
        }
        super::heavy::inline(|| self.own_upload(actor, id))
    }

    /// Appends `source` to the caller's upload at `offset`, which must be
    /// its durable offset. Bytes are encrypted and committed segment by
    /// segment; when the last byte is in, the upload becomes a document.
    /// The first bytes are checked against intake's type rules as soon as
    /// there are enough of them: a refused file is removed with all that
    /// was staged.
    pub async fn append_upload(
        &self,
        actor: &Principal,
        id: UploadId,
        offset: u64,
        source: Box<dyn Read + Send>,
    ) -> Result<Appended, VaultError> {
        super::heavy::inline(|| self.appendable(actor, id, offset))?;
        // Let an append still running (its client has gone and come back)
        // end, or ask it to stop, and take the turn; then ask again.
        let slot = self.active_uploads.slot(id);
        let turn = slot.take_over().await.ok_or(VaultError::UploadBusy)?;
        let upload = super::heavy::inline(|| self.appendable(actor, id, offset))?;
        let staged = Staged {
            dir: self.upload_dir(id),
            ring: self.ring.clone(),
            kind: upload.kind,
            limits: self.limits(),
        };
        // An append from the first byte is followed by a sealer as its
        // segments commit, so that a file sent in one go is a document
        // soon after its last byte (instead of being read back whole
        // then). A resumed append is sealed after its last byte: a link
        // that keeps breaking would otherwise make the sealer start over
        // after every cut. Few are followed at once: each follower holds
        // a heavy-pool thread while its bytes arrive.
        let place = (upload.offset == 0)
            .then(|| self.active_uploads.follower())
            .flatten();
        let (received, followed) = if let Some(place) = place {
            let follow = Arc::new(Follow::default());
            let closing = CloseOnDrop(follow.clone());
            let reader = SegmentReader::new(
                staged.dir.clone(),
                self.keys(),
                Segments::Following(follow.clone()),
                upload.length,
            );
            let receiving = async {
                let received = self
                    .receive(&staged, &upload, source, slot.stop.clone(), Some(&follow))
                    .await;
                drop(closing);
                received
            };
            let (received, sealed) = tokio::join!(
                receiving,
                self.seal_upload(actor, &upload, reader, AskPolicy::Last)
            );
            drop(place);
            (received, Some(sealed))
        } else {
            let received = self
                .receive(&staged, &upload, source, slot.stop.clone(), None)
                .await;
            (received, None)
        };
        let (upload, interrupted) = match received {
            Ok(done) => done,
            Err(Received::Refused(refusal)) => {
                drop(turn);
                self.remove_upload(id);
                tracing::info!(upload = %id, "resumable upload refused by intake; removed");
                return Err(refusal);
            }
            Err(Received::Failed(e)) => return Err(e),
        };
        let (document, metadata_removed) = if upload.is_full() {
            // A sealer that followed saw every segment (each is handed to
            // it only once committed and past the type check); its failure
            // before the last byte says nothing, and its blob is gone.
            let (doc, removed) = match followed {
                Some(sealed) => self.finish_sealing(&upload, sealed)?,
                None => {
                    tracing::info!(upload = %id, "every byte of the upload is in; completing it");
                    self.complete_upload(actor, &upload).await?
                }
            };
            (Some(doc), removed)
        } else {
            (None, false)
        };
        drop(turn);
        let upload = super::heavy::inline(|| self.own_upload(actor, id))?;
        Ok(Appended {
            upload,
            document,
            metadata_removed,
            interrupted,
        })
    }

    /// Ends the caller's upload and removes what was staged.
    pub fn terminate_upload(&self, actor: &Principal, id: UploadId) -> Result<(), VaultError> {
        self.own_upload(actor, id)?;
        let slot = self.active_uploads.slot(id);
        slot.stop.store(true, Ordering::SeqCst);
        self.remove_upload(id);
        tracing::info!(upload = %id, "resumable upload terminated");
        Ok(())
    }

    /// Removes uploads that expired (staged or completed) and files under
    /// `uploads/` that belong to no live segment (a segment cut off by a
    /// crash, a completed upload's leftovers); completes uploads whose
    /// bytes all arrived before the server stopped. Run by the server at
    /// start and every minute, and by `gc`. Returns how many uploads and
    /// files were removed.
    pub async fn sweep_uploads(&self) -> Result<usize, VaultError> {
        let now = self.now();
        let mut removed = 0;
        for id in super::heavy::inline(|| self.db.expired_uploads(now))? {
            if !self.active_uploads.is_busy(id) {
                self.remove_upload(id);
                removed += 1;
            }
        }
        for upload in super::heavy::inline(|| self.db.uploads())? {
            if upload.is_full() && upload.document.is_none() {
                self.finish_left_upload(&upload).await;
            }
        }
        removed += super::heavy::inline(|| self.remove_stray_upload_files())?;
        if removed > 0 {
            tracing::info!(removed, "removed expired or leftover staged uploads");
        }
        Ok(removed)
    }

    /// Staged uploads: how many, the bytes durably received, and what is
    /// wrong with any of them (a segment file missing).
    pub(super) fn staged_uploads(&self) -> Result<(usize, u64, Vec<String>), VaultError> {
        let mut count = 0;
        let mut bytes = 0;
        let mut broken = Vec::new();
        for upload in self.db.uploads()? {
            if upload.document.is_some() {
                continue;
            }
            count += 1;
            bytes += upload.offset;
            let dir = self.upload_dir(upload.id);
            for seg in self.db.segments(upload.id)? {
                if !segment_path(&dir, seg.start).is_file() {
                    broken.push(format!("upload {} (segment at {})", upload.id, seg.start));
                }
            }
        }
        Ok((count, bytes, broken))
    }

    /// The caller's upload, if it is not complete and stands at `offset`.
    fn appendable(
        &self,
        actor: &Principal,
        id: UploadId,
        offset: u64,
    ) -> Result<Upload, VaultError> {
        let upload = self.own_upload(actor, id)?;
        if upload.document.is_some() {
            return Err(VaultError::UploadComplete(id.to_string()));
        }
        if offset != upload.offset {
            return Err(VaultError::UploadOffset {
                expected: upload.offset,
            });
        }
        Ok(upload)
    }

    /// The caller's upload; one that is not theirs, or has expired, is
    /// unknown (an expired one is removed on the way).
    fn own_upload(&self, actor: &Principal, id: UploadId) -> Result<Upload, VaultError> {
        let unknown = || VaultError::UnknownUpload(id.to_string());
        let upload = self.db.upload(id)?.ok_or_else(unknown)?;
        if upload.owner != actor.label() {
            return Err(unknown());
        }
        if upload.expires_at <= self.now() {
            if !self.active_uploads.is_busy(id) {
                self.remove_upload(id);
            }
            return Err(unknown());
        }
        Ok(upload)
    }

    /// Turns a full upload into a document through the plain upload's
    /// path; the policy is asked again, for the caller as they are now.
    /// A refusal removes the upload with everything staged.
    async fn complete_upload(
        &self,
        actor: &Principal,
        upload: &Upload,
    ) -> Result<(Document, bool), VaultError> {
        let segments = super::heavy::inline(|| self.db.segments(upload.id))?;
        let source = SegmentReader::new(
            self.upload_dir(upload.id),
            self.keys(),
            Segments::Staged(segments.into_iter()),
            upload.length,
        );
        let sealed = self
            .seal_upload(actor, upload, source, AskPolicy::First)
            .await;
        self.finish_sealing(upload, sealed)
    }

    /// Stores the document an upload's plaintext `source` makes, through
    /// the plain upload's path.
    async fn seal_upload(
        &self,
        actor: &Principal,
        upload: &Upload,
        source: SegmentReader,
        ask: AskPolicy,
    ) -> Result<(Document, bool), VaultError> {
        let new = NewDocument {
            kind: upload.kind,
            title: upload.title.clone(),
            file_name: None,
            declared_size: Some(upload.length),
        };
        self.store_document_from(
            actor,
            upload.child_id,
            new,
            Box::new(source),
            Some(upload.id),
            ask,
        )
        .await
    }

    /// What sealing a full upload leaves: its segments go once it is a
    /// document; a refusal removes it with everything staged; a failure
    /// that may pass (a full disk) leaves it to be completed again.
    fn finish_sealing(
        &self,
        upload: &Upload,
        sealed: Result<(Document, bool), VaultError>,
    ) -> Result<(Document, bool), VaultError> {
        match sealed {
            Ok((doc, removed)) => {
                // The segments are no longer needed: removed after the
                // answer (a thousand files for a GiB); what a stop leaves
                // is removed by the sweep.
                let dir = self.upload_dir(upload.id);
                tokio::task::spawn_blocking(move || fs::remove_dir_all(dir));
                tracing::info!(upload = %upload.id, document = %doc.id, "resumable upload completed");
                Ok((doc, removed))
            }
            Err(e) if is_refusal(&e) => {
                self.remove_upload(upload.id);
                tracing::info!(upload = %upload.id, "resumable upload refused at completion; removed");
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Completes an upload whose bytes all arrived before the server
    /// stopped, as its owner (if they may still add documents).
    async fn finish_left_upload(&self, upload: &Upload) {
        let owner = upload
            .owner
            .strip_prefix("user:")
            .and_then(|id| id.parse::<UserId>().ok())
            .ok_or(VaultError::Unauthenticated)
            .and_then(|id| super::heavy::inline(|| self.enabled_user(id)));
        let result = match owner {
            Ok(actor) => {
                let slot = self.active_uploads.slot(upload.id);
                let Ok(_turn) = slot.turn.try_lock() else {
                    return;
                };
                self.complete_upload(&actor, upload).await.map(|_| ())
            }
            Err(e) => {
                self.remove_upload(upload.id);
                Err(e)
            }
        };
        if let Err(e) = result {
            tracing::warn!(upload = %upload.id, error = %e, "a full upload left by a stop did not complete");
        }
    }

    /// Deletes an upload's row, segments and directory (best effort on
    /// the files: the sweep removes what is left).
    fn remove_upload(&self, id: UploadId) {
        self.active_uploads.forget(id);
        if let Err(e) = self.db.delete_upload(id) {
            tracing::warn!(upload = %id, error = %e, "cannot delete an upload's row");
        }
        let _ = fs::remove_dir_all(self.upload_dir(id));
    }

    /// Removes files under `uploads/` that no live segment row names.
    fn remove_stray_upload_files(&self) -> Result<usize, VaultError> {
        let root = self.data_dir().join(UPLOADS_DIR);
        let Ok(entries) = fs::read_dir(&root) else {
            return Ok(0);
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let upload = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<UploadId>().ok());
            let live = match upload {
                Some(id) if self.active_uploads.is_busy(id) => continue,
                Some(id) => match self.db.upload(id)? {
                    Some(u) if u.document.is_none() => Some(self.db.segments(id)?),
                    _ => None,
                },
                None => None,
            };
            let Some(segments) = live else {
                let _ = fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path));
                removed += 1;
                continue;
            };
            let keep: Vec<PathBuf> = segments
                .iter()
                .map(|s| segment_path(&path, s.start))
                .collect();
            for file in fs::read_dir(&path)?.flatten() {
                if !keep.contains(&file.path()) {
                    let _ = fs::remove_file(file.path());
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    pub(super) fn upload_dir(&self, id: UploadId) -> PathBuf {
        self.data_dir().join(UPLOADS_DIR).join(id.to_string())
    }

    fn limits(&self) -> Limits {
        Limits {
            max_bytes: self.settings.max_document_bytes,
            max_image_bytes: self.settings.max_image_bytes,
        }
    }
}

/// Refusals that end an upload for good (the file, the child, the
/// caller), as against failures that may pass (a full disk).
fn is_refusal(e: &VaultError) -> bool {
    matches!(
        e,
        VaultError::Intake(_)
            | VaultError::UnknownChild(_)
            | VaultError::InvalidField { .. }
            | VaultError::Denied(_)
            | VaultError::Integrity(_)
    )
}

pub(super) fn segment_path(dir: &Path, start: u64) -> PathBuf {
    dir.join(format!("{start:020}.age"))
}

/// How an append failed.
enum Received {
    /// The first bytes are a file intake refuses.
    Refused(VaultError),
    Failed(VaultError),
}

impl From<io::Error> for Received {
    fn from(e: io::Error) -> Self {
        Received::Failed(e.into())
    }
}

impl From<crate::store::StoreError> for Received {
    fn from(e: crate::store::StoreError) -> Self {
        Received::Failed(e.into())
    }
}

/// What an append needs besides the database.
struct Staged {
    dir: PathBuf,
    /// The keys, asked for each segment: a storage rotation may change the
    /// recipient in the middle of an append.
    ring: Arc<super::keyring::KeyRing>,
    kind: crate::domain::DocKind,
    limits: Limits,
}

impl Vault {
    /// Reads `source` into segments until it ends, fails, is asked to
    /// stop, or the upload is full. Each segment is written and synced on
    /// the blocking pool (the source is a bridge from the request body,
    /// which this task's connection feeds, so it must not be read here);
    /// its row commits here. Returns the upload as it stands and the
    /// source's failure, if any.
    async fn receive(
        &self,
        staged: &Staged,
        start: &Upload,
        source: Box<dyn Read + Send>,
        stop: Arc<AtomicBool>,
        follow: Option<&Follow>,
    ) -> Result<(Upload, Option<io::Error>), Received> {
        let mut upload = start.clone();
        let mut head_checked = upload.offset >= intake::HEAD_BYTES as u64 || upload.is_full();
        let mut latch = Latch {
            inner: source,
            failed: None,
            stop,
        };
        make_dir(&staged.dir)?;
        while !upload.is_full() && latch.failed.is_none() {
            let room = SEGMENT_BYTES.min(upload.length - upload.offset);
            let path = segment_path(&staged.dir, upload.offset);
            let recipient = staged.ring.keys().recipient();
            let recipient_text = recipient.to_string();
            let (back, written) = tokio::task::spawn_blocking(move || {
                let written = write_segment(&path, &recipient, &mut latch, room);
                (latch, written)
            })
            .await
            .map_err(|e| Received::Failed(e.into()))?;
            latch = back;
            let Some(sealed) = written? else {
                break;
            };
            let segment = Segment {
                start: upload.offset,
                length: sealed.size,
                sha256: sealed.sha256,
            };
            let committed =
                super::heavy::inline(|| self.db.add_segment(upload.id, &segment, &recipient_text));
            let committed = match committed {
                Ok(c) => c,
                Err(e) => {
                    let _ = fs::remove_file(segment_path(&staged.dir, segment.start));
                    return Err(e.into());
                }
            };
            if !committed {
                // Terminated (or expired and swept) meanwhile.
                let _ = fs::remove_file(segment_path(&staged.dir, segment.start));
                return Err(Received::Failed(VaultError::UnknownUpload(
                    upload.id.to_string(),
                )));
            }
            upload.offset += sealed.size;
            if !head_checked && (upload.offset >= intake::HEAD_BYTES as u64 || upload.is_full()) {
                head_checked = true;
                super::heavy::inline(|| self.check_staged_head(staged, &upload))?;
            }
            if let Some(follow) = follow {
                follow.push(segment);
            }
            if sealed.size < room {
                // The source ended (or failed, or was asked to stop).
                break;
            }
        }
        Ok((upload, latch.failed))
    }

    /// Intake's decision on the first bytes of a staged upload.
    fn check_staged_head(&self, staged: &Staged, upload: &Upload) -> Result<(), Received> {
        let segments = self.db.segments(upload.id)?;
        let mut reader = SegmentReader::new(
            staged.dir.clone(),
            staged.ring.keys(),
            Segments::Staged(segments.into_iter()),
            upload.offset,
        );
        let mut head = Vec::with_capacity(intake::HEAD_BYTES);
        (&mut reader)
            .take(intake::HEAD_BYTES as u64)
            .read_to_end(&mut head)?;
        intake::check_head(&head, staged.kind, Some(upload.length), staged.limits)
            .map(|_| ())
            .map_err(|refusal| Received::Refused(refusal.into()))
    }
}

/// Encrypts up to `room` bytes of `source` into the segment file `path`
/// (written aside, synced, renamed, its directory synced). `None` if the
/// source had no byte left.
fn write_segment(
    path: &Path,
    recipient: &age::x25519::Recipient,
    source: &mut Latch,
    room: u64,
) -> Result<Option<crate::crypto::Sealed>, Received> {
    let partial = path.with_extension("age.partial");
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    let mut out = BufWriter::new(file);
    let sealed = crypto::seal_with(Threads::Calling, recipient, source.take(room), &mut out)
        .map_err(|e| Received::Failed(VaultError::Io(io::Error::other(e.to_string()))));
    let sealed = match sealed {
        Ok(s) if s.size > 0 => s,
        other => {
            drop(out);
            let _ = fs::remove_file(&partial);
            return other.map(|_| None);
        }
    };
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    crate::durable::commit_synced(&partial, path)?;
    Ok(Some(sealed))
}

/// Creates an upload's directory (owner-only) and syncs its parent.
fn make_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let root = dir.parent().expect("an upload directory has a parent");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)?;
    fs::DirBuilder::new().mode(0o700).create(dir).or_else(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    File::open(root)?.sync_all()
}

/// A source that ends instead of failing, keeping the failure: the bytes
/// before a dropped connection are still the upload's. It also ends when
/// asked to stop (a newer append of the same upload takes over).
struct Latch {
    inner: Box<dyn Read + Send>,
    failed: Option<io::Error>,
    stop: Arc<AtomicBool>,
}

impl Read for Latch {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failed.is_some() {
            return Ok(0);
        }
        if self.stop.load(Ordering::SeqCst) {
            self.failed = Some(io::Error::new(
                io::ErrorKind::Interrupted,
                "a newer append of this upload took over",
            ));
            return Ok(0);
        }
        match self.inner.read(buf) {
            Ok(n) => Ok(n),
            Err(e) => {
                self.failed = Some(e);
                Ok(0)
            }
        }
    }
}

/// The plaintext of an upload's segments in order, each checked against
/// the length and SHA-256 its row recorded (an age file anyone could have
/// made with the node's public key is not taken on trust).
struct SegmentReader {
    dir: PathBuf,
    keys: Arc<crate::crypto::NodeKeys>,
    segments: Segments,
    current: Option<(Segment, SegmentPlaintext, Sha256, u64)>,
    expected_end: u64,
    position: u64,
}

type SegmentPlaintext = age::stream::StreamReader<io::BufReader<File>>;

impl SegmentReader {
    fn new(
        dir: PathBuf,
        keys: Arc<crate::crypto::NodeKeys>,
        segments: Segments,
        expected_end: u64,
    ) -> Self {
        SegmentReader {
            dir,
            keys,
            segments,
            current: None,
            expected_end,
            position: 0,
        }
    }

    fn broken(what: String) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, what)
    }
}

impl Read for SegmentReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.current.is_none() {
                let next = match &mut self.segments {
                    Segments::Staged(staged) => staged.next(),
                    Segments::Following(follow) => follow.next(),
                };
                let Some(seg) = next else {
                    if self.position != self.expected_end {
                        return Err(Self::broken(format!(
                            "the staged upload ends at {} of {} bytes",
                            self.position, self.expected_end
                        )));
                    }
                    return Ok(0);
                };
                if seg.start != self.position {
                    return Err(Self::broken(format!(
                        "a staged segment starts at {}, not {}",
                        seg.start, self.position
                    )));
                }
                let file = File::open(segment_path(&self.dir, seg.start))?;
                let reader = crypto::decrypting_reader(self.keys.identity(), file)
                    .map_err(|e| Self::broken(format!("a staged segment: {e}")))?;
                self.current = Some((seg, reader, Sha256::new(), 0));
            }
            let (seg, reader, hasher, got) = self.current.as_mut().expect("set above");
            let n = reader.read(buf)?;
            if n == 0 {
                let digest: [u8; 32] = hasher.clone().finalize().into();
                if *got != seg.length || digest != seg.sha256 {
                    return Err(Self::broken(format!(
                        "the staged segment at {} does not match its record",
                        seg.start
                    )));
                }
                self.current = None;
                continue;
            }
            hasher.update(&buf[..n]);
            *got += n as u64;
            self.position += n as u64;
            return Ok(n);
        }
    }
}

/// Where a [`SegmentReader`] takes its segments from.
enum Segments {
    /// Those committed, all there will be.
    Staged(std::vec::IntoIter<Segment>),
    /// Those a running append commits, as it commits them.
    Following(Arc<Follow>),
}

/// The segments a running append has committed, for a sealer that follows
/// it on another thread; closed when the append ends.
#[derive(Default)]
struct Follow {
    state: Mutex<Following>,
    changed: Condvar,
}

#[derive(Default)]
struct Following {
    ready: VecDeque<Segment>,
    closed: bool,
}

impl Follow {
    fn lock(&self) -> std::sync::MutexGuard<'_, Following> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, segment: Segment) {
        self.lock().ready.push_back(segment);
        self.changed.notify_all();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// The next committed segment, waiting for it; `None` once the append
    /// has ended and every segment it committed was taken.
    fn next(&self) -> Option<Segment> {
        let mut state = self.lock();
        loop {
            if let Some(segment) = state.ready.pop_front() {
                return Some(segment);
            }
            if state.closed {
                return None;
            }
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A following sealer's place, given back when dropped.
struct FollowerPlace(Arc<AtomicUsize>);

impl Drop for FollowerPlace {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Closes a [`Follow`] however the append ends, its future dropped
/// included (a client that hangs up), so the sealer never waits forever.
struct CloseOnDrop(Arc<Follow>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::domain::{CaseRecord, ChildId, DocKind};

    use crate::vault::testing::staff_of;

    /// A synthetic PDF of three and a half segments.
    fn pdf() -> Vec<u8> {
        let mut v = b"%PDF-1.7\n".to_vec();
        v.extend((0..(3 * SEGMENT_BYTES + SEGMENT_BYTES / 2)).map(|i| b'a' + (i % 23) as u8));
        v.extend_from_slice(b"\n%%EOF\n");
        v
    }

    /// Gives `upto` bytes, then fails like a dropped connection.
    struct Dropping(Cursor<Vec<u8>>, u64);

    impl Read for Dropping {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let left = self.1 - self.0.position();
            if left == 0 {
                return Err(io::ErrorKind::ConnectionReset.into());
            }
            let n = buf.len().min(left as usize);
            self.0.read(&mut buf[..n])
        }
    }

    async fn started(vault: &Vault, staff: &Principal, len: usize) -> (ChildId, Upload) {
        let record = CaseRecord {
            name: "Synthetic Upload Child".into(),
            institution: Some("home-1".into()),
            ..CaseRecord::default()
        };
        let child = vault.add_child(&Principal::LocalOperator, record).unwrap();
        let new = NewUpload {
            child_id: child,
            kind: DocKind::Fir,
            title: None,
            length: len as u64,
        };
        (child, vault.create_upload(staff, new).unwrap())
    }

    fn nothing_left(vault: &Vault, child: ChildId, id: UploadId) {
        assert!(vault.db.documents_of(child).unwrap().is_empty());
        assert!(vault.db.pending_blobs().unwrap().is_empty());
        assert!(vault.db.segments(id).unwrap().is_empty());
        assert!(!vault.upload_dir(id).exists(), "staged files left");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_followed_append_cut_short_resumes_and_completes_once() {
        let (_dir, vault) = crate::vault::testing::node().await;
        let staff = staff_of("home-1");
        let bytes = pdf();
        let (child, upload) = started(&vault, &staff, bytes.len()).await;
        // From the first byte (followed by a sealer), cut after 2.5 segments.
        let cut = 2 * SEGMENT_BYTES + SEGMENT_BYTES / 2;
        let first = vault
            .append_upload(
                &staff,
                upload.id,
                0,
                Box::new(Dropping(Cursor::new(bytes.clone()), cut)),
            )
            .await
            .unwrap();
        assert_eq!(first.upload.offset, cut, "every byte that arrived is kept");
        assert!(first.document.is_none() && first.interrupted.is_some());
        // The sealer that followed left no document and no blob behind.
        assert!(vault.db.documents_of(child).unwrap().is_empty());
        assert!(vault.db.pending_blobs().unwrap().is_empty());
        // Resumed: sealed after its last byte, byte for byte.
        let rest = Cursor::new(bytes[cut as usize..].to_vec());
        let done = vault
            .append_upload(&staff, upload.id, cut, Box::new(rest))
            .await
            .unwrap();
        let doc = done.document.expect("a document");
        assert_eq!(doc.sha256, hex::encode(Sha256::digest(&bytes)));
        assert_eq!(vault.db.documents_of(child).unwrap().len(), 1);
        assert!(vault.db.pending_blobs().unwrap().is_empty());
    }

    /// Gives `open` bytes, then waits for the gate before giving the rest.
    struct Gated {
        bytes: Cursor<Vec<u8>>,
        open: u64,
        gate: Option<std::sync::mpsc::Receiver<()>>,
    }

    impl Read for Gated {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.bytes.position() >= self.open {
                if let Some(gate) = self.gate.take() {
                    gate.recv().expect("the gate opens");
                }
            }
            let left = if self.gate.is_some() {
                (self.open - self.bytes.position()) as usize
            } else {
                buf.len()
            };
            let n = buf.len().min(left);
            self.bytes.read(&mut buf[..n])
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_followed_append_asks_the_policy_once_the_last_byte_is_in() {
        let (_dir, vault) = crate::vault::testing::node().await;
        let staff = staff_of("home-1");
        let bytes = pdf();
        let (child, upload) = started(&vault, &staff, bytes.len()).await;
        let (open, gate) = std::sync::mpsc::channel();
        let source = Gated {
            bytes: Cursor::new(bytes),
            open: 2 * SEGMENT_BYTES,
            gate: Some(gate),
        };
        // While the bytes arrive (the sealer already following them), the
        // child moves to another home: the staff of the first home may no
        // longer add to the record.
        let moving = async {
            while vault.db.segments(upload.id).unwrap().len() < 2 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            vault
                .move_child(
                    &Principal::LocalOperator,
                    child,
                    Some("home-2".into()),
                    None,
                    "synthetic move",
                )
                .unwrap();
            open.send(()).unwrap();
        };
        let (appended, ()) = tokio::join!(
            vault.append_upload(&staff, upload.id, 0, Box::new(source)),
            moving
        );
        // Refused as the caller now stands (an unknown child to them).
        let refused = appended.unwrap_err();
        assert!(
            matches!(refused, VaultError::UnknownChild(_)),
            "{refused:?}"
        );
        // Refused at completion: the upload is gone with all it staged.
        assert!(matches!(
            vault.own_upload(&staff, upload.id),
            Err(VaultError::UnknownUpload(_))
        ));
        nothing_left(&vault, child, upload.id);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_followed_append_of_a_cut_off_pdf_is_refused_whole() {
        let (_dir, vault) = crate::vault::testing::node().await;
        let staff = staff_of("home-1");
        let mut bytes = pdf();
        bytes.truncate(bytes.len() - 7); // no end marker
        let (child, upload) = started(&vault, &staff, bytes.len()).await;
        let refused = vault
            .append_upload(&staff, upload.id, 0, Box::new(Cursor::new(bytes)))
            .await
            .unwrap_err();
        assert!(matches!(refused, VaultError::Intake(_)), "{refused:?}");
        nothing_left(&vault, child, upload.id);
    }
}
