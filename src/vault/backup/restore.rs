//! Restoring a node from a backup into an empty directory: the backup is
//! checked as `backup verify` checks it (the signature and the audit log
//! first, each file's digest as it is copied), the keys come from the
//! backup (with the recovery identity) or from key files given, and the
//! node is opened once to show that keys, card and database fit. Anything
//! that fails leaves the directory as empty as it was.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::create::create_new;
use super::manifest::{place, Place, KEYS};
use super::set::{broken, checked_manifest, resolve};
use crate::config::Settings;
use crate::crypto::{self, KeyFiles, Passphrase};
use crate::domain::Principal;
use crate::store::{BlobKey, BlobStore};
use crate::vault::{Vault, VaultError};

/// Where a restore finds the node's keys.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// In the backup, encrypted to the recovery recipient: the recovery
    /// identity file (an age identity) that opens them.
    Recovery(PathBuf),
    /// Key files (`age-identity.txt` or `.age`, `ssh-ed25519`,
    /// `ssh-ed25519.pub`) in this directory, kept apart from the backup.
    Files(PathBuf),
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub backup: String,
    pub data_dir: PathBuf,
    pub documents: u64,
    pub files: usize,
    pub bytes: u64,
}

/// Restores the backup `from` names (a backup, or a set: its newest) into
/// `settings.data_dir`, which must be empty or absent. Blobs go to the
/// blob store `settings` names (by default `DATA_DIR/blobs`).
pub async fn restore_node(
    from: &Path,
    settings: Settings,
    keys: KeySource,
    card: Option<&Path>,
    passphrase: impl FnOnce() -> Option<Passphrase>,
) -> Result<RestoreReport, VaultError> {
    // From a bucket: the backup is downloaded beside the target first.
    let fetched;
    let from = if super::remote::is_remote(from) {
        if fs::read_dir(&settings.data_dir).is_ok_and(|mut e| e.next().is_some()) {
            return Err(VaultError::RestoreTargetNotEmpty(settings.data_dir.clone()));
        }
        let beside = settings
            .data_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(beside)?;
        fetched = tempfile::Builder::new()
            .prefix(".handover-restore-")
            .tempdir_in(beside)?;
        super::remote::fetch_backup(from, fetched.path(), &settings).await?
    } else {
        from.to_path_buf()
    };
    let (set, ids) = resolve(&from)?;
    let id = ids
        .last()
        .expect("resolve names at least one backup")
        .clone();
    let checked = checked_manifest(&set, &id, card)?;
    checked.verify_audit(&set)?;
    let target = settings.data_dir.clone();
    let created = match fs::read_dir(&target) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(VaultError::RestoreTargetNotEmpty(target));
            }
            false
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&target)?;
            true
        }
        Err(e) => return Err(e.into()),
    };
    fs::set_permissions(&target, fs::Permissions::from_mode(0o700))?;
    let restored = restore_into(&set, &id, &checked.manifest, &settings, &keys).await;
    let restored = match restored {
        Ok(r) => r,
        Err(e) => {
            empty(&target, created);
            return Err(e);
        }
    };
    // The keys, the card and the database fit together.
    let opened = Vault::open(settings, passphrase, false).await;
    let vault = match opened {
        Ok(v) => v,
        Err(e) => {
            empty(&target, created);
            return Err(e);
        }
    };
    let op = Principal::LocalOperator;
    vault.record_event(
        op.label(),
        op.role_label(),
        "restore",
        true,
        Some(id.clone()),
    )?;
    tracing::info!(backup = %id, "node restored");
    Ok(restored)
}

/// Leaves `target` as it was found: removed if the restore made it, else
/// emptied.
fn empty(target: &Path, created: bool) {
    if created {
        let _ = fs::remove_dir_all(target);
        return;
    }
    if let Ok(entries) = fs::read_dir(target) {
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}

async fn restore_into(
    set: &Path,
    id: &str,
    manifest: &super::Manifest,
    settings: &Settings,
    keys: &KeySource,
) -> Result<RestoreReport, VaultError> {
    let target = &settings.data_dir;
    restore_keys(set, id, manifest, target, keys)?;
    let blobs = BlobStore::open(
        settings.blob_store.as_deref(),
        &target.join(crate::vault::node::BLOBS),
        &crate::vault::node::s3_options(settings),
    )?;
    let mut bytes = 0;
    let mut documents = Vec::new();
    for file in &manifest.files {
        let from = set.join(&file.path);
        bytes += file.size;
        match place(id, &file.path).expect("checked with the manifest") {
            Place::Own(name) if name.starts_with(KEYS) => {}
            Place::Own(name) => {
                let to = target.join(name);
                copy_checked(id, &from, &to, file)?;
            }
            Place::Object("documents", name) => {
                documents.push((
                    BlobKey::from_stored(format!("documents/{name}")),
                    from,
                    file.clone(),
                ));
            }
            Place::Object(kind, name) => {
                let dir = target.join(kind);
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&dir)?;
                let to = dir.join(name);
                copy_checked(id, &from, &to, file)?;
            }
        }
    }
    // The document blobs, a few at once: each is hashed as it is copied,
    // which costs more CPU than one core gives at disk speed.
    // After a failure no more start, and those running are waited for, so
    // nothing writes into the directory once it is emptied.
    let mut running = tokio::task::JoinSet::new();
    let mut waiting = documents.into_iter();
    let mut failed: Option<VaultError> = None;
    loop {
        while running.len() < RESTORED_AT_ONCE && failed.is_none() {
            let Some((key, from, file)) = waiting.next() else {
                break;
            };
            let (blobs, id) = (blobs.clone(), id.to_string());
            running.spawn(async move { restore_blob(&blobs, key, &id, from, file).await });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        if let Err(e) = done.map_err(VaultError::from).and_then(|r| r) {
            failed.get_or_insert(e);
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    for dir in [
        target.to_path_buf(),
        target.join("inbox"),
        target.join("outbox"),
    ] {
        if dir.is_dir() {
            File::open(&dir)?.sync_all()?;
        }
    }
    Ok(RestoreReport {
        backup: id.into(),
        data_dir: target.clone(),
        documents: manifest.documents,
        files: manifest.files.len(),
        bytes,
    })
}

/// Document blobs restored at once.
const RESTORED_AT_ONCE: usize = 3;

/// Writes one document object into the blob store under `key`, checked
/// against its manifest entry on the way, and makes it durable.
async fn restore_blob(
    blobs: &BlobStore,
    key: BlobKey,
    id: &str,
    from: PathBuf,
    file: super::BackupFile,
) -> Result<(), VaultError> {
    let upload = blobs.start(&key).await?;
    let mut out = blobs.writer(upload, tokio::runtime::Handle::current());
    let id = id.to_string();
    tokio::task::spawn_blocking(move || {
        let copied = copy_into(&id, &from, &file, &mut out);
        match copied {
            Ok(()) => out.finish().map_err(VaultError::from),
            Err(e) => {
                out.abort();
                Err(e)
            }
        }
    })
    .await??;
    blobs.sync(&key).await?;
    Ok(())
}

/// Copies `from` to the new file `to`, checked on the way and synced;
/// removes `to` if it is not the file the manifest lists.
fn copy_checked(
    id: &str,
    from: &Path,
    to: &Path,
    expected: &super::BackupFile,
) -> Result<(), VaultError> {
    let mut out = create_new(to)?;
    let copied = copy_into(id, from, expected, &mut out).and_then(|()| Ok(out.sync_all()?));
    if copied.is_err() {
        let _ = fs::remove_file(to);
    }
    copied
}

/// Copies `from` into `out` (a file, a blob writer, memory), checking its
/// size and SHA-256 against the manifest on the way.
fn copy_into(
    id: &str,
    from: &Path,
    expected: &super::BackupFile,
    out: &mut dyn Write,
) -> Result<(), VaultError> {
    let mut input = File::open(from).map_err(|e| broken(id, format!("{}: {e}", expected.path)))?;
    let (size, sha256) = super::create::copy_hashing(&mut input, out)?;
    if size != expected.size || sha256 != expected.sha256 {
        return Err(broken(
            id,
            format!("{} is not the file it lists", expected.path),
        ));
    }
    Ok(())
}

/// Puts the node's key files into `target`.
fn restore_keys(
    set: &Path,
    id: &str,
    manifest: &super::Manifest,
    target: &Path,
    keys: &KeySource,
) -> Result<(), VaultError> {
    match keys {
        KeySource::Files(dir) => {
            let mut any = false;
            for from in KeyFiles::new(dir).all() {
                if !from.is_file() {
                    continue;
                }
                let name = from.file_name().expect("a key file has a name");
                let mut out = create_new(&target.join(name))?;
                io::copy(&mut File::open(&from)?, &mut out)?;
                out.sync_all()?;
                any = true;
            }
            if !any {
                return Err(VaultError::RestoreKeys(format!(
                    "{} holds no key files",
                    dir.display()
                )));
            }
        }
        KeySource::Recovery(identity_file) => {
            if manifest.keys_recipient.is_none() {
                return Err(VaultError::RestoreKeys(
                    "the backup holds no keys (it was taken without them): give the key files"
                        .into(),
                ));
            }
            let text = fs::read_to_string(identity_file).map_err(|e| {
                VaultError::RestoreKeys(format!("{}: {e}", identity_file.display()))
            })?;
            let identity = crypto::parse_identity(&text)?;
            let prefix = format!("{id}/{KEYS}/");
            for file in &manifest.files {
                let Some(name) = file.path.strip_prefix(&prefix) else {
                    continue;
                };
                let name = name.strip_suffix(".age").unwrap_or(name);
                if !KeyFiles::is_key_file_name(name) {
                    return Err(broken(id, format!("{} is not a key file", file.path)));
                }
                let mut sealed = Vec::new();
                copy_into(id, &set.join(&file.path), file, &mut sealed)?;
                let mut plain = zeroize::Zeroizing::new(Vec::new());
                crypto::decrypting_reader(&identity, sealed.as_slice())
                    .ok()
                    .and_then(|mut r| r.read_to_end(&mut plain).ok())
                    .ok_or_else(|| {
                        VaultError::RestoreKeys(
                            "the recovery identity does not open the backup's keys".into(),
                        )
                    })?;
                let mut out = create_new(&target.join(name))?;
                out.write_all(&plain)?;
                out.sync_all()?;
            }
        }
    }
    Ok(())
}
