//! Storing and reading documents. A put is one streaming pass: intake checks,
//! SHA-256 and age encryption, written as a multipart upload; the document
//! exists only once its row commits. A get is one streaming pass too:
//! decrypt, hash, and the digest decides whether the output is trusted.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::Utc;
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;

use super::access::Note;
use super::error::{stream_failure, Streamed};
use super::intake::{self, IntakeError, Limits};
use super::{Vault, VaultError};
use crate::crypto::{self, HeaderSplit, Sealed, SealedHead, StreamError};
use crate::domain::{ChildId, DocKind, Document, DocumentId, MediaType, Principal};
use crate::policy::Action;
use crate::store::{AgeHeader, BlobKey, BlobUpload, StoreError};

/// What the caller says about a new document; the rest is found from its bytes.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub kind: DocKind,
    pub title: Option<String>,
    /// The original file name (its last path component is kept).
    pub file_name: Option<String>,
    /// The size the source says it has (a file's length, a Content-Length):
    /// refused at once above the limit, and a source that ends at any other
    /// length is refused as cut off.
    pub declared_size: Option<u64>,
}

/// When storing a document asks the policy whether the caller may add it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AskPolicy {
    /// Before the first byte is read (nothing is written if refused).
    First,
    /// After the last byte is sealed and before the row commits (the
    /// sealed blob is discarded if refused).
    Last,
}

impl Vault {
    /// Stores a new document for a child from `source`. Nothing is ever
    /// overwritten: every put is a new document.
    pub async fn put_document(
        &self,
        actor: &Principal,
        child_id: ChildId,
        new: NewDocument,
        source: Box<dyn Read + Send>,
    ) -> Result<Document, VaultError> {
        Ok(self.store_document(actor, child_id, new, source).await?.0)
    }

    /// [`Vault::put_document`], also telling whether intake removed
    /// metadata from the file (location and camera data from a photo, a
    /// PDF's document information), for a face that says so.
    pub async fn store_document(
        &self,
        actor: &Principal,
        child_id: ChildId,
        new: NewDocument,
        source: Box<dyn Read + Send>,
    ) -> Result<(Document, bool), VaultError> {
        self.store_document_from(actor, child_id, new, source, None, AskPolicy::First)
            .await
    }

    /// [`Vault::store_document`]; with `upload`, the document is the one
    /// that resumable upload became, and its row commits together with
    /// the upload's mark of completion (`vault/uploads.rs`). `ask` says
    /// whether the policy is asked before the first byte is read or after
    /// the last (a sealer that follows an upload as its bytes arrive asks
    /// once they are all in, so the decision is the one at completion).
    pub(super) async fn store_document_from(
        &self,
        actor: &Principal,
        child_id: ChildId,
        new: NewDocument,
        source: Box<dyn Read + Send>,
        upload: Option<crate::domain::UploadId>,
        ask: AskPolicy,
    ) -> Result<(Document, bool), VaultError> {
        let note = upload.map(Note::target).unwrap_or_default();
        let authorize = || {
            super::heavy::inline(|| {
                self.authorize_child(actor, Action::AddDocument, child_id, note.clone())
            })
        };
        if ask == AskPolicy::First {
            authorize()?;
        }
        let (title, file_name) = validate(&new)?;
        if let Some(size) = new.declared_size {
            let limit = self.settings.max_document_bytes;
            if size > limit {
                return Err(IntakeError::TooLarge { limit }.into());
            }
            if size == 0 {
                return Err(IntakeError::Empty.into());
            }
        }
        let id = DocumentId::new();
        let key = BlobKey::for_document(id);
        super::heavy::inline(|| self.db.begin_blob(&key, Utc::now()))?;
        // If the caller goes away before the end (a client that hangs up),
        // say so; the blob is removed by the serve sweep or the next start.
        let abandoned = Abandoned(Some(id));
        let written = match self
            .write_blob(&key, new.kind, new.declared_size, source)
            .await
        {
            Ok(done) => self
                .blobs
                .sync(&key)
                .await
                .map(|()| done)
                .map_err(Into::into),
            Err(e) => Err(e),
        };
        let written = match written {
            Ok(done) if ask == AskPolicy::Last => authorize().map(|_| done),
            other => other,
        };
        let (media, sealed, head, metadata_removed, age_header) = match written {
            Ok(done) => done,
            Err(e) => {
                abandoned.finished();
                self.discard(&key).await;
                return Err(e);
            }
        };
        let doc = Document {
            id,
            child_id,
            kind: new.kind,
            title,
            file_name,
            media_type: media,
            size: sealed.size,
            sha256: hex::encode(sealed.sha256),
            added_by: actor.label(),
            added_at: Utc::now(),
        };
        let sealed_head = (head.len, head.sha256);
        let committed = super::heavy::inline(|| match upload {
            None => self
                .db
                .commit_document(&doc, &key, sealed_head, &age_header)
                .map_err(VaultError::from),
            Some(upload) => {
                match self
                    .db
                    .commit_uploaded_document(upload, &doc, &key, sealed_head, &age_header)
                {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(VaultError::UnknownUpload(upload.to_string())),
                    Err(e) => Err(e.into()),
                }
            }
        });
        abandoned.finished();
        if let Err(e) = committed {
            self.discard(&key).await;
            return Err(e);
        }
        tracing::info!(document = %id, child = %child_id, size = doc.size, "document stored");
        Ok((doc, metadata_removed))
    }

    /// A document's metadata.
    pub fn document(&self, actor: &Principal, id: DocumentId) -> Result<Document, VaultError> {
        let unknown = || VaultError::UnknownDocument(id.to_string());
        let Some((doc, _)) = self.db.document(id)? else {
            self.refuse_unknown(actor, Action::ReadRecord, None, Some(id))?;
            return Err(unknown());
        };
        // Metadata is part of the child's record; a support person sees
        // only that of the kinds their grant covers.
        match self.authorize_child(actor, Action::ReadRecord, doc.child_id, Note::default()) {
            Ok(child) => self
                .need_to_know(actor, child, vec![doc])?
                .1
                .pop()
                .ok_or_else(unknown),
            Err(VaultError::UnknownChild(_)) => Err(unknown()),
            Err(e) => Err(e),
        }
    }

    /// A child's documents, oldest first.
    pub fn list_documents(
        &self,
        actor: &Principal,
        child_id: ChildId,
    ) -> Result<Vec<Document>, VaultError> {
        let child = self.authorize_child(actor, Action::ReadRecord, child_id, Note::default())?;
        let documents = self.db.documents_of(child_id)?;
        Ok(self.need_to_know(actor, child, documents)?.1)
    }

    /// Streams a document's plaintext into `sink`. Fails with an integrity
    /// error if the blob is missing, does not authenticate, or its digest
    /// differs from the stored one; the caller must then discard what it got.
    pub async fn read_document(
        &self,
        actor: &Principal,
        id: DocumentId,
        sink: Box<dyn Write + Send>,
    ) -> Result<Document, VaultError> {
        // Decided and audited before a byte is read.
        let (doc, key) =
            super::heavy::inline(|| self.authorize_document(actor, Action::ReadDocument, id))?;
        self.verify_blob(&doc, &key, sink).await?;
        tracing::info!(document = %id, "document read");
        Ok(doc)
    }

    /// Streams a document's stored age file into `sink`, still encrypted
    /// to the node: its header (from the database) and its payload (from
    /// the blob store), which `age -d` with the node's identity opens.
    /// Decided and audited as a read of the document. Returns the bytes
    /// written.
    pub async fn read_sealed_document(
        &self,
        actor: &Principal,
        id: DocumentId,
        mut sink: Box<dyn Write + Send>,
    ) -> Result<u64, VaultError> {
        let (doc, key) =
            super::heavy::inline(|| self.authorize_document(actor, Action::ReadDocument, id))?;
        let header = super::heavy::inline(|| self.db.age_header(doc.id))?;
        let handle = Handle::current();
        let blobs = self.blobs.clone();
        let written = tokio::task::spawn_blocking(move || -> Result<u64, VaultError> {
            let mut sealed = with_header_blocking(header, blobs.blocking_reader(&key, &handle)?);
            let n = std::io::copy(&mut sealed, &mut sink)?;
            sink.flush()?;
            Ok(n)
        })
        .await??;
        tracing::info!(document = %id, "sealed document read");
        Ok(written)
    }

    /// Like [`Vault::read_document`], for a caller that must answer before
    /// the bytes flow (an HTTP response's headers): once access is decided
    /// and audited, `sink_for` gets the document's metadata and returns
    /// the sink. An error after that means the bytes already sent must be
    /// discarded.
    pub async fn stream_document(
        &self,
        actor: &Principal,
        id: DocumentId,
        sink_for: impl FnOnce(&Document) -> Box<dyn Write + Send>,
    ) -> Result<Document, VaultError> {
        let (doc, key) =
            super::heavy::inline(|| self.authorize_document(actor, Action::ReadDocument, id))?;
        let sink = sink_for(&doc);
        self.verify_blob(&doc, &key, sink).await?;
        tracing::info!(document = %id, "document read");
        Ok(doc)
    }

    /// Saves a document's plaintext as the file `out`: written to
    /// `OUT.partial` (owner-only), synced and renamed only once the digest
    /// holds, removed otherwise. An existing `out` is replaced only if
    /// `replace`.
    pub async fn save_document(
        &self,
        actor: &Principal,
        id: DocumentId,
        out: &Path,
        replace: bool,
    ) -> Result<Document, VaultError> {
        if out.exists() && !replace {
            return Err(VaultError::OutputExists(out.to_path_buf()));
        }
        let (doc, key) =
            super::heavy::inline(|| self.authorize_document(actor, Action::ReadDocument, id))?;
        let partial = crate::bundle::partial_path(out);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)
            .map_err(|error| VaultError::OutputUnwritable {
                path: partial.clone(),
                error,
            })?;
        let keep = file.try_clone()?;
        let read = self.verify_blob(&doc, &key, Box::new(file)).await;
        let saved = match read.map(|()| doc) {
            Ok(doc) => keep
                .sync_all()
                .and_then(|()| crate::durable::commit_synced(&partial, out))
                .map(|()| doc)
                .map_err(VaultError::from),
            Err(e) => Err(e),
        };
        if saved.is_err() {
            let _ = fs::remove_file(&partial);
        }
        saved
    }

    pub(super) fn document_and_key(
        &self,
        id: DocumentId,
    ) -> Result<(Document, BlobKey), VaultError> {
        self.db
            .document(id)?
            .ok_or_else(|| VaultError::UnknownDocument(id.to_string()))
    }

    /// Decrypts `key` into `sink` and checks size and digest against `doc`.
    pub(super) async fn verify_blob(
        &self,
        doc: &Document,
        key: &BlobKey,
        sink: Box<dyn Write + Send>,
    ) -> Result<(), VaultError> {
        self.verify_blob_in(&self.blobs, doc, key, sink).await
    }

    /// [`Vault::verify_blob`] against the copy in another store.
    pub(super) async fn verify_blob_in(
        &self,
        blobs: &crate::store::BlobStore,
        doc: &Document,
        key: &BlobKey,
        sink: Box<dyn Write + Send>,
    ) -> Result<(), VaultError> {
        let header = super::heavy::inline(|| self.db.age_header(doc.id))?;
        let reader = match blobs.reader(key).await {
            Ok(r) => with_header(header, Box::new(r)),
            Err(StoreError::Blob(object_store::Error::NotFound { .. })) => {
                return Err(VaultError::Integrity(format!(
                    "the stored file of document {} is missing",
                    doc.id
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let keys = self.keys();
        let handle = Handle::current();
        let opened = super::heavy::spawn_heavy(move || {
            let input = SyncIoBridge::new_with_handle(reader, handle);
            crypto::open(keys.identity(), input, sink)
        })
        .await
        .map_err(VaultError::from)?;
        let opened = opened
            .map_err(|e| stream_failure(e, Streamed::Stored(&format!("document {}", doc.id))))?;
        if opened.size != doc.size || hex::encode(opened.sha256) != doc.sha256 {
            return Err(VaultError::Integrity(format!(
                "document {} does not match its recorded SHA-256",
                doc.id
            )));
        }
        Ok(())
    }

    /// One pass from source to blob: intake, hash, encrypt, multipart upload.
    async fn write_blob(
        &self,
        key: &BlobKey,
        kind: DocKind,
        declared_size: Option<u64>,
        source: Box<dyn Read + Send>,
    ) -> Result<(MediaType, Sealed, SealedHead, bool, AgeHeader), VaultError> {
        let upload = self.start_blob(key).await?;
        let recipient = self.keys().recipient();
        let recipient_text = recipient.to_string();
        let limits = Limits {
            max_bytes: self.settings.max_document_bytes,
            max_image_bytes: self.settings.max_image_bytes,
        };
        // The age header goes to the database, the payload to the store.
        let (mut out, header) = HeaderSplit::new(self.blobs.writer(upload, Handle::current()));
        super::heavy::spawn_heavy(move || {
            let (source, received) = Counted::new(source);
            let prepared =
                intake::prepare(Box::new(source), kind, limits).map_err(|e| match e {
                    Ok(refusal) => VaultError::Intake(refusal),
                    Err(io) => VaultError::Source(io),
                })?;
            let sealed =
                crypto::seal_with_head(&recipient, prepared.reader, &mut out).and_then(|sealed| {
                    let received = received.load(Ordering::Relaxed);
                    match declared_size {
                        Some(declared) if declared != received => Err(StreamError::Input(
                            IntakeError::SizeMismatch { declared, received }.into_io(),
                        )),
                        _ => Ok(sealed),
                    }
                });
            let out = out.into_inner();
            match sealed {
                Ok((sealed, head)) => {
                    out.finish()?;
                    let header = AgeHeader {
                        bytes: crypto::take_header(&header)?,
                        recipient: recipient_text,
                    };
                    let removed = prepared.metadata_removed.load(Ordering::Relaxed);
                    Ok((prepared.media, sealed, head, removed, header))
                }
                Err(e) => {
                    out.abort();
                    Err(stream_failure(e, Streamed::Upload))
                }
            }
        })
        .await
        .map_err(VaultError::from)?
    }

    /// Begins writing a blob whose pending mark is journaled: on S3, the
    /// multipart upload's id is journaled beside it before any part goes up.
    pub(super) async fn start_blob(&self, key: &BlobKey) -> Result<BlobUpload, VaultError> {
        let upload = self.blobs.start(key).await?;
        if let Some(id) = upload.multipart_id() {
            super::heavy::inline(|| self.db.note_multipart(key, id))?;
        }
        Ok(upload)
    }

    /// Removes a blob that did not become a document (and, on S3, its
    /// unfinished multipart upload), then its pending mark.
    pub(super) async fn discard(&self, key: &BlobKey) {
        let result = async {
            if let Some(id) = self.db.pending_multipart(key)? {
                self.blobs.abort_multipart(key, &id).await?;
            }
            self.blobs.delete(key).await?;
            self.db.forget_pending_blob(key)
        }
        .await;
        if let Err(e) = result {
            // The pending mark stays, so gc removes the blob later.
            tracing::warn!(error = %e, "could not remove an unfinished upload; gc will");
        }
    }
}

/// Logs an upload whose caller went away before it finished.
struct Abandoned(Option<DocumentId>);

impl Abandoned {
    fn finished(mut self) {
        self.0 = None;
    }
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some(id) = self.0 {
            tracing::info!(document = %id, "upload abandoned before it finished; its blob is swept");
        }
    }
}

/// A reader that counts the bytes it passes on.
struct Counted<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Counted<R> {
    fn new(inner: R) -> (Self, Arc<AtomicU64>) {
        let count = Arc::new(AtomicU64::new(0));
        (
            Counted {
                inner,
                count: count.clone(),
            },
            count,
        )
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The rule of a document's title, as stored (also applied to one arriving
/// in a bundle): not blank, at most 200 characters, required for `other`.
pub(super) fn title_rule(kind: DocKind, title: Option<&str>) -> Result<(), &'static str> {
    match title {
        Some(t) if t.trim().is_empty() => Err("the title is blank"),
        Some(t) if t.chars().count() > 200 => Err("the title is longer than 200 characters"),
        Some(t) if crate::domain::text::line_rule(t).is_err() => Err(
            "the title holds a control or bidirectional override character, or only invisible ones",
        ),
        None if kind == DocKind::Other => Err("a document of kind `other` needs a title"),
        _ => Ok(()),
    }
}

/// The rule of a document's file name, as stored (also applied to one
/// arriving in a bundle): 1 to 255 characters, no path separator, no
/// control character.
pub(super) fn file_name_rule(name: &str) -> Result<(), &'static str> {
    let count = name.chars().count();
    if count == 0
        || count > 255
        || name.chars().any(|c| c == '/' || c == '\\')
        || crate::domain::text::line_rule(name).is_err()
    {
        Err("the file name must be 1 to 255 characters without / \\, control or bidirectional override characters")
    } else {
        Ok(())
    }
}

/// A title as given (trimmed; blank is none), checked against
/// [`title_rule`]: the title to keep.
pub(super) fn checked_title(
    kind: DocKind,
    title: Option<&str>,
) -> Result<Option<String>, VaultError> {
    let title = title
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    title_rule(kind, title.as_deref()).map_err(|rule| VaultError::InvalidField {
        field: "title",
        rule: rule.into(),
    })?;
    Ok(title)
}

/// Checks the caller's fields; returns the title and the file name to keep.
fn validate(new: &NewDocument) -> Result<(Option<String>, Option<String>), VaultError> {
    let title = checked_title(new.kind, new.title.as_deref())?;
    let file_name = new
        .file_name
        .as_deref()
        .and_then(|n| n.rsplit(['/', '\\']).next())
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().filter(|c| !c.is_control()).take(255).collect());
    Ok((title, file_name))
}

/// A stored file as age wrote it: the header kept in the database (if the
/// document has one there) followed by the payload from the blob store.
pub(super) fn with_header(
    header: Option<Vec<u8>>,
    payload: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
) -> Box<dyn tokio::io::AsyncRead + Send + Unpin> {
    use tokio::io::AsyncReadExt;
    match header {
        Some(h) => Box::new(AsyncReadExt::chain(std::io::Cursor::new(h), payload)),
        None => payload,
    }
}

/// [`with_header`] for a blocking reader of the payload.
pub(super) fn with_header_blocking(
    header: Option<Vec<u8>>,
    payload: Box<dyn Read + Send>,
) -> Box<dyn Read + Send> {
    match header {
        Some(h) => Box::new(std::io::Cursor::new(h).chain(payload)),
        None => payload,
    }
}
