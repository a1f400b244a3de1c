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
use tokio_util::io::SyncIoBridge;

use super::{Purpose, Vault, VaultError};
use crate::bundle::bagit::PayloadFile;
use crate::bundle::{
    self, document_entry, BundleError, BundleReader, DepartmentRef, Envelope, EnvelopeEntry,
    Manifest, ManifestDocument, Measuring, StagedEntry, Verified, ENVELOPE_FORMAT, MANIFEST_ENTRY,
    MANIFEST_FORMAT,
};
use crate::crypto::{self, StreamError};
use crate::domain::{Actor, ChildId, MediaType};
use crate::store::{BlobKey, SentBundle};

/// Folder of the data directory where bundles are staged (ciphertext only).
pub(super) const STAGING: &str = "tmp";

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
        actor: &Actor,
        child: ChildId,
        to: &str,
        out: &Path,
        allow_incomplete: Option<String>,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<CreatedBundle, VaultError> {
        let view = self.show_child(actor, child, Purpose::Restoration).await?;
        let reason = allow_incomplete.map(|r| r.trim().to_string());
        if reason
            .as_ref()
            .is_some_and(|r| r.is_empty() || r.chars().count() > 500)
        {
            return Err(VaultError::Invalid(
                "--allow-incomplete needs a reason (up to 500 characters)".into(),
            ));
        }
        if !view.checklist.is_complete() && reason.is_none() {
            let missing: Vec<_> = view.checklist.missing.iter().map(|k| k.as_str()).collect();
            return Err(VaultError::Invalid(format!(
                "the restoration checklist of child {child} is incomplete (missing: {}); \
                 give --allow-incomplete \"REASON\" to send it anyway",
                missing.join(", ")
            )));
        }
        let destination = self.department_card(to)?;
        if destination.id == self.card().id {
            return Err(VaultError::Invalid(
                "a bundle cannot be addressed to this node itself".into(),
            ));
        }
        if out.exists() || bundle::partial_path(out).exists() {
            return Err(VaultError::Invalid(format!(
                "{} already exists",
                out.display()
            )));
        }
        let recipient = crypto::parse_recipient(&destination.age_recipient)?;
        let bundle_id = uuid::Uuid::now_v7().to_string();
        let staging = self.staging_dir(&bundle_id)?;
        let result = self
            .build_bundle(
                &view,
                &bundle_id,
                &destination.id,
                &recipient,
                reason,
                &staging,
                out,
                progress,
            )
            .await;
        let _ = fs::remove_dir_all(&staging);
        let created = result?;
        tracing::info!(bundle = %created.bundle_id, child = %child, to = %created.destination, "bundle created");
        Ok(created)
    }

    #[allow(clippy::too_many_arguments)]
    async fn build_bundle(
        &self,
        view: &super::ChildView,
        bundle_id: &str,
        to: &str,
        recipient: &age::x25519::Recipient,
        incomplete_reason: Option<String>,
        staging: &Path,
        out: &Path,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<CreatedBundle, VaultError> {
        let total: u64 = view.documents.iter().map(|d| d.size).sum::<u64>() * 2;
        let mut done = 0u64;
        let mut staged = Vec::new();
        let mut manifest_docs = Vec::new();
        for (i, doc) in view.documents.iter().enumerate() {
            let path = document_entry(i + 1);
            let file = staging.join(format!("{:04}.age", i + 1));
            let key = BlobKey::for_document(doc.id);
            let reader = self.blobs.reader(&key).await?;
            let (keys, recipient_c, file_c, handle) = (
                self.keys.clone(),
                recipient.clone(),
                file.clone(),
                Handle::current(),
            );
            let (opened, size, sha256, crc32) = tokio::task::spawn_blocking(move || {
                let out = Measuring::new(BufWriter::with_capacity(1 << 20, new_file(&file_c)?));
                let input = SyncIoBridge::new_with_handle(reader, handle);
                let (opened, out) = crypto::reseal(keys.identity(), &recipient_c, input, out)
                    .map_err(|e| stream_error(e, doc_label(i)))?;
                let (writer, size, sha, crc) = out.finish();
                writer
                    .into_inner()
                    .map_err(|e| e.into_error())?
                    .sync_all()?;
                Ok::<_, VaultError>((opened, size, sha, crc))
            })
            .await
            .map_err(|e| VaultError::Io(std::io::Error::other(e)))??;
            if opened.size != doc.size || hex::encode(opened.sha256) != doc.sha256 {
                return Err(VaultError::Integrity(format!(
                    "document {} does not match its recorded SHA-256",
                    doc.id
                )));
            }
            done += doc.size;
            progress(done, total);
            staged.push(StagedEntry {
                name: path.clone(),
                file,
                size,
                crc32,
            });
            manifest_docs.push((
                EnvelopeEntry {
                    path: path.clone(),
                    size,
                    sha256,
                },
                ManifestDocument {
                    path,
                    source_document_id: doc.id.to_string(),
                    kind: doc.kind,
                    title: doc.title.clone(),
                    file_name: doc.file_name.clone(),
                    media_type: doc.media_type,
                    size: doc.size,
                    sha256: doc.sha256.clone(),
                    added_at: doc.added_at,
                },
            ));
        }

        let manifest = Manifest {
            format: MANIFEST_FORMAT.to_string(),
            bundle_id: bundle_id.to_string(),
            source_child_id: view.child.id,
            child: view.child.record.clone(),
            incomplete_reason,
            documents: manifest_docs.iter().map(|(_, m)| m.clone()).collect(),
        };
        let manifest_json = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
        let manifest_file = staging.join(MANIFEST_ENTRY);
        let mut out_m = Measuring::new(new_file(&manifest_file)?);
        crypto::seal(recipient, &manifest_json[..], &mut out_m)
            .map_err(|e| stream_error(e, "the manifest".into()))?;
        let (f, m_size, m_sha, m_crc) = out_m.finish();
        f.sync_all()?;
        staged.insert(
            0,
            StagedEntry {
                name: MANIFEST_ENTRY.into(),
                file: manifest_file,
                size: m_size,
                crc32: m_crc,
            },
        );

        let mut entries = vec![EnvelopeEntry {
            path: MANIFEST_ENTRY.into(),
            size: m_size,
            sha256: m_sha,
        }];
        entries.extend(manifest_docs.iter().map(|(e, _)| e.clone()));
        let signing = crypto::parse_ssh_public(&self.card().ssh_public_key)?;
        let envelope = Envelope {
            format: ENVELOPE_FORMAT.to_string(),
            bundle_id: bundle_id.to_string(),
            created_at: Utc::now(),
            source: DepartmentRef {
                id: self.card().id.clone(),
                fingerprint: crypto::ssh_fingerprint(&signing),
            },
            destination: DepartmentRef {
                id: to.to_string(),
                fingerprint: crypto::age_fingerprint(recipient),
            },
            entries,
        };
        let mut envelope_bytes =
            serde_json::to_vec_pretty(&envelope).map_err(std::io::Error::other)?;
        envelope_bytes.push(b'\n');
        let signature = crypto::sign(&self.keys, &envelope_bytes);

        let envelope_sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&envelope_bytes))
        };
        let (out_c, staged_c) = (out.to_path_buf(), staged.clone());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let writer = tokio::task::spawn_blocking(move || {
            bundle::write_bundle(
                &out_c,
                &envelope_bytes,
                signature.as_bytes(),
                &staged_c,
                &mut |n| {
                    let _ = tx.send(n);
                },
            )
        });
        while let Some(n) = rx.recv().await {
            done += n;
            progress(done.min(total), total);
        }
        writer
            .await
            .map_err(|e| VaultError::Io(std::io::Error::other(e)))??;
        let size = fs::metadata(out)?.len();
        self.db.record_sent_bundle(&SentBundle {
            bundle_id: bundle_id.to_string(),
            child_id: view.child.id,
            destination: to.to_string(),
            envelope_sha256,
            documents: view
                .documents
                .iter()
                .enumerate()
                .map(|(i, d)| (document_entry(i + 1), d.id))
                .collect(),
            created_at: envelope.created_at,
            delivered_at: None,
        })?;
        Ok(CreatedBundle {
            bundle_id: bundle_id.to_string(),
            destination: to.to_string(),
            documents: view.documents.len(),
            size,
        })
    }

    /// Checks a bundle's structure, signature, fingerprints and digests
    /// against this node's directory. Needs no secret.
    pub async fn verify_bundle(&self, path: &Path) -> Result<Verified, VaultError> {
        let path = path.to_path_buf();
        let directory = self.directory_snapshot()?;
        let verified = tokio::task::spawn_blocking(move || {
            let mut reader = BundleReader::open(&path)?;
            reader.verify(|id| directory.iter().find(|c| c.id == id).cloned())
        })
        .await
        .map_err(|e| VaultError::Io(std::io::Error::other(e)))??;
        Ok(verified)
    }

    /// Verifies a bundle addressed to this node and decrypts its manifest
    /// and documents into the new directory `out` (built aside, renamed in
    /// at the end: on any failure nothing is left).
    pub async fn open_bundle(
        &self,
        _actor: &Actor,
        path: &Path,
        out: &Path,
    ) -> Result<OpenedBundle, VaultError> {
        self.open_into(path, out, false).await
    }

    /// Like `open_bundle`, but `out` becomes a BagIt bag (RFC 8493): the
    /// payload under `data/`, SHA-256 manifests, and bag-info naming the
    /// bundle and both departments.
    pub async fn export_bag(
        &self,
        _actor: &Actor,
        path: &Path,
        out: &Path,
    ) -> Result<OpenedBundle, VaultError> {
        self.open_into(path, out, true).await
    }

    async fn open_into(
        &self,
        path: &Path,
        out: &Path,
        bag: bool,
    ) -> Result<OpenedBundle, VaultError> {
        if out.exists() {
            return Err(VaultError::Invalid(format!(
                "{} already exists",
                out.display()
            )));
        }
        let partial = bundle::partial_path(out);
        let (path, out_c, partial_c) = (path.to_path_buf(), out.to_path_buf(), partial.clone());
        let directory = self.directory_snapshot()?;
        let own = self.card().id.clone();
        let keys = self.keys.clone();
        let result = tokio::task::spawn_blocking(move || -> Result<OpenedBundle, VaultError> {
            let mut reader = BundleReader::open(&path)?;
            let verified = reader.verify(|id| directory.iter().find(|c| c.id == id).cloned())?;
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
            let mut f = new_file(&payload.join("manifest.json"))?;
            f.write_all(&manifest_json)?;
            f.sync_all()?;
            let mut files = vec![PayloadFile {
                path: "manifest.json".into(),
                size: manifest_json.len() as u64,
                sha256: {
                    use sha2::Digest;
                    hex::encode(sha2::Sha256::digest(&manifest_json))
                },
            }];
            for (i, doc) in manifest.documents.iter().enumerate() {
                let name = format!("documents/{:04}.{}", i + 1, extension(doc.media_type));
                let file = new_file(&payload.join(&name))?;
                let keep = file.try_clone()?;
                let opened =
                    reader.decrypt_document(i + 1, keys.identity(), BufWriter::new(file))?;
                if opened.size != doc.size || hex::encode(opened.sha256) != doc.sha256 {
                    return Err(BundleError::Digest(doc.path.clone()).into());
                }
                keep.sync_all()?;
                files.push(PayloadFile {
                    path: name,
                    size: doc.size,
                    sha256: doc.sha256.clone(),
                });
            }
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
            fs::rename(&partial_c, &out_c)?;
            Ok(OpenedBundle {
                verified,
                manifest,
                dir: out_c,
            })
        })
        .await
        .map_err(|e| VaultError::Io(std::io::Error::other(e)))?;
        if result.is_err() {
            let _ = fs::remove_dir_all(&partial);
        }
        let opened = result?;
        tracing::info!(bundle = %opened.verified.envelope.bundle_id, bag, "bundle opened");
        Ok(opened)
    }

    /// This node's card and every card in the directory.
    pub(super) fn directory_snapshot(
        &self,
    ) -> Result<Vec<crate::domain::DepartmentCard>, VaultError> {
        let mut all = vec![self.card().clone()];
        all.extend(self.db.departments()?);
        Ok(all)
    }

    /// A new private staging directory for one bundle.
    fn staging_dir(&self, name: &str) -> Result<PathBuf, VaultError> {
        let root = self.data_dir().join(STAGING);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&root)?;
        let dir = root.join(name);
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(dir)
    }
}

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

fn stream_error(e: StreamError, what: String) -> VaultError {
    match e {
        StreamError::Integrity(_) => {
            VaultError::Integrity(format!("{what}: stored file fails authentication"))
        }
        StreamError::Input(io) | StreamError::Output(io) => VaultError::Io(io),
    }
}

/// File name extension for an opened document.
fn extension(media: MediaType) -> &'static str {
    match media {
        MediaType::Pdf => "pdf",
        MediaType::Jpeg => "jpg",
        MediaType::Png => "png",
        MediaType::Tiff => "tif",
        MediaType::Webp => "webp",
        MediaType::Heic => "heic",
        MediaType::Text => "txt",
    }
}
