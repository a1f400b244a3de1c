//! Receiving a hand-over: importing a bundle addressed to this node (all or
//! nothing, once per bundle id, documents stored as they arrived after one
//! verifying pass) with a signed receipt; and, at the source, checking a
//! receipt that came back and recording the hand-over as delivered.

use std::io::{self, Read, Write};

use chrono::Utc;
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;

use super::access::Note;
use super::{Vault, VaultError};
use crate::bundle::{
    BundleError, BundleReader, Manifest, Receipt, ReceiptDocument, SignedReceipt, Verified,
    RECEIPT_FORMAT,
};
use crate::crypto::{self, StreamError};
use crate::domain::{Child, ChildId, Document, DocumentId, Origin, Principal};
use crate::policy::Action;
use crate::store::{BlobKey, ImportedBundle};

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

/// What `verify_receipt` found.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub receipt: Receipt,
    /// The signed receipt as it came (what is kept as proof).
    pub receipt_text: String,
    pub child_id: ChildId,
    /// True when this receipt had been recorded before.
    pub already: bool,
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
        let (own, keys, path) = (
            self.card().id.clone(),
            self.keys.clone(),
            path.to_path_buf(),
        );
        let (reader, verified, manifest) = tokio::task::spawn_blocking(move || {
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
        .map_err(join_error)??;

        let bundle_id = verified.envelope.bundle_id.clone();
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

        let mut stored: Vec<(Document, BlobKey)> = Vec::new();
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
                for (_, key) in &stored {
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
        stored: &mut Vec<(Document, BlobKey)>,
    ) -> Result<Child, VaultError> {
        let now = Utc::now();
        let child = Child {
            id: ChildId::new(),
            record: manifest.child.clone(),
            created_at: now,
            created_by: format!("bundle:{}", verified.envelope.source.id),
            updated_at: now,
            origin: Some(Origin {
                source_department: verified.envelope.source.id.clone(),
                bundle_id: verified.envelope.bundle_id.clone(),
                source_child_id: manifest.source_child_id,
            }),
        };
        for (i, doc) in manifest.documents.iter().enumerate() {
            let id = DocumentId::new();
            let key = BlobKey::for_document(id);
            self.db.begin_blob(&key, Utc::now())?;
            stored.push((
                Document {
                    id,
                    child_id: child.id,
                    kind: doc.kind,
                    title: doc.title.clone(),
                    file_name: doc.file_name.clone(),
                    media_type: doc.media_type,
                    size: doc.size,
                    sha256: doc.sha256.clone(),
                    added_by: child.created_by.clone(),
                    added_at: now,
                },
                key.clone(),
            ));
            let (writer, keys, handle) = (
                self.blobs.writer(&key),
                self.keys.clone(),
                Handle::current(),
            );
            let (back, checked) = tokio::task::spawn_blocking(move || {
                let checked = (|| -> Result<crypto::Opened, VaultError> {
                    let mut tee = Tee {
                        inner: reader.document_ciphertext(i + 1)?,
                        copy: SyncIoBridge::new_with_handle(writer, handle.clone()),
                    };
                    let opened = crypto::open(keys.identity(), &mut tee, io::sink()).map_err(
                        |e| match e {
                            StreamError::Integrity(m) => VaultError::Bundle(BundleError::Decrypt(
                                format!("documents/{:04}.age", i + 1),
                                m,
                            )),
                            e @ StreamError::NotRecorded => {
                                VaultError::Bundle(BundleError::Decrypt(
                                    format!("documents/{:04}.age", i + 1),
                                    e.to_string(),
                                ))
                            }
                            StreamError::Input(e) | StreamError::Output(e) => VaultError::Io(e),
                        },
                    )?;
                    // Whatever age did not need still belongs to the entry.
                    io::copy(&mut tee, &mut io::sink())?;
                    let mut copy = tee.copy;
                    if let Err(e) = copy.shutdown() {
                        let _ = handle.block_on(copy.into_inner().abort());
                        return Err(e.into());
                    }
                    Ok(opened)
                })();
                (reader, checked)
            })
            .await
            .map_err(join_error)?;
            reader = back;
            let opened = checked?;
            if opened.size != doc.size || hex::encode(opened.sha256) != doc.sha256 {
                return Err(BundleError::Digest(doc.path.clone()).into());
            }
            self.blobs.sync(&key).await?;
        }
        Ok(child)
    }

    fn commit_import(
        &self,
        child: Child,
        verified: &Verified,
        manifest: &Manifest,
        stored: &[(Document, BlobKey)],
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
        let signed = SignedReceipt::sign(&receipt, &self.keys);
        let bytes = signed.to_bytes();
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

    /// At the source: checks a receipt's signature and that it answers a
    /// bundle this node sent, exactly; records the hand-over as delivered.
    pub async fn verify_receipt(
        &self,
        actor: &Principal,
        bytes: &[u8],
    ) -> Result<Delivered, VaultError> {
        self.authorize_node(actor, Action::ReceiveTransfer, Note::default())?;
        let delivered = self.check_receipt(bytes)?;
        self.record_delivery(&delivered)?;
        Ok(delivered)
    }

    /// Checks a receipt's signature against the directory and that it
    /// answers, exactly, a bundle this node sent. Records nothing.
    pub(super) fn check_receipt(&self, bytes: &[u8]) -> Result<Delivered, VaultError> {
        let signed = SignedReceipt::parse(bytes)?;
        let directory = self.directory()?;
        let receipt = signed.verify(|id| directory.card(id))?;
        if receipt.source != self.card().id {
            return Err(VaultError::Invalid(format!(
                "the receipt answers a bundle from {}, not from this node",
                receipt.source.chars().take(64).collect::<String>()
            )));
        }
        let sent = self.db.sent_bundle(&receipt.bundle_id)?.ok_or_else(|| {
            VaultError::Invalid(format!(
                "no bundle {} was sent from this node",
                short(&receipt.bundle_id)
            ))
        })?;
        let paths: Vec<_> = receipt.documents.iter().map(|d| d.path.as_str()).collect();
        let sent_paths: Vec<_> = sent.documents.iter().map(|(p, _)| p.as_str()).collect();
        if sent.destination != receipt.destination
            || sent.envelope_sha256 != receipt.envelope_sha256
            || paths != sent_paths
        {
            return Err(VaultError::Integrity(format!(
                "the receipt does not match bundle {} as it was sent",
                receipt.bundle_id
            )));
        }
        Ok(Delivered {
            receipt,
            receipt_text: signed.receipt,
            child_id: sent.child_id,
            already: sent.delivered_at.is_some(),
        })
    }

    /// Records a checked receipt: the bundle and its transfer are delivered.
    pub(super) fn record_delivery(&self, d: &Delivered) -> Result<(), VaultError> {
        if !d.already {
            self.db
                .mark_delivered(&d.receipt.bundle_id, &d.receipt_text, Utc::now())?;
            self.transfer_delivered(&d.receipt.bundle_id)?;
            tracing::info!(bundle = %d.receipt.bundle_id, "hand-over delivered");
        }
        Ok(())
    }
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

fn join_error(e: tokio::task::JoinError) -> VaultError {
    VaultError::Io(io::Error::other(e))
}

/// At most 64 characters of an id from outside, for an error message.
pub(super) fn short(s: &str) -> String {
    s.chars().take(64).collect()
}
