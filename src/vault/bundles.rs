//! Hand-over by bundle: building one for a child (each document re-encrypted
//! from this node's key to the destination's in one pass, staged as
//! ciphertext only), verifying any bundle against the directory, and opening
//! one addressed to this node into a new directory.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::Utc;
use tokio::runtime::Handle;

use super::access::Note;
use super::error::{stream_failure, Streamed};
use super::{Purpose, Vault, VaultError};
use crate::bundle::bagit::PayloadFile;
use crate::bundle::{
    self, document_entry, BundleError, BundleReader, BundleWriter, DepartmentRef, Envelope,
    Manifest, ManifestDocument, Verified, MANIFEST_FORMAT,
};
use crate::crypto::{self, InputCheck, ResealPlan, SealedHead, Threads};
use crate::domain::{ChildId, Directory, Principal};
use crate::policy::Action;
use crate::store::{BlobKey, SentBundle, SentDocument};

/// What `create_bundle` made.
#[derive(Debug, Clone)]
pub struct CreatedBundle {
    pub bundle_id: String,
    pub destination: String,
    pub documents: usize,
    pub size: u64,
}

/// What `open_bundle` wrote.
#[derive(Debug, Clone)]
pub struct OpenedBundle {
    pub verified: Verified,
    pub manifest: Manifest,
    pub dir: PathBuf,
}

impl Vault {
    /// Writes a bundle of `child` for department `to` at `out`. Refused while
    /// the restoration checklist is incomplete, unless a reason is given; the
    /// reason goes into the manifest. `progress` hears (bytes done, bytes total).
    pub async fn create_bundle(
        &self,
        actor: &Principal,
        child: ChildId,
        to: &str,
        out: &Path,
        allow_incomplete: Option<String>,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<CreatedBundle, VaultError> {
        let record =
            self.authorize_child(actor, Action::CreateTransfer, child, Note::target(to))?;
        let view = self.view_of(record, Purpose::Restoration)?;
        let (destination, reason) = self.sendable(&view, to, out, allow_incomplete)?;
        let recipient = crypto::parse_recipient(&destination.age_recipient)?;
        let manifest = manifest_of(&view, reason);
        let bundle_id = manifest.bundle_id.clone();
        let signing = crypto::parse_ssh_public(&self.card().ssh_public_key)?;
        let ends = (
            DepartmentRef {
                id: self.card().id.clone(),
                fingerprint: crypto::ssh_fingerprint(&signing),
            },
            DepartmentRef {
                id: destination.id.clone(),
                fingerprint: crypto::age_fingerprint(&recipient),
            },
        );
        let heads = view
            .documents
            .iter()
            .map(|d| self.db.sealed_head(d.id))
            .collect::<Result<Vec<_>, _>>()?;
        let age_headers = view
            .documents
            .iter()
            .map(|d| self.db.age_header(d.id))
            .collect::<Result<Vec<_>, _>>()?;
        let job = ResealJob {
            keys: self.keys(),
            blobs: self.blobs.clone(),
            handle: Handle::current(),
            out: out.to_path_buf(),
            recipient,
            documents: view.documents.clone(),
            heads,
            age_headers,
            manifest,
            ends,
        };
        let total: u64 = view.documents.iter().map(|d| d.size).sum();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let writer = super::heavy::spawn_heavy(move || job.run(tx));
        let mut done = 0;
        while let Some(bytes) = rx.recv().await {
            done += bytes;
            progress(done, total);
        }
        let (envelope, envelope_sha256, size) = writer.await.map_err(VaultError::from)??;
        self.record_sent(
            &bundle_id,
            child,
            &destination.id,
            envelope_sha256,
            &view.documents,
            envelope.created_at,
        )?;
        tracing::info!(bundle = %bundle_id, child = %child, to = %destination.id, "bundle created");
        Ok(CreatedBundle {
            bundle_id,
            destination: destination.id,
            documents: view.documents.len(),
            size,
        })
    }

    /// Whether the child in `view` may be sent to `to` as the file `out`:
    /// the checklist (or a reason), the document count, a destination in
    /// the directory that is not this node, a free output path. Returns
    /// the destination's card and the trimmed reason.
    fn sendable(
        &self,
        view: &super::ChildView,
        to: &str,
        out: &Path,
        allow_incomplete: Option<String>,
    ) -> Result<(crate::domain::DepartmentCard, Option<String>), VaultError> {
        let reason = allow_incomplete.map(|r| r.trim().to_string());
        if reason
            .as_ref()
            .is_some_and(|r| r.is_empty() || r.chars().count() > 500)
        {
            return Err(VaultError::ReasonRequired(
                "sending an incomplete checklist",
            ));
        }
        if !view.checklist.is_complete() && reason.is_none() {
            return Err(view.incomplete());
        }
        if view.documents.len() > bundle::MAX_DOCUMENTS {
            return Err(VaultError::TooManyDocuments {
                child: view.child.id.to_string(),
                max: bundle::MAX_DOCUMENTS,
                has: view.documents.len(),
            });
        }
        let destination = self.department_card(to)?;
        if destination.id == self.card().id {
            return Err(VaultError::OwnDepartment(to.to_string()));
        }
        if out.exists() || bundle::partial_path(out).exists() {
            return Err(VaultError::OutputExists(out.to_path_buf()));
        }
        Ok((destination, reason))
    }

    /// Checks a bundle's structure, signature, fingerprints and digests
    /// against this node's directory. Needs no secret.
    pub async fn verify_bundle(&self, path: &Path) -> Result<Verified, VaultError> {
        let path = path.to_path_buf();
        let directory = self.directory()?;
        let verified = super::heavy::spawn_heavy(move || {
            let mut reader = BundleReader::open(&path)?;
            reader.verify(|id| directory.card(id))
        })
        .await
        .map_err(VaultError::from)??;
        Ok(verified)
    }

    /// Verifies a bundle addressed to this node and decrypts its manifest
    /// and documents into the new directory `out` (built aside, renamed in
    /// at the end: on any failure nothing is left).
    pub async fn open_bundle(
        &self,
        actor: &Principal,
        path: &Path,
        out: &Path,
    ) -> Result<OpenedBundle, VaultError> {
        self.authorize_node(actor, Action::ReceiveTransfer, Note::default())?;
        self.open_into(path, out, false).await
    }

    /// Like `open_bundle`, but `out` becomes a BagIt bag (RFC 8493): the
    /// payload under `data/`, SHA-256 manifests, and bag-info naming the
    /// bundle and both departments.
    pub async fn export_bag(
        &self,
        actor: &Principal,
        path: &Path,
        out: &Path,
    ) -> Result<OpenedBundle, VaultError> {
        self.authorize_node(actor, Action::ReceiveTransfer, Note::default())?;
        self.open_into(path, out, true).await
    }

    async fn open_into(
        &self,
        path: &Path,
        out: &Path,
        bag: bool,
    ) -> Result<OpenedBundle, VaultError> {
        if out.exists() {
            return Err(VaultError::OutputExists(out.to_path_buf()));
        }
        let partial = bundle::partial_path(out);
        let (path, out_c, partial_c) = (path.to_path_buf(), out.to_path_buf(), partial.clone());
        let directory = self.directory()?;
        let own = self.card().id.clone();
        let keys = self.keys();
        let result = super::heavy::spawn_heavy(move || -> Result<OpenedBundle, VaultError> {
            let mut reader = BundleReader::open(&path)?;
            let verified = reader.verify(|id| directory.card(id))?;
            if verified.envelope.destination.id != own {
                return Err(BundleError::WrongDestination {
                    expected: own,
                    found: verified.envelope.destination.id.clone(),
                }
                .into());
            }
            let manifest = reader.manifest(&verified, keys.identity())?;
            fs::DirBuilder::new().mode(0o700).create(&partial_c)?;
            let payload = if bag {
                partial_c.join("data")
            } else {
                partial_c.clone()
            };
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(payload.join("documents"))?;
            let manifest_json =
                serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
            new_file(&payload.join("manifest.json"))?.write_all(&manifest_json)?;
            let mut files = vec![PayloadFile {
                path: "manifest.json".into(),
                size: manifest_json.len() as u64,
                sha256: {
                    use sha2::Digest;
                    hex::encode(sha2::Sha256::digest(&manifest_json))
                },
            }];
            // Documents are decrypted side by side, each on one thread. The
            // directory appears only by the rename below, once every digest
            // holds; its files are not fsynced one by one (the bundle stays
            // the durable original).
            let opened = bundle::parallel::run(manifest.documents.len(), |i| {
                let doc = &manifest.documents[i];
                let name = bundle::opened_document_name(i + 1, doc.media_type.extension());
                let file = new_file(&payload.join(&name))?;
                let opened = reader.decrypt_document(
                    i + 1,
                    keys.identity(),
                    BufWriter::new(file),
                    Threads::Calling,
                )?;
                if opened.size != doc.size || hex::encode(opened.sha256) != doc.sha256 {
                    return Err(VaultError::from(BundleError::PlaintextDigest(
                        doc.path.clone(),
                    )));
                }
                Ok(PayloadFile {
                    path: name,
                    size: doc.size,
                    sha256: doc.sha256.clone(),
                })
            })?;
            files.extend(opened);
            if bag {
                let e = &verified.envelope;
                bundle::bagit::write_tags(
                    &partial_c,
                    &files,
                    &[
                        ("External-Identifier", e.bundle_id.clone()),
                        ("Handover-Bundle-Id", e.bundle_id.clone()),
                        ("Handover-Source-Department", e.source.id.clone()),
                        ("Handover-Destination-Department", e.destination.id.clone()),
                        ("Handover-Envelope-SHA256", verified.envelope_sha256.clone()),
                        ("Handover-Created", e.created_at.to_rfc3339()),
                    ],
                )?;
            }
            // Deliberately less than `durable::replace`: the files are not
            // synced (the bundle stays the durable original), only the rename.
            crate::durable::commit_synced(&partial_c, &out_c)?;
            Ok(OpenedBundle {
                verified,
                manifest,
                dir: out_c,
            })
        })
        .await
        .map_err(VaultError::from)?;
        if result.is_err() {
            let _ = fs::remove_dir_all(&partial);
        }
        let opened = result?;
        tracing::info!(bundle = %opened.verified.envelope.bundle_id, bag, "bundle opened");
        Ok(opened)
    }

    /// Refuses a verified bundle addressed to another department.
    pub(super) fn addressed_here(&self, envelope: &Envelope) -> Result<(), VaultError> {
        if envelope.destination.id != self.card().id {
            return Err(BundleError::WrongDestination {
                expected: self.card().id.clone(),
                found: envelope.destination.id.clone(),
            }
            .into());
        }
        Ok(())
    }

    /// This node's card and every card in the directory.
    pub(super) fn directory(&self) -> Result<Directory, VaultError> {
        let mut all = vec![(*self.card()).clone()];
        all.extend(self.directory_cards()?);
        Ok(Directory::new(all))
    }
}

/// The manifest of a bundle of the child in `view`.
fn manifest_of(view: &super::ChildView, incomplete_reason: Option<String>) -> Manifest {
    Manifest {
        format: MANIFEST_FORMAT.to_string(),
        bundle_id: uuid::Uuid::now_v7().to_string(),
        source_child_id: view.child.id,
        child: view.child.record.clone().into(),
        incomplete_reason,
        documents: view
            .documents
            .iter()
            .enumerate()
            .map(|(i, doc)| ManifestDocument::of(i + 1, doc))
            .collect(),
    }
}

/// Everything the reseal job needs, off the runtime: each document's blob
/// is decrypted and sealed again to the destination, straight into the
/// bundle file, with the manifest and the signed envelope.
struct ResealJob {
    keys: std::sync::Arc<crypto::NodeKeys>,
    blobs: crate::store::BlobStore,
    handle: Handle,
    out: PathBuf,
    recipient: age::x25519::Recipient,
    documents: Vec<crate::domain::Document>,
    /// The sealed head recorded for each document, if this node sealed it.
    heads: Vec<Option<(u64, [u8; 32])>>,
    /// Each document's age header, if the database keeps it (see
    /// crypto::HeaderSplit); else its blob is the whole age file.
    age_headers: Vec<Option<Vec<u8>>>,
    manifest: Manifest,
    /// Source and destination, as the envelope names them.
    ends: (DepartmentRef, DepartmentRef),
}

impl ResealJob {
    /// Writes the bundle; `done` hears each document's size as it is
    /// resealed. Returns the envelope, its SHA-256 and the file's size.
    fn run(
        self,
        done: tokio::sync::mpsc::UnboundedSender<u64>,
    ) -> Result<(Envelope, String, u64), VaultError> {
        let ResealJob {
            keys,
            blobs,
            handle,
            out,
            recipient,
            documents,
            heads,
            age_headers,
            manifest,
            ends: (source, target),
        } = self;
        let signature_len = crypto::sign(&keys, b"").len();
        let mut bundle = BundleWriter::create(&out, documents.len(), signature_len)?;
        let manifest_json = bundle::manifest_plaintext(&manifest);
        let mut sealed = Vec::new();
        crypto::seal(&recipient, &manifest_json[..], &mut sealed)
            .map_err(|e| stream_failure(e, Streamed::Stored("the manifest")))?;
        bundle.add_manifest(&sealed)?;
        bundle.add_documents(
            documents.len(),
            RESEALED_AT_ONCE,
            |i, sink, sized| -> Result<(), VaultError> {
                let doc = &documents[i];
                let payload = blobs.blocking_reader(&BlobKey::for_document(doc.id), &handle)?;
                let input = super::documents::with_header_blocking(age_headers[i].clone(), payload);
                // A file this node sealed is checked by its recorded head
                // (see crypto::SealedHead); any other by the digest of its
                // whole plaintext.
                let check = heads[i].map_or(InputCheck::PlaintextDigest, |(len, sha256)| {
                    InputCheck::Head(SealedHead { len, sha256 })
                });
                let plan = ResealPlan {
                    threads: Threads::Calling,
                    plaintext_len: doc.size,
                    check,
                };
                let (resealed, _) =
                    crypto::reseal_sized(plan, keys.identity(), &recipient, input, sink, sized)
                        .map_err(|e| stream_failure(e, Streamed::Stored(&doc_label(i))))?;
                let digest_differs = resealed
                    .sha256
                    .is_some_and(|sha256| hex::encode(sha256) != doc.sha256);
                if resealed.size != doc.size || digest_differs {
                    return Err(VaultError::Integrity(format!(
                        "document {} does not match its recorded SHA-256",
                        doc.id
                    )));
                }
                let _ = done.send(doc.size);
                Ok(())
            },
        )?;
        let (envelope, envelope_sha256) =
            bundle.finish(&manifest.bundle_id, Utc::now(), source, target, |bytes| {
                crypto::sign(&keys, bytes)
            })?;
        let size = fs::metadata(&out)?.len();
        Ok((envelope, envelope_sha256, size))
    }
}

impl Vault {
    /// Records what a bundle carried, to check its answer against later.
    fn record_sent(
        &self,
        bundle_id: &str,
        child: ChildId,
        destination: &str,
        envelope_sha256: String,
        documents: &[crate::domain::Document],
        created_at: chrono::DateTime<Utc>,
    ) -> Result<(), VaultError> {
        self.db.record_sent_bundle(&SentBundle {
            bundle_id: bundle_id.to_string(),
            child_id: child,
            destination: destination.to_string(),
            envelope_sha256,
            documents: documents
                .iter()
                .enumerate()
                .map(|(i, d)| SentDocument {
                    path: document_entry(i + 1),
                    document_id: d.id,
                    size: d.size,
                    sha256: d.sha256.clone(),
                })
                .collect(),
            created_at,
            answer: None,
        })?;
        Ok(())
    }
}

/// Documents resealed at once by `create_bundle`, each on one thread: two
/// keep two cores busy while memory stays bounded on bigger machines.
const RESEALED_AT_ONCE: usize = 2;

fn new_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

fn doc_label(i: usize) -> String {
    format!("document {}", document_entry(i + 1))
}
