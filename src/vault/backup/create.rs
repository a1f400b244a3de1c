//! Taking a backup of the open node, online: the database as of one
//! moment, the audit log up to a fresh signed checkpoint, the objects that
//! moment's rows name (only those not already in the set), the card, and
//! with a recovery recipient the key files; then the signed manifest, and
//! only then the backup's final name.

use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::manifest::{
    backup_id, BackupFile, Manifest, AUDIT_HEAD, AUDIT_LOG, CARD, DATABASE, FORMAT, KEYS, MANIFEST,
    OBJECTS, SIGNATURE,
};
use super::remote::RemoteSet;
use super::set::{known_objects, SetLock};
use super::BACKUP_NAMESPACE;
use crate::crypto::{self, KeyFiles, Threads};
use crate::domain::Principal;
use crate::policy::Action;
use crate::store::BlobKey;
use crate::vault::access::Note;
use crate::vault::{Vault, VaultError};

/// How a backup is taken.
#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    /// Copy the key files too, encrypted to this age recipient (the
    /// department's sealed recovery key). Without it no key is copied.
    pub keys_to: Option<String>,
}

/// What a backup did.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    pub id: String,
    pub path: PathBuf,
    pub documents: u64,
    /// Objects (blobs and bundles) copied now, and their bytes.
    pub objects_copied: u64,
    pub bytes_copied: u64,
    /// Objects already in the set from earlier backups.
    pub objects_kept: u64,
    pub audit_seq: u64,
    pub keys_included: bool,
}

impl Vault {
    /// Takes a backup into the set `to` (created if need be) while the
    /// node goes on serving. Audited; the caller must administer the node.
    pub async fn backup(
        &self,
        actor: &Principal,
        to: &Path,
        opts: BackupOptions,
    ) -> Result<BackupReport, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::target("backup"))?;
        let recipient = opts
            .keys_to
            .as_deref()
            .map(crypto::parse_recipient)
            .transpose()?;
        if super::remote::is_remote(to) {
            return self.backup_remote(actor, to, recipient.as_ref()).await;
        }
        let lock = SetLock::take(to)?;
        lock.remove_partials()?;
        let known = known_objects(to);
        let mut id = backup_id(Utc::now());
        while to.join(&id).exists() {
            std::thread::sleep(std::time::Duration::from_millis(2));
            id = backup_id(Utc::now());
        }
        let work = to.join(format!(".partial-{id}"));
        fs::DirBuilder::new().mode(0o700).create(&work)?;
        let taken = self
            .write_backup(to, None, &work, &id, recipient.as_ref(), &known)
            .await;
        let report = match taken {
            Ok(report) => report,
            Err(e) => {
                let _ = fs::remove_dir_all(&work);
                return Err(e);
            }
        };
        fs::rename(&work, to.join(&id))?;
        File::open(to)?.sync_all()?;
        drop(lock);
        self.backup_taken(actor, report, to.join(&id))
    }

    /// Audits a backup taken, and reports it at `path`.
    fn backup_taken(
        &self,
        actor: &Principal,
        report: BackupReport,
        path: PathBuf,
    ) -> Result<BackupReport, VaultError> {
        self.record_event(
            actor.label(),
            actor.role_label(),
            "backup",
            true,
            Some(report.id.clone()),
        )?;
        tracing::info!(backup = %report.id, documents = report.documents, copied = report.objects_copied, "backup taken");
        Ok(BackupReport { path, ..report })
    }

    /// Takes a backup into the set in a bucket (`remote.rs`): the backup's
    /// own files are written to a staging directory in the data directory
    /// and uploaded, its signature last; objects stream to the bucket.
    async fn backup_remote(
        &self,
        actor: &Principal,
        to: &Path,
        recipient: Option<&age::x25519::Recipient>,
    ) -> Result<BackupReport, VaultError> {
        let remote = RemoteSet::open(to, &self.settings)?;
        if remote.named.is_some() {
            return Err(VaultError::Config(crate::config::ConfigError::new(
                "a backup goes to a set (s3://BUCKET/PREFIX), not into a backup",
            )));
        }
        let staging = self.data_dir().join(STAGING);
        let lock = SetLock::take(&staging)?;
        lock.remove_partials()?;
        let listing = remote.listing().await?;
        for path in RemoteSet::partial_paths(&listing) {
            remote.delete(&path).await?;
        }
        let mut known = std::collections::HashMap::new();
        for done in RemoteSet::complete_ids(&listing) {
            for f in remote.manifest(&done).await?.files {
                if super::remote::is_object(&f.path) {
                    known.insert(f.path.clone(), f);
                }
            }
        }
        let mut id = backup_id(Utc::now());
        while listing.keys().any(|p| p.starts_with(&format!("{id}/"))) {
            std::thread::sleep(std::time::Duration::from_millis(2));
            id = backup_id(Utc::now());
        }
        let work = staging.join(format!(".partial-{id}"));
        fs::DirBuilder::new().mode(0o700).create(&work)?;
        let taken = async {
            let report = self
                .write_backup(
                    &staging,
                    Some((&remote, &listing)),
                    &work,
                    &id,
                    recipient,
                    &known,
                )
                .await?;
            // The backup's own files, then its manifest, then its signature.
            let mut own = Vec::new();
            collect_files(&work, &work, &mut own)?;
            own.sort_by_key(|rel| (rel == MANIFEST || rel == SIGNATURE, rel == SIGNATURE));
            for rel in own {
                let file: Box<dyn Read + Send> = Box::new(File::open(work.join(&rel))?);
                remote.upload(file, format!("{id}/{rel}")).await?;
            }
            Ok::<_, VaultError>(report)
        }
        .await;
        let _ = fs::remove_dir_all(&work);
        let report = taken?;
        drop(lock);
        self.backup_taken(actor, report, remote.backup_url(&id))
    }

    async fn write_backup(
        &self,
        set: &Path,
        remote: Option<(&RemoteSet, &std::collections::BTreeMap<String, u64>)>,
        work: &Path,
        id: &str,
        recipient: Option<&age::x25519::Recipient>,
        known: &std::collections::HashMap<String, BackupFile>,
    ) -> Result<BackupReport, VaultError> {
        let data = self.data_dir().to_path_buf();
        let mut files = Vec::new();
        // The database as of one moment; then the log up to a checkpoint
        // written after it, so every decision behind a row is in the copy.
        let snapshot_at = Utc::now();
        let keys = self.keys();
        let key = keys.database_key().clone();
        let db_copy = work.join(DATABASE);
        let blob_keys = {
            let (from, to) = (data.join("meta.db"), db_copy.clone());
            tokio::task::spawn_blocking(move || crate::store::export_database(&from, &key, &to))
                .await??
        };
        files.push(file_entry(&db_copy, format!("{id}/{DATABASE}"))?);
        let sealed = super::super::heavy::inline(|| self.audit.seal())?;
        let (log, head) = copy_log(
            &data.join(crate::audit::LOG_FILE),
            sealed.len,
            &work.join(AUDIT_LOG),
        )?;
        files.push(BackupFile {
            path: format!("{id}/{AUDIT_LOG}"),
            ..log
        });
        write_new(&work.join(AUDIT_HEAD), &head)?;
        files.push(file_entry(
            &work.join(AUDIT_HEAD),
            format!("{id}/{AUDIT_HEAD}"),
        )?);
        let card = serde_json::to_vec_pretty(&*self.card()).map_err(io::Error::other)?;
        write_new(&work.join(CARD), &card)?;
        files.push(file_entry(&work.join(CARD), format!("{id}/{CARD}"))?);
        if let Some(recipient) = recipient {
            fs::DirBuilder::new().mode(0o700).create(work.join(KEYS))?;
            for key_file in KeyFiles::new(&data).all() {
                let Ok(mut source) = File::open(&key_file) else {
                    continue;
                };
                let name = format!(
                    "{}.age",
                    key_file
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or("key")
                );
                let path = work.join(KEYS).join(&name);
                let mut out = create_new(&path)?;
                crypto::seal_with(Threads::Calling, recipient, &mut source, &mut out)
                    .map_err(|e| VaultError::Io(io::Error::other(e.to_string())))?;
                out.sync_all()?;
                files.push(file_entry(&path, format!("{id}/{KEYS}/{name}"))?);
            }
        }
        // The objects the copied rows name, and the bundles.
        let mut objects: Vec<(String, Source)> = blob_keys
            .iter()
            .map(|k| (format!("{OBJECTS}/{}", k.as_str()), Source::Blob(k.clone())))
            .collect();
        for kind in ["inbox", "outbox"] {
            let Ok(entries) = fs::read_dir(data.join(kind)) else {
                continue;
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || !entry.file_type()?.is_file() {
                    continue;
                }
                objects.push((
                    format!("{OBJECTS}/{kind}/{name}"),
                    Source::File(entry.path()),
                ));
            }
        }
        let (mut copied, mut bytes, mut kept) = (0, 0, 0);
        for (path, source) in objects {
            if let Some((remote, listing)) = remote {
                if let Some(size) = listing.get(&path) {
                    let entry = match known.get(&path) {
                        Some(k) if k.size == *size => k.clone(),
                        _ => remote.hash(&path).await?,
                    };
                    files.push(entry);
                    kept += 1;
                    continue;
                }
                let (blobs, handle) = (self.blobs.clone(), tokio::runtime::Handle::current());
                let entry = remote
                    .upload_from(
                        move || -> Result<Box<dyn Read + Send>, VaultError> {
                            Ok(match source {
                                Source::Blob(key) => blobs.blocking_reader(&key, &handle)?,
                                Source::File(file) => Box::new(File::open(file)?),
                            })
                        },
                        path,
                    )
                    .await?;
                bytes += entry.size;
                copied += 1;
                files.push(entry);
                continue;
            }
            let target = set.join(&path);
            if target.is_file() {
                let size = target.metadata()?.len();
                let entry = match known.get(&path) {
                    Some(k) if k.size == size => k.clone(),
                    _ => file_entry(&target, path.clone())?,
                };
                files.push(entry);
                kept += 1;
                continue;
            }
            let entry = self.copy_object(source, &target, path).await?;
            bytes += entry.size;
            copied += 1;
            files.push(entry);
        }
        for kind in super::manifest::OBJECT_KINDS {
            if let Ok(dir) = File::open(set.join(OBJECTS).join(kind)) {
                dir.sync_all()?;
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let manifest = Manifest {
            format: FORMAT.into(),
            id: id.into(),
            department: self.card().id.clone(),
            created_at: Utc::now(),
            snapshot_at,
            audit_seq: sealed.seq,
            documents: blob_keys.len() as u64,
            keys_recipient: recipient.map(|r| r.to_string()),
            files,
        };
        let json = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
        let signature = crypto::sign_in(&self.keys(), BACKUP_NAMESPACE, &json);
        write_new(&work.join(MANIFEST), &json)?;
        write_new(&work.join(SIGNATURE), signature.as_bytes())?;
        File::open(work)?.sync_all()?;
        Ok(BackupReport {
            id: id.into(),
            path: work.to_path_buf(),
            documents: manifest.documents,
            objects_copied: copied,
            bytes_copied: bytes,
            objects_kept: kept,
            audit_seq: sealed.seq,
            keys_included: recipient.is_some(),
        })
    }

    /// Copies one object into the set (written aside, synced, renamed),
    /// hashing it on the way.
    async fn copy_object(
        &self,
        source: Source,
        target: &Path,
        path: String,
    ) -> Result<BackupFile, VaultError> {
        let dir = target.parent().expect("an object has a folder");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("object");
        let partial = dir.join(format!(".partial-{name}"));
        let blobs = self.blobs.clone();
        let handle = tokio::runtime::Handle::current();
        let (target, moved) = (target.to_path_buf(), partial.clone());
        let copied = tokio::task::spawn_blocking(move || -> Result<BackupFile, VaultError> {
            let mut input: Box<dyn Read + Send> = match source {
                Source::Blob(key) => blobs.blocking_reader(&key, &handle)?,
                Source::File(file) => Box::new(File::open(file)?),
            };
            let mut out = create_new(&moved)?;
            let (size, sha256) = copy_hashing(&mut input, &mut out)?;
            out.sync_all()?;
            fs::rename(&moved, &target)?;
            Ok(BackupFile { path, size, sha256 })
        })
        .await?;
        if copied.is_err() {
            let _ = fs::remove_file(&partial);
        }
        copied
    }
}

/// The staging directory, in the data directory, of backups to S3.
pub(super) const STAGING: &str = "backup-staging";

/// The files under `dir`, as paths relative to `root`.
fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            collect_files(root, &entry.path(), out)?;
        } else {
            let rel = entry.path();
            let rel = rel.strip_prefix(root).expect("under root");
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// Where an object comes from.
enum Source {
    Blob(BlobKey),
    File(PathBuf),
}

/// A new file, owner-only; refuses one that exists.
pub(super) fn create_new(path: &Path) -> io::Result<File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = create_new(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Copies `input` to `out`; returns the size and SHA-256 (hex).
pub(super) fn copy_hashing(input: &mut dyn Read, out: &mut dyn Write) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// The size and SHA-256 of a file, as a manifest entry named `path`.
pub(super) fn file_entry(file: &Path, path: String) -> io::Result<BackupFile> {
    let (size, sha256) = copy_hashing(&mut File::open(file)?, &mut io::sink())?;
    Ok(BackupFile { path, size, sha256 })
}

/// Copies the first `len` bytes of the audit log (ending with the
/// checkpoint line) to `to`; returns its entry and that last line.
fn copy_log(log: &Path, len: u64, to: &Path) -> Result<(BackupFile, Vec<u8>), VaultError> {
    let mut input = File::open(log)?.take(len);
    let mut out = create_new(to)?;
    let (size, sha256) = copy_hashing(&mut input, &mut out)?;
    out.sync_all()?;
    if size != len {
        return Err(VaultError::Integrity(format!(
            "the audit log is shorter ({size} bytes) than its last checkpoint's end ({len})"
        )));
    }
    // The last line: read back from the copy's tail.
    let tail_len = len.min(crate::audit::MAX_LINE);
    let mut copy = File::open(to)?;
    copy.seek(io::SeekFrom::Start(len - tail_len))?;
    let mut tail = Vec::with_capacity(tail_len as usize);
    copy.read_to_end(&mut tail)?;
    let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
    let from = body.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    let mut head = body[from..].to_vec();
    head.push(b'\n');
    Ok((
        BackupFile {
            path: String::new(),
            size,
            sha256,
        },
        head,
    ))
}
