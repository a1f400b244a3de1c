//! Receiving a hand-over: importing a bundle addressed to this node (all or
//! nothing, once per bundle id, the manifest and every document held to
//! this node's own intake rules, documents stored as they arrived after one
//! verifying pass) with a signed receipt, or refusing it with a signed
//! refusal; and, at the source, checking the answer that came back against
//! what was sent and recording the hand-over as delivered, partially
//! delivered or refused.

use std::io::{self, Read, Write};

use chrono::Utc;
use tokio::runtime::Handle;

use super::access::Note;
use super::error::{stream_failure, Streamed};
use super::intake::{Inspection, Limits};
use super::{children, documents, Vault, VaultError};
use crate::bundle::{
    self, Answer, BundleError, BundleReader, Manifest, Receipt, ReceiptDocument, Refusal,
    SignedAnswer, Verified, RECEIPT_FORMAT, REFUSAL_FORMAT,
};
use crate::crypto;
use crate::domain::text::outside_id;
use crate::domain::{
    AnswerOutcome, Child, ChildId, Document, DocumentId, Origin, Principal, TransferStep,
};
use crate::policy::Action;
use crate::store::{AgeHeader, BlobKey, ImportedBundle, RefusedBundle, SentAnswer};

/// What `import_bundle` did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub bundle_id: String,
    pub source: String,
    pub child_id: ChildId,
    pub documents: usize,
    /// True when this bundle id had been imported before: nothing changed.
    pub already: bool,
    /// The receipt file's bytes.
    pub receipt: Vec<u8>,
}

/// What `refuse_bundle` did.
#[derive(Debug, Clone)]
pub struct RefusedImport {
    pub bundle_id: String,
    pub source: String,
    /// True when this bundle had been refused before (with that refusal).
    pub already: bool,
    /// The refusal file's bytes.
    pub refusal: Vec<u8>,
}

/// What `verify_receipt` found: a verified answer to a bundle this node sent.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub answer: Answer,
    pub outcome: AnswerOutcome,
    /// The entry paths of the documents the destination took (all, for a
    /// full receipt; none, for a refusal).
    pub arrived: Vec<String>,
    /// The entry paths of the documents sent but not taken.
    pub missing: Vec<String>,
    /// The answer file as it came (what is kept as proof).
    pub file: String,
    pub child_id: ChildId,
    /// True when this very answer had been recorded before.
    pub already: bool,
}

impl Delivered {
    /// The bundle answered.
    pub fn bundle_id(&self) -> &str {
        self.answer.bundle_id()
    }
    /// The department that signed the answer.
    pub fn destination(&self) -> &str {
        self.answer.destination()
    }
}

impl Vault {
    /// Imports a bundle addressed to this node.
    pub async fn import_bundle(
        &self,
        actor: &Principal,
        path: &std::path::Path,
    ) -> Result<Imported, VaultError> {
        self.authorize_node(actor, Action::ReceiveTransfer, Note::default())?;
        let directory = self.directory()?;
        let (own, keys, path) = (self.card().id.clone(), self.keys(), path.to_path_buf());
        let (reader, verified, manifest) = super::heavy::spawn_heavy(move || {
            let mut reader = BundleReader::open(&path)?;
            let verified = reader.verify(|id| directory.card(id))?;
            if verified.envelope.destination.id != own {
                return Err(BundleError::WrongDestination {
                    expected: own,
                    found: verified.envelope.destination.id.clone(),
                });
            }
            let manifest = reader.manifest(&verified, keys.identity())?;
            Ok((reader, verified, manifest))
        })
        .await
        .map_err(VaultError::from)??;

        check_manifest(&manifest)?;
        let bundle_id = verified.envelope.bundle_id.clone();
        if self.db.refused_bundle(&bundle_id)?.is_some() {
            return Err(VaultError::Conflict(format!(
                "bundle {bundle_id} was refused on this node; it cannot be imported"
            )));
        }
        if let Some(before) = self.db.imported_bundle(&bundle_id)? {
            if before.envelope_sha256 != verified.envelope_sha256 {
                return Err(VaultError::Integrity(format!(
                    "a different bundle with id {bundle_id} was imported before"
                )));
            }
            return Ok(Imported {
                bundle_id,
                source: before.source,
                child_id: before.child_id,
                documents: manifest.documents.len(),
                already: true,
                receipt: before.receipt.into_bytes(),
            });
        }

        let mut stored: Vec<(Document, BlobKey, AgeHeader)> = Vec::new();
        let result = self
            .store_documents(reader, &verified, &manifest, &mut stored)
            .await;
        let result = match result {
            Ok(child) => self.commit_import(child, &verified, &manifest, &stored),
            Err(e) => Err(e),
        };
        match result {
            Ok(imported) => {
                tracing::info!(bundle = %bundle_id, child = %imported.child_id, "bundle imported");
                Ok(imported)
            }
            Err(e) => {
                for (_, key, _) in &stored {
                    self.discard(key).await;
                }
                Err(e)
            }
        }
    }

    /// Stores every document's ciphertext as it arrived, checking each in
    /// the same pass; pushes what it stored to `stored` (so a failure can
    /// remove it). Returns the new child.
    async fn store_documents(
        &self,
        mut reader: BundleReader,
        verified: &Verified,
        manifest: &Manifest,
        stored: &mut Vec<(Document, BlobKey, AgeHeader)>,
    ) -> Result<Child, VaultError> {
        let now = Utc::now();
        let limits = Limits {
            max_bytes: self.settings.max_document_bytes,
            max_image_bytes: self.settings.max_image_bytes,
        };
        // The placement is this department's to give: the source's place
        // ids are its own (they could equal a scope here by chance), so
        // they move to the origin, and the child arrives placed with the
        // department itself until an officer places it.
        let mut record: crate::domain::CaseRecord = manifest.child.clone().into();
        let source_institution = record.institution.take();
        let source_district = record.district.take();
        let child = Child {
            id: ChildId::new(),
            record,
            created_at: now,
            created_by: format!("bundle:{}", verified.envelope.source.id),
            updated_at: now,
            origin: Some(Origin {
                source_department: verified.envelope.source.id.clone(),
                bundle_id: verified.envelope.bundle_id.clone(),
                source_child_id: manifest.source_child_id,
                source_institution,
                source_district,
            }),
        };
        for (i, doc) in manifest.documents.iter().enumerate() {
            let id = DocumentId::new();
            let key = BlobKey::for_document(id);
            self.db.begin_blob(&key, Utc::now())?;
            stored.push((
                doc.to_document(id, child.id, child.created_by.clone(), now),
                key.clone(),
                AgeHeader {
                    bytes: Vec::new(),
                    // Entries are encrypted to the recipient on this
                    // node's card (the envelope's fingerprint matched it).
                    recipient: self.card().age_recipient.clone(),
                },
            ));
            let upload = self.start_blob(&key).await?;
            // The age header goes to the database, the payload to the store.
            let ((writer, header), keys) = (
                crypto::HeaderSplit::new(self.blobs.writer(upload, Handle::current())),
                self.keys(),
            );
            let (path, kind, media) = (doc.path.clone(), doc.kind, doc.media_type);
            let (back, checked) = super::heavy::spawn_heavy(move || {
                let checked = (|| -> Result<crypto::Opened, VaultError> {
                    let mut tee = Tee {
                        inner: reader.document_ciphertext(i + 1)?,
                        copy: writer,
                    };
                    let mut inspection = Inspection::new(kind, media, limits);
                    let opened = crypto::open(keys.identity(), &mut tee, &mut inspection)
                        .map_err(|e| stream_failure(e, Streamed::BundleEntry(&path)))?;
                    inspection
                        .finish()
                        .map_err(|refusal| VaultError::BundleDocument {
                            path: path.clone(),
                            refusal,
                        })?;
                    // Whatever age did not need still belongs to the entry.
                    io::copy(&mut tee, &mut io::sink())?;
                    tee.copy.into_inner().finish()?;
                    Ok(opened)
                })();
                (reader, checked)
            })
            .await
            .map_err(VaultError::from)?;
            reader = back;
            let opened = checked?;
            if opened.size != doc.size || hex::encode(opened.sha256) != doc.sha256 {
                return Err(BundleError::PlaintextDigest(doc.path.clone()).into());
            }
            self.blobs.sync(&key).await?;
            stored.last_mut().expect("pushed above").2.bytes = crypto::take_header(&header)?;
        }
        Ok(child)
    }

    fn commit_import(
        &self,
        child: Child,
        verified: &Verified,
        manifest: &Manifest,
        stored: &[(Document, BlobKey, AgeHeader)],
    ) -> Result<Imported, VaultError> {
        let receipt = Receipt {
            format: RECEIPT_FORMAT.to_string(),
            bundle_id: verified.envelope.bundle_id.clone(),
            envelope_sha256: verified.envelope_sha256.clone(),
            source: verified.envelope.source.id.clone(),
            destination: self.card().id.clone(),
            received_at: Utc::now(),
            documents: manifest
                .documents
                .iter()
                .map(|d| ReceiptDocument {
                    path: d.path.clone(),
                    size: d.size,
                    sha256: d.sha256.clone(),
                })
                .collect(),
        };
        let bytes = SignedAnswer::sign_receipt(&receipt, &self.keys()).to_bytes();
        self.db.commit_import(
            &child,
            stored,
            &ImportedBundle {
                bundle_id: receipt.bundle_id.clone(),
                child_id: child.id,
                source: receipt.source.clone(),
                envelope_sha256: receipt.envelope_sha256.clone(),
                receipt: String::from_utf8(bytes.clone()).expect("JSON is UTF-8"),
                imported_at: receipt.received_at,
            },
        )?;
        Ok(Imported {
            bundle_id: receipt.bundle_id,
            source: receipt.source,
            child_id: child.id,
            documents: stored.len(),
            already: false,
            receipt: bytes,
        })
    }

    /// At the destination: refuses a bundle addressed to this node with a
    /// reason, without importing it; signs the refusal, keeps it, and
    /// returns its file (for the source). Refusing the same bundle again
    /// returns the refusal already made.
    pub async fn refuse_bundle(
        &self,
        actor: &Principal,
        path: &std::path::Path,
        reason: &str,
    ) -> Result<RefusedImport, VaultError> {
        self.authorize_node(actor, Action::ReceiveTransfer, Note::default())?;
        let verified = self.verify_bundle(path).await?;
        self.refuse_verified(&verified, reason)
    }

    /// Signs and records the refusal of a verified bundle.
    pub(super) fn refuse_verified(
        &self,
        verified: &Verified,
        reason: &str,
    ) -> Result<RefusedImport, VaultError> {
        let envelope = &verified.envelope;
        self.addressed_here(envelope)?;
        let reason = reason.trim();
        if !bundle::valid_reason(reason) {
            return Err(VaultError::ReasonRequired("a refusal"));
        }
        let bundle_id = envelope.bundle_id.clone();
        if self.db.imported_bundle(&bundle_id)?.is_some() {
            return Err(VaultError::Conflict(format!(
                "bundle {bundle_id} was imported on this node; it cannot be refused"
            )));
        }
        if let Some(before) = self.db.refused_bundle(&bundle_id)? {
            return self.refused_before(before, verified);
        }
        let refusal = Refusal {
            format: REFUSAL_FORMAT.to_string(),
            bundle_id: bundle_id.clone(),
            envelope_sha256: verified.envelope_sha256.clone(),
            source: envelope.source.id.clone(),
            destination: self.card().id.clone(),
            refused_at: Utc::now(),
            reason: reason.to_string(),
        };
        let bytes = SignedAnswer::sign_refusal(&refusal, &self.keys()).to_bytes();
        let row = RefusedBundle {
            bundle_id: bundle_id.clone(),
            source: refusal.source.clone(),
            envelope_sha256: refusal.envelope_sha256.clone(),
            refusal: String::from_utf8(bytes.clone()).expect("JSON is UTF-8"),
            refused_at: refusal.refused_at,
        };
        if !self.db.record_refusal(&row)? {
            // Another refusal of the same bundle won the race.
            let before = self.db.refused_bundle(&bundle_id)?.ok_or_else(|| {
                VaultError::Integrity("a refusal row vanished while it was written".into())
            })?;
            return self.refused_before(before, verified);
        }
        tracing::info!(bundle = %bundle_id, "bundle refused");
        Ok(RefusedImport {
            bundle_id,
            source: row.source,
            already: false,
            refusal: bytes,
        })
    }

    fn refused_before(
        &self,
        before: RefusedBundle,
        verified: &Verified,
    ) -> Result<RefusedImport, VaultError> {
        if before.envelope_sha256 != verified.envelope_sha256 {
            return Err(VaultError::Integrity(format!(
                "a different bundle with id {} was refused before",
                before.bundle_id
            )));
        }
        Ok(RefusedImport {
            bundle_id: before.bundle_id,
            source: before.source,
            already: true,
            refusal: before.refusal.into_bytes(),
        })
    }

    /// At the source: checks an answer's signature and that it answers a
    /// bundle this node sent, exactly; records the outcome.
    pub fn verify_receipt(&self, actor: &Principal, bytes: &[u8]) -> Result<Delivered, VaultError> {
        self.authorize_node(actor, Action::ReceiveTransfer, Note::default())?;
        let delivered = self.check_receipt(bytes)?;
        self.record_delivery(&delivered)
    }

    /// Checks an answer's signature against the directory and that it
    /// answers a bundle this node sent: its destination and envelope, and
    /// every document a receipt lists against this node's own record of
    /// it (path, size, SHA-256). Records nothing.
    pub(super) fn check_receipt(&self, bytes: &[u8]) -> Result<Delivered, VaultError> {
        let signed = SignedAnswer::parse(bytes)?;
        let directory = self.directory()?;
        let answer = signed.verify(|id| directory.card(id))?;
        if answer.source() != self.card().id {
            return Err(VaultError::ForeignAnswer(outside_id(answer.source())));
        }
        let sent = self
            .db
            .sent_bundle(answer.bundle_id())?
            .ok_or_else(|| VaultError::UnknownSentBundle(outside_id(answer.bundle_id())))?;
        let mismatch = |why| BundleError::AnswerMismatch(sent.bundle_id.clone(), why);
        if sent.destination != answer.destination() {
            return Err(mismatch("another destination").into());
        }
        if sent.envelope_sha256 != answer.envelope_sha256() {
            return Err(mismatch("another envelope").into());
        }
        let (outcome, arrived) = match &answer {
            Answer::Receipt(r) => {
                for d in &r.documents {
                    let listed = sent.documents.iter().find(|s| s.path == d.path);
                    match listed {
                        None => return Err(mismatch("a document that was not sent").into()),
                        Some(s) if s.size != d.size || s.sha256 != d.sha256 => {
                            return Err(mismatch("a document's size or SHA-256").into())
                        }
                        Some(_) => {}
                    }
                }
                let arrived: Vec<String> = r.documents.iter().map(|d| d.path.clone()).collect();
                let outcome = if arrived.len() == sent.documents.len() {
                    AnswerOutcome::Delivered
                } else {
                    AnswerOutcome::PartiallyDelivered
                };
                (outcome, arrived)
            }
            Answer::Refusal(_) => (AnswerOutcome::Refused, Vec::new()),
        };
        let missing = sent
            .documents
            .iter()
            .map(|d| d.path.clone())
            .filter(|p| !arrived.contains(p))
            .collect();
        let file = String::from_utf8_lossy(bytes).into_owned();
        let already = match &sent.answer {
            None => false,
            Some(before) if answer_text(&before.file) == Some(signed.text.clone()) => true,
            Some(before) => {
                return Err(VaultError::Conflict(format!(
                    "bundle {} already has an answer ({}); a second one is refused",
                    sent.bundle_id,
                    before.outcome.as_str()
                )))
            }
        };
        Ok(Delivered {
            answer,
            outcome,
            arrived,
            missing,
            file,
            child_id: sent.child_id,
            already,
        })
    }

    /// Records a checked answer: the bundle and its transfer are delivered,
    /// partially delivered or refused.
    pub(super) fn record_delivery(&self, d: &Delivered) -> Result<Delivered, VaultError> {
        if d.already {
            return Ok(d.clone());
        }
        let recorded = SentAnswer {
            outcome: d.outcome,
            file: d.file.clone(),
            at: Utc::now(),
        };
        if !self.db.record_answer(d.bundle_id(), &recorded)? {
            // Another answer was recorded meanwhile: judge this one again.
            return self.check_receipt(d.file.as_bytes());
        }
        let step = match &d.answer {
            Answer::Refusal(r) => TransferStep::Refuse {
                reason: r.reason.clone(),
            },
            Answer::Receipt(_) if d.outcome == AnswerOutcome::Delivered => TransferStep::Deliver,
            Answer::Receipt(_) => TransferStep::DeliverPartially,
        };
        self.transfer_answered(d.bundle_id(), step)?;
        tracing::info!(bundle = %d.bundle_id(), outcome = d.outcome.as_str(), "hand-over answered");
        Ok(d.clone())
    }
}

/// The signed text of a stored answer file.
fn answer_text(file: &str) -> Option<String> {
    SignedAnswer::parse(file.as_bytes()).ok().map(|a| a.text)
}

/// The manifest's own rules, beyond its form: the case record and each
/// document as this node's intake would take them. The first refusal names
/// the document by its entry path.
fn check_manifest(manifest: &Manifest) -> Result<(), VaultError> {
    let refuse = |m: String| VaultError::Bundle(BundleError::Manifest(m));
    children::validate(&manifest.child.clone().into())
        .map_err(|e| refuse(format!("child: {e}")))?;
    if let Some(r) = &manifest.incomplete_reason {
        if !bundle::valid_reason(r) {
            return Err(refuse(
                "incomplete_reason: 1 to 500 characters, not blank".into(),
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for d in &manifest.documents {
        let at = |m: &str| refuse(format!("{}: {m}", d.path));
        documents::title_rule(d.kind, d.title.as_deref()).map_err(at)?;
        if let Some(name) = &d.file_name {
            documents::file_name_rule(name).map_err(at)?;
        }
        if d.size == 0 {
            return Err(at("the document is empty"));
        }
        if !seen.insert(d.source_document_id.as_str()) {
            return Err(at("its source_document_id is listed twice"));
        }
    }
    Ok(())
}

/// Copies everything read from `inner` into `copy`.
struct Tee<R, W> {
    inner: R,
    copy: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}
