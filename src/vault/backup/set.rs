//! A backup set on disk: its lock, its complete backups, verifying them
//! with the card alone, listing and pruning them.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::manifest::{
    is_backup_id, place, BackupFile, Manifest, Place, AUDIT_HEAD, AUDIT_LOG, CARD, DATABASE,
    FORMAT, MANIFEST, OBJECTS, OBJECT_KINDS, SIGNATURE,
};
use super::BACKUP_NAMESPACE;
use crate::domain::{DepartmentCard, Principal};
use crate::policy::Action;
use crate::vault::access::Note;
use crate::vault::{Vault, VaultError};

/// One backup of a set, as its manifest describes it.
#[derive(Debug, Clone, Serialize)]
pub struct BackupSummary {
    pub id: String,
    pub path: PathBuf,
    pub department: String,
    pub created_at: DateTime<Utc>,
    pub snapshot_at: DateTime<Utc>,
    pub documents: u64,
    pub audit_seq: u64,
    pub keys_included: bool,
    pub files: usize,
    pub bytes: u64,
    /// Documents erased since this backup whose keys it still holds
    /// (known only when listed on the node; see [`Vault::erased_keys_in`]).
    pub erased_keys: Option<u64>,
}

/// What a prune removed.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub kept: Vec<String>,
    pub removed: Vec<String>,
    /// Objects no kept backup names any more, removed.
    pub objects_removed: u64,
}

/// The exclusive lock of a set (`.lock`), held by a backup or a prune.
pub(super) struct SetLock {
    file: File,
    dir: PathBuf,
}

impl SetLock {
    /// Creates the set directory if need be and takes its lock; refuses
    /// if another backup or prune holds it.
    pub fn take(set: &Path) -> Result<SetLock, VaultError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(set)?;
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(set.join(".lock"))?;
        file.try_lock()
            .map_err(|_| VaultError::Busy("a backup or prune of this set is running"))?;
        Ok(SetLock {
            file,
            dir: set.to_path_buf(),
        })
    }

    /// Removes what a backup that stopped half-way left: its directory and
    /// objects it was writing (never renamed into place).
    pub fn remove_partials(&self) -> Result<(), VaultError> {
        let set = &self.dir;
        for entry in fs::read_dir(set)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(".partial-") {
                fs::remove_dir_all(entry.path())?;
            }
        }
        for kind in OBJECT_KINDS {
            let Ok(entries) = fs::read_dir(set.join(OBJECTS).join(kind)) else {
                continue;
            };
            for entry in entries {
                let entry = entry?;
                if entry.file_name().to_string_lossy().starts_with(".partial-") {
                    fs::remove_file(entry.path())?;
                }
            }
        }
        Ok(())
    }
}

impl Drop for SetLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// The ids of the complete backups in `set`, oldest first.
pub(super) fn backup_ids(set: &Path) -> Result<Vec<String>, VaultError> {
    let entries = match fs::read_dir(set) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(VaultError::NotABackup(set.to_path_buf()))
        }
        Err(e) => return Err(e.into()),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if is_backup_id(&name) && set.join(&name).join(MANIFEST).is_file() {
            ids.push(name);
        }
    }
    ids.sort();
    Ok(ids)
}

/// Reads a backup's manifest without checking it (for listing, and for
/// finding objects an earlier backup already hashed).
fn read_manifest(set: &Path, id: &str) -> Result<Manifest, VaultError> {
    let bytes = fs::read(set.join(id).join(MANIFEST))?;
    serde_json::from_slice(&bytes).map_err(|e| VaultError::BackupBroken {
        backup: id.into(),
        reason: format!("its manifest is malformed: {e}"),
    })
}

/// Objects the set's backups list, with their recorded size and digest.
pub(super) fn known_objects(set: &Path) -> HashMap<String, BackupFile> {
    let mut known = HashMap::new();
    for id in backup_ids(set).unwrap_or_default() {
        if let Ok(m) = read_manifest(set, &id) {
            for f in m.files {
                if f.path.starts_with(OBJECTS) {
                    known.insert(f.path.clone(), f);
                }
            }
        }
    }
    known
}

/// The set and the backups `path` names: a backup's own directory (that
/// one), or a set (all of its backups).
pub(super) fn resolve(path: &Path) -> Result<(PathBuf, Vec<String>), VaultError> {
    if path.join(MANIFEST).is_file() {
        let id = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| is_backup_id(n))
            .ok_or_else(|| VaultError::NotABackup(path.to_path_buf()))?;
        let set = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        return Ok((set, vec![id.to_string()]));
    }
    let ids = backup_ids(path)?;
    if ids.is_empty() {
        return Err(VaultError::NotABackup(path.to_path_buf()));
    }
    Ok((path.to_path_buf(), ids))
}

fn summary(set: &Path, m: &Manifest) -> BackupSummary {
    summary_at(set.join(&m.id), m)
}

/// The summary of the backup at `path` whose manifest is `m`.
pub(super) fn summary_at(path: PathBuf, m: &Manifest) -> BackupSummary {
    BackupSummary {
        id: m.id.clone(),
        path,
        department: m.department.clone(),
        created_at: m.created_at,
        snapshot_at: m.snapshot_at,
        documents: m.documents,
        audit_seq: m.audit_seq,
        keys_included: m.keys_recipient.is_some(),
        files: m.files.len(),
        bytes: m.files.iter().map(|f| f.size).sum(),
        erased_keys: None,
    }
}

/// The backups of a set (or the one backup) at `path`, oldest first, as
/// their manifests say; nothing is verified.
pub fn list_backups(path: &Path) -> Result<Vec<BackupSummary>, VaultError> {
    let (set, ids) = resolve(path)?;
    ids.iter()
        .map(|id| Ok(summary(&set, &read_manifest(&set, id)?)))
        .collect()
}

/// Verifies every backup `path` names (a set, or one backup), with the
/// card `card` or else the card each backup holds: the manifest's
/// signature, every file's size and SHA-256, and the audit log's chain and
/// checkpoints up to the one the manifest names. Needs no key.
pub fn verify_backups(path: &Path, card: Option<&Path>) -> Result<Vec<BackupSummary>, VaultError> {
    let (set, ids) = resolve(path)?;
    // Objects are shared by the set's backups: each (path, size, digest)
    // is read once per run, not once per backup that lists it.
    let mut seen: BTreeSet<BackupFile> = BTreeSet::new();
    ids.iter()
        .map(|id| {
            let checked = checked_manifest(&set, id, card)?;
            for file in &checked.manifest.files {
                if seen.contains(file) {
                    continue;
                }
                let got = super::create::file_entry(&set.join(&file.path), file.path.clone())
                    .map_err(|e| broken(id, format!("{}: {e}", file.path)))?;
                if got != *file {
                    return Err(broken(
                        id,
                        format!("{} is not the file it lists", file.path),
                    ));
                }
                seen.insert(got);
            }
            checked.verify_audit(&set)?;
            Ok(summary(&set, &checked.manifest))
        })
        .collect()
}

pub(super) fn broken(id: &str, reason: impl Into<String>) -> VaultError {
    VaultError::BackupBroken {
        backup: id.into(),
        reason: reason.into(),
    }
}

/// A manifest whose signature verified, whose form holds, and the card
/// it verified with.
pub(super) struct Checked {
    pub manifest: Manifest,
    pub card: DepartmentCard,
    keys: Vec<ssh_key::PublicKey>,
}

/// Reads backup `id` of `set`, checks the manifest's signature with the
/// card (`card`, or the one the backup holds), its format, and that every
/// path is one a backup may hold, with the files a backup must hold.
pub(super) fn checked_manifest(
    set: &Path,
    id: &str,
    card: Option<&Path>,
) -> Result<Checked, VaultError> {
    let dir = set.join(id);
    let card_path = card.map_or_else(|| dir.join(CARD), Path::to_path_buf);
    let card_bytes = fs::read(&card_path)
        .map_err(|e| VaultError::InvalidCard(format!("{}: {e}", card_path.display())))?;
    let card: DepartmentCard = serde_json::from_slice(&card_bytes)
        .map_err(|e| VaultError::InvalidCard(format!("{}: {e}", card_path.display())))?;
    let keys = crate::crypto::card_signing_keys(&card)
        .map_err(|_| VaultError::InvalidCard("the card holds no valid signing key".into()))?;
    let bytes = fs::read(dir.join(MANIFEST)).map_err(|e| broken(id, format!("{MANIFEST}: {e}")))?;
    let signature =
        fs::read(dir.join(SIGNATURE)).map_err(|e| broken(id, format!("{SIGNATURE}: {e}")))?;
    let signed = keys
        .iter()
        .any(|key| crate::crypto::verify_in(key, BACKUP_NAMESPACE, &bytes, &signature).is_ok());
    signed.then_some(()).ok_or_else(|| {
        broken(
            id,
            format!(
                "its manifest's signature does not verify with the card of {}",
                card.id
            ),
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| broken(id, format!("its manifest is malformed: {e}")))?;
    if manifest.format != FORMAT {
        return Err(broken(id, format!("unknown format {:?}", manifest.format)));
    }
    if manifest.id != id {
        return Err(broken(
            id,
            format!("its manifest names backup {}", manifest.id),
        ));
    }
    if manifest.department != card.id {
        return Err(broken(
            id,
            format!("it is of {}, not {}", manifest.department, card.id),
        ));
    }
    let mut seen = BTreeSet::new();
    for file in &manifest.files {
        if place(id, &file.path).is_none() || !seen.insert(file.path.as_str()) {
            return Err(broken(id, format!("its manifest lists {:?}", file.path)));
        }
    }
    for own in [DATABASE, AUDIT_LOG, AUDIT_HEAD, CARD] {
        if !seen.contains(format!("{id}/{own}").as_str()) {
            return Err(broken(id, format!("it holds no {own}")));
        }
    }
    Ok(Checked {
        manifest,
        card,
        keys,
    })
}

impl Checked {
    /// The backup's audit log: the whole chain and every checkpoint, ending
    /// with the checkpoint the manifest names.
    pub fn verify_audit(&self, set: &Path) -> Result<(), VaultError> {
        let id = &self.manifest.id;
        let dir = set.join(id);
        let verified = crate::audit::verify(
            &dir.join(AUDIT_LOG),
            Some(&dir.join(AUDIT_HEAD)),
            &self.keys,
            &self.card.id,
        )
        .map_err(|e| broken(id, format!("its audit log: {e}")))?;
        if verified.lines != self.manifest.audit_seq
            || verified.last_checkpoint != self.manifest.audit_seq
        {
            return Err(broken(
                id,
                format!(
                    "its audit log ends at line {} (last checkpoint {}), not at the checkpoint {} it names",
                    verified.lines, verified.last_checkpoint, self.manifest.audit_seq
                ),
            ));
        }
        Ok(())
    }
}

impl Vault {
    /// Fills in, for each backup, how many documents erased on this node
    /// since its snapshot it still holds the keys of: those added before
    /// the backup was written and erased after its snapshot began (counted
    /// on the safe side). Such a backup keeps them readable until pruned.
    pub fn erased_keys_in(
        &self,
        actor: &Principal,
        backups: &mut [BackupSummary],
    ) -> Result<(), VaultError> {
        self.authorize_node(actor, Action::Administer, Note::target("backup-list"))?;
        let erased = self.db.erased_documents()?;
        for b in backups.iter_mut() {
            let held = erased
                .iter()
                .filter(|(added, erased_at)| *added <= b.created_at && *erased_at > b.snapshot_at)
                .count();
            b.erased_keys = Some(held as u64);
        }
        Ok(())
    }

    /// Keeps the newest `keep` backups of the set at `set` and removes
    /// the others, then every object no kept backup lists. Audited.
    pub fn prune_backups(
        &self,
        actor: &Principal,
        set: &Path,
        keep: usize,
    ) -> Result<PruneReport, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::target("backup-prune"))?;
        if keep == 0 {
            return Err(VaultError::InvalidField {
                field: "keep",
                rule: "at least one backup is kept".into(),
            });
        }
        let ids = backup_ids(set)?;
        if ids.is_empty() {
            return Err(VaultError::NotABackup(set.to_path_buf()));
        }
        let lock = SetLock::take(set)?;
        lock.remove_partials()?;
        let split = ids.len().saturating_sub(keep);
        let (removed, kept) = ids.split_at(split);
        // Objects the kept backups list (read before anything goes).
        let mut listed = BTreeSet::new();
        for id in kept {
            for f in read_manifest(set, id)?.files {
                if matches!(place(id, &f.path), Some(Place::Object(..))) {
                    listed.insert(f.path);
                }
            }
        }
        for id in removed {
            // Renamed first, so a stop half-way leaves no backup that
            // looks complete and is not.
            let doomed = set.join(format!(".partial-{id}"));
            fs::rename(set.join(id), &doomed)?;
            fs::remove_dir_all(&doomed)?;
        }
        let mut objects_removed = 0;
        for kind in OBJECT_KINDS {
            let Ok(entries) = fs::read_dir(set.join(OBJECTS).join(kind)) else {
                continue;
            };
            for entry in entries {
                let entry = entry?;
                let path = format!("{OBJECTS}/{kind}/{}", entry.file_name().to_string_lossy());
                if !listed.contains(&path) {
                    fs::remove_file(entry.path())?;
                    objects_removed += 1;
                }
            }
        }
        File::open(set)?.sync_all()?;
        drop(lock);
        self.pruned(actor, kept, removed, objects_removed)
    }

    /// Audits a prune, and reports it.
    pub(super) fn pruned(
        &self,
        actor: &Principal,
        kept: &[String],
        removed: &[String],
        objects_removed: u64,
    ) -> Result<PruneReport, VaultError> {
        self.record_event(
            actor.label(),
            actor.role_label(),
            "backup-prune",
            true,
            Some(format!("keep:{}", kept.len())),
        )?;
        Ok(PruneReport {
            kept: kept.to_vec(),
            removed: removed.to_vec(),
            objects_removed,
        })
    }
}
