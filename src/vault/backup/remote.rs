//! A backup set in an S3 bucket, `s3://BUCKET/PREFIX`: the same layout as
//! a set on disk (docs/backup-format.md), under PREFIX. S3 has no rename,
//! so a backup is complete once its `manifest.json.sig`, uploaded last,
//! exists; a backup whose signature is missing was cut off, is ignored by
//! every reader, and is deleted by the next backup or prune. S3 has no lock
//! either: one backup or prune at a time is kept by a lock in the node's
//! data directory (one node writes its own set).
//!
//! Taking a backup writes the backup's own files (database copy, audit
//! log, card, keys, manifest) to a staging directory in the data directory
//! and uploads them; objects stream from the blob store to the bucket,
//! hashed on the way, and only those the set does not hold yet. Verifying
//! downloads the backup's small files and hashes every object as it
//! streams from the bucket. Restoring downloads the backup (its files and
//! objects) into a directory beside the target, then restores it as from
//! disk.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::create::copy_hashing;
use super::manifest::{is_backup_id, BackupFile, Manifest, MANIFEST, OBJECTS, SIGNATURE};
use super::set::{broken, checked_manifest, BackupSummary};
use crate::config::{ConfigError, Settings};
use crate::store::{BlobKey, BlobStore};
use crate::vault::VaultError;

/// The files of a backup that are downloaded to check it (the rest are
/// hashed as they stream).
const SMALL: [&str; 5] = [
    MANIFEST,
    SIGNATURE,
    super::manifest::CARD,
    super::manifest::AUDIT_LOG,
    super::manifest::AUDIT_HEAD,
];

/// Whether `place` names a set in S3.
pub fn is_remote(place: &Path) -> bool {
    place.to_string_lossy().starts_with("s3://")
}

/// A set in a bucket.
pub(super) struct RemoteSet {
    store: BlobStore,
    /// `PREFIX/` (empty for the bucket's root).
    prefix: String,
    url: String,
    /// One backup id the URL named (`s3://BUCKET/PREFIX/ID`), if any.
    pub named: Option<String>,
}

impl RemoteSet {
    /// Opens `s3://BUCKET[/PREFIX[/ID]]` with the node's S3 settings.
    pub fn open(place: &Path, settings: &Settings) -> Result<RemoteSet, VaultError> {
        let text = place.to_string_lossy().trim_end_matches('/').to_string();
        let rest = text.strip_prefix("s3://").unwrap_or(&text);
        let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
        let bad =
            |why: &str| VaultError::Config(ConfigError::new(format!("backup set {text}: {why}")));
        if bucket.is_empty() {
            return Err(bad("no bucket"));
        }
        let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let named = parts
            .last()
            .filter(|p| is_backup_id(p))
            .map(|p| p.to_string());
        if named.is_some() {
            parts.pop();
        }
        if parts.iter().any(|p| {
            *p == "."
                || *p == ".."
                || !p
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        }) {
            return Err(bad("a prefix is made of a-z, A-Z, 0-9, '-', '_' and '.'"));
        }
        let store = BlobStore::open(
            Some(&format!("s3://{bucket}")),
            &settings.data_dir.join(crate::vault::node::BLOBS),
            &crate::vault::node::s3_options(settings),
        )?;
        let prefix = if parts.is_empty() {
            String::new()
        } else {
            format!("{}/", parts.join("/"))
        };
        Ok(RemoteSet {
            store,
            url: format!("s3://{bucket}/{prefix}"),
            prefix,
            named,
        })
    }

    fn key(&self, path: &str) -> BlobKey {
        BlobKey::from_stored(format!("{}{path}", self.prefix))
    }

    /// Where backup `id` is, for reports.
    pub fn backup_url(&self, id: &str) -> PathBuf {
        PathBuf::from(format!("{}{id}", self.url))
    }

    /// Every object of the set, by path inside it, with its size.
    pub async fn listing(&self) -> Result<BTreeMap<String, u64>, VaultError> {
        let prefix = self.prefix.trim_end_matches('/');
        Ok(self
            .store
            .list_prefix(prefix)
            .await?
            .into_iter()
            .filter_map(|(k, size)| k.strip_prefix(&self.prefix).map(|p| (p.to_string(), size)))
            .collect())
    }

    /// The complete backups (their signature is there), oldest first.
    pub fn complete_ids(listing: &BTreeMap<String, u64>) -> Vec<String> {
        let mut ids: Vec<String> = listing
            .keys()
            .filter_map(|p| p.strip_suffix(&format!("/{SIGNATURE}")))
            .filter(|id| is_backup_id(id))
            .map(str::to_string)
            .collect();
        ids.sort();
        ids
    }

    /// Backups cut off before their signature: every path under them.
    pub fn partial_paths(listing: &BTreeMap<String, u64>) -> Vec<String> {
        let complete = Self::complete_ids(listing);
        listing
            .keys()
            .filter(|p| {
                p.split_once('/')
                    .is_some_and(|(id, _)| is_backup_id(id) && !complete.iter().any(|c| c == id))
            })
            .cloned()
            .collect()
    }

    /// A small file's bytes.
    pub async fn read(&self, path: &str) -> Result<Vec<u8>, VaultError> {
        let key = self.key(path);
        self.store
            .read_prefix(&key, u64::MAX)
            .await
            .map_err(VaultError::from)
    }

    /// A backup's manifest, not checked.
    pub async fn manifest(&self, id: &str) -> Result<Manifest, VaultError> {
        let bytes = self.read(&format!("{id}/{MANIFEST}")).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| broken(id, format!("its manifest is malformed: {e}")))
    }

    /// Uploads `source` to `path`, hashing it; returns its manifest entry.
    pub async fn upload(
        &self,
        source: Box<dyn Read + Send>,
        path: String,
    ) -> Result<BackupFile, VaultError> {
        self.upload_from(move || Ok(source), path).await
    }

    /// Uploads what `open` opens (on the blocking pool) to `path`, hashing
    /// it; returns its manifest entry. The object appears whole or not at
    /// all.
    pub async fn upload_from(
        &self,
        open: impl FnOnce() -> Result<Box<dyn Read + Send>, VaultError> + Send + 'static,
        path: String,
    ) -> Result<BackupFile, VaultError> {
        let upload = self.store.start(&self.key(&path)).await?;
        let writer = self.store.writer(upload, tokio::runtime::Handle::current());
        tokio::task::spawn_blocking(move || -> Result<BackupFile, VaultError> {
            let mut writer = Sink(Some(writer));
            let copied = open().and_then(|mut source| {
                copy_hashing(&mut source, &mut writer).map_err(VaultError::from)
            });
            match copied {
                Ok((size, sha256)) => {
                    writer.0.take().expect("not finished yet").finish()?;
                    Ok(BackupFile { path, size, sha256 })
                }
                Err(e) => {
                    if let Some(w) = writer.0.take() {
                        w.abort();
                    }
                    Err(e)
                }
            }
        })
        .await?
    }

    /// A blocking reader of `path`, made on the blocking pool.
    fn reader_job(
        &self,
        path: &str,
    ) -> impl FnOnce() -> Result<Box<dyn Read + Send>, VaultError> + Send + 'static {
        let (store, key, handle) = (
            self.store.clone(),
            self.key(path),
            tokio::runtime::Handle::current(),
        );
        move || Ok(store.blocking_reader(&key, &handle)?)
    }

    /// The size and SHA-256 of the object at `path`, read as it streams.
    pub async fn hash(&self, path: &str) -> Result<BackupFile, VaultError> {
        let open = self.reader_job(path);
        let path = path.to_string();
        tokio::task::spawn_blocking(move || -> Result<BackupFile, VaultError> {
            let mut reader = open()?;
            let (size, sha256) = copy_hashing(&mut reader, &mut io::sink())?;
            Ok(BackupFile { path, size, sha256 })
        })
        .await?
    }

    /// Downloads `path` to the file `to`.
    pub async fn download(&self, path: &str, to: &Path) -> Result<(), VaultError> {
        if let Some(dir) = to.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let open = self.reader_job(path);
        let to = to.to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<(), VaultError> {
            let mut reader = open()?;
            let mut out = super::create::create_new(&to)?;
            copy_hashing(&mut reader, &mut out)?;
            out.sync_all()?;
            Ok(())
        })
        .await?
    }

    /// Deletes `path`.
    pub async fn delete(&self, path: &str) -> Result<(), VaultError> {
        Ok(self.store.delete(&self.key(path)).await?)
    }

    /// Downloads the small files of backup `id` into `dir/id/`.
    pub async fn fetch_small(&self, id: &str, dir: &Path) -> Result<(), VaultError> {
        for name in SMALL {
            self.download(&format!("{id}/{name}"), &dir.join(id).join(name))
                .await
                .map_err(|e| broken(id, format!("{name}: {e}")))?;
        }
        Ok(())
    }

    /// The ids `self` names: the one in the URL, or every complete one.
    pub async fn ids(&self) -> Result<Vec<String>, VaultError> {
        let listing = self.listing().await?;
        let complete = Self::complete_ids(&listing);
        let ids = match &self.named {
            Some(id) => complete.into_iter().filter(|c| c == id).collect(),
            None => complete,
        };
        if ids.is_empty() {
            return Err(VaultError::NotABackup(PathBuf::from(&self.url)));
        }
        Ok(ids)
    }
}

/// A [`crate::store::BlobWriter`] as an `io::Write`.
struct Sink(Option<crate::store::BlobWriter>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.as_mut().expect("open").write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.as_mut().expect("open").flush()
    }
}

/// The backups of the set at `place`, oldest first, as their manifests say.
pub async fn list_remote(
    place: &Path,
    settings: &Settings,
) -> Result<Vec<BackupSummary>, VaultError> {
    let set = RemoteSet::open(place, settings)?;
    let mut out = Vec::new();
    for id in set.ids().await? {
        let m = set.manifest(&id).await?;
        out.push(super::set::summary_at(set.backup_url(&id), &m));
    }
    Ok(out)
}

/// Verifies every backup `place` names, as [`super::verify_backups`] does
/// on disk: the small files are downloaded to a scratch directory, every
/// other file is hashed as it streams from the bucket.
pub async fn verify_remote(
    place: &Path,
    card: Option<&Path>,
    settings: &Settings,
) -> Result<Vec<BackupSummary>, VaultError> {
    let set = RemoteSet::open(place, settings)?;
    let scratch = tempfile::tempdir()?;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for id in set.ids().await? {
        set.fetch_small(&id, scratch.path()).await?;
        let checked = checked_manifest(scratch.path(), &id, card)?;
        for file in &checked.manifest.files {
            if seen.contains(file) {
                continue;
            }
            let local = scratch.path().join(&file.path);
            let got = if local.is_file() {
                super::create::file_entry(&local, file.path.clone())?
            } else {
                set.hash(&file.path)
                    .await
                    .map_err(|e| broken(&id, format!("{}: {e}", file.path)))?
            };
            if got != *file {
                return Err(broken(
                    &id,
                    format!("{} is not the file it lists", file.path),
                ));
            }
            seen.insert(got);
        }
        checked.verify_audit(scratch.path())?;
        out.push(super::set::summary_at(
            set.backup_url(&id),
            &checked.manifest,
        ));
    }
    Ok(out)
}

/// Downloads the newest backup `place` names (or the one it names) into a
/// set directory `into`, checking nothing yet (the restore checks it all);
/// returns the backup's directory there.
pub async fn fetch_backup(
    place: &Path,
    into: &Path,
    settings: &Settings,
) -> Result<PathBuf, VaultError> {
    let set = RemoteSet::open(place, settings)?;
    let id = set.ids().await?.pop().expect("ids is never empty");
    set.fetch_small(&id, into).await?;
    let manifest = set.manifest(&id).await?;
    for file in &manifest.files {
        // The path rules first: nothing is written outside `into`.
        if super::manifest::place(&id, &file.path).is_none() {
            return Err(broken(&id, format!("its manifest lists {:?}", file.path)));
        }
        let local = into.join(&file.path);
        if local.exists() {
            continue;
        }
        set.download(&file.path, &local).await?;
    }
    Ok(into.join(&id))
}

impl crate::vault::Vault {
    /// Keeps the newest `keep` backups of the set in a bucket and deletes
    /// the others (their signature first, so none looks complete while it
    /// goes), every backup cut off before its signature, and every object
    /// no kept backup lists. Audited.
    pub async fn prune_remote(
        &self,
        actor: &crate::domain::Principal,
        place: &Path,
        keep: usize,
    ) -> Result<super::PruneReport, VaultError> {
        use crate::policy::Action;
        use crate::vault::access::Note;
        self.authorize_node(actor, Action::Administer, Note::target("backup-prune"))?;
        if keep == 0 {
            return Err(VaultError::InvalidField {
                field: "keep",
                rule: "at least one backup is kept".into(),
            });
        }
        let set = RemoteSet::open(place, &self.settings)?;
        let lock = super::set::SetLock::take(&self.data_dir().join(super::create::STAGING))?;
        let listing = set.listing().await?;
        let ids = RemoteSet::complete_ids(&listing);
        if ids.is_empty() {
            return Err(VaultError::NotABackup(place.to_path_buf()));
        }
        let split = ids.len().saturating_sub(keep);
        let (removed, kept) = ids.split_at(split);
        let mut listed = std::collections::BTreeSet::new();
        for id in kept {
            for f in set.manifest(id).await?.files {
                if is_object(&f.path) {
                    listed.insert(f.path);
                }
            }
        }
        for id in removed {
            set.delete(&format!("{id}/{SIGNATURE}")).await?;
        }
        let mut objects_removed = 0;
        for path in listing.keys() {
            let doomed = match path.split_once('/') {
                Some((id, _)) if is_backup_id(id) => !kept.iter().any(|k| k == id),
                _ => is_object(path) && !listed.contains(path),
            };
            if doomed {
                set.delete(path).await?;
                objects_removed += u64::from(is_object(path));
            }
        }
        drop(lock);
        self.pruned(actor, kept, removed, objects_removed)
    }
}

/// Whether a set path is an object's.
pub(super) fn is_object(path: &str) -> bool {
    path.starts_with(&format!("{OBJECTS}/"))
}
