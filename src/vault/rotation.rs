//! Key rotation while the node serves (`handover keys rotate`), specified
//! in `docs/key-rotation.md`.
//!
//! * **Signing key.** A new Ed25519 key is written beside the old one
//!   (`ssh-ed25519.next`); the card then names it, lists the old key with
//!   the time its validity ended and carries a key statement signed by
//!   the old key (none when the old key is declared compromised: a thief
//!   could sign one too); then the new key's files replace the old ones.
//!   Each step is crash-safe, and a node opens in any state between them
//!   (the signing key is whichever file the card names).
//! * **Storage key.** A new age identity becomes the one new files are
//!   sealed to, the old one is kept as `age-identity.previous.*` for
//!   decryption, and the database key (derived from the first identity)
//!   is kept sealed to both in `database-key.age`. Every document header
//!   not yet wrapped to the new identity is rewrapped (payloads are not
//!   touched), in batches that commit as they go, so a rotation that
//!   stops goes on where it was when run again. The old recipient is then
//!   retired in the database (no header or upload segment sealed to it
//!   commits from then on), the committed upload segments are rewrapped,
//!   the card names the new recipient with a key statement, and the old
//!   identity's file is deleted.
//!
//! Another process serving the node picks the new files up at its next use
//! of the keys (`keyring.rs`). Both rotations are audited.

use std::fs;
use std::io::Write;
use std::path::Path;

use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::access::Note;
use super::{Vault, VaultError};
use crate::crypto::{
    age_fingerprint, header_len, new_signing_key, public_line, rewrap_header, seal_database_key,
    sign_statement, ssh_fingerprint, write_identity, write_signing, KeyFiles, NodeKeys, Slot,
    StatementBody, STATEMENT_FORMAT,
};
use crate::domain::{DepartmentCard, InboxState, PreviousKey, Principal};
use crate::policy::Action;
use crate::store::{BlobKey, HeaderRow};

/// Headers rewrapped per transaction.
const BATCH: usize = 256;
/// Headers rewrapped at once within a batch (their nonces read at once).
const REWRAPS_AT_ONCE: usize = 16;
/// How many times the last pass is retried while documents sealed to the
/// old key keep arriving, before the rotation asks to be run again.
const LAST_PASSES: usize = 5;

/// What a signing key rotation did.
#[derive(Debug, Clone, Serialize)]
pub struct SigningRotation {
    /// `SHA256:…` of the key that signed until now.
    pub previous_fingerprint: String,
    /// `SHA256:…` of the new key.
    pub fingerprint: String,
    /// When the old key's validity ended (RFC 3339).
    pub at: String,
    /// True when the old key was declared lost or stolen (no statement).
    pub compromised: bool,
}

/// What a storage key rotation did (so far).
#[derive(Debug, Clone, Serialize, Default)]
pub struct StorageRotation {
    /// The `age1…` recipient documents are sealed to from now on.
    pub recipient: String,
    /// `SHA256:…` of that recipient.
    pub fingerprint: String,
    /// Headers rewrapped by this run.
    pub rewrapped: u64,
    /// Committed upload segments rewrapped by this run.
    pub segments: u64,
    /// Headers still wrapped to the old identity (0 once finished).
    pub left: u64,
    /// True once the old identity is destroyed.
    pub finished: bool,
}

impl Vault {
    /// Rotates the signing key. With `compromised`, the old key is listed
    /// as revoked and no statement is signed with it.
    pub fn rotate_signing_key(
        &self,
        actor: &Principal,
        compromised: bool,
    ) -> Result<SigningRotation, VaultError> {
        self.authorize_node(
            actor,
            Action::Administer,
            Note::target("keys-rotate-signing"),
        )?;
        let _turn = RotationTurn::take(self.data_dir())?;
        let files = KeyFiles::new(self.data_dir());
        let old = self.keys();
        let card = (*self.card()).clone();
        // A next key the card does not name is a rotation that stopped
        // before publishing it: start again.
        for p in [files.ssh_key_in(Slot::Next), files.ssh_pub_in(Slot::Next)] {
            remove_if_exists(&p)?;
        }
        let new = new_signing_key(&card.id)?;
        write_signing(&files, Slot::Next, &new, old.passphrase())?;
        crate::durable::sync_dir(files.dir())?;
        let at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut next = card.clone();
        next.ssh_public_key = public_line(&new);
        next.previous_keys.push(PreviousKey {
            ssh_public_key: card.ssh_public_key.clone(),
            valid_until: at.clone(),
            revoked: compromised,
        });
        if !compromised {
            next.key_statements.push(sign_statement(
                &old,
                &StatementBody {
                    format: STATEMENT_FORMAT.into(),
                    department: card.id.clone(),
                    previous_ssh_public_key: card.ssh_public_key.clone(),
                    ssh_public_key: next.ssh_public_key.clone(),
                    previous_age_recipient: card.age_recipient.clone(),
                    age_recipient: card.age_recipient.clone(),
                    at: at.clone(),
                },
            ));
        }
        self.publish_card(&next)?;
        fs::rename(files.ssh_key_in(Slot::Next), files.ssh_key())?;
        fs::rename(files.ssh_pub_in(Slot::Next), files.ssh_pub())?;
        crate::durable::sync_dir(files.dir())?;
        self.ring.reload()?;
        let rotation = SigningRotation {
            previous_fingerprint: ssh_fingerprint(old.signing_key().public_key()),
            fingerprint: ssh_fingerprint(new.public_key()),
            at,
            compromised,
        };
        self.record_event(
            actor.label(),
            actor.role_label(),
            "rotate_signing_key",
            true,
            Some(format!(
                "{}{}",
                rotation.fingerprint,
                if compromised { ":compromised" } else { "" }
            )),
        )?;
        tracing::info!(fingerprint = %rotation.fingerprint, compromised, "signing key rotated");
        Ok(rotation)
    }

    /// Rotates the storage key, or goes on with a rotation that stopped.
    /// `limit` stops after that many headers (the rotation then stays in
    /// progress; running it again goes on).
    pub async fn rotate_storage_key(
        &self,
        actor: &Principal,
        limit: Option<u64>,
    ) -> Result<StorageRotation, VaultError> {
        self.authorize_node(
            actor,
            Action::Administer,
            Note::target("keys-rotate-storage"),
        )?;
        let _turn = RotationTurn::take(self.data_dir())?;
        let whole = self.db.documents_without_header()?;
        if whole > 0 {
            return Err(VaultError::RotationBlocked(format!(
                "{whole} document(s) stored before headers moved into the database keep their whole age file, which a rotation cannot rewrap"
            )));
        }
        let files = KeyFiles::new(self.data_dir());
        let protected = files.is_protected();
        if !files.identity_in(Slot::Previous, protected).exists()
            || files.identity_in(Slot::Next, protected).exists()
        {
            let started = self.begin_storage_rotation(&files)?;
            self.record_event(
                actor.label(),
                actor.role_label(),
                "rotate_storage_key",
                true,
                Some(format!("started:{started}")),
            )?;
        }
        let keys = self.keys();
        let recipient = keys.recipient();
        let mut report = StorageRotation {
            recipient: recipient.to_string(),
            fingerprint: age_fingerprint(&recipient),
            ..Default::default()
        };
        let mut passes = 0;
        let mut checked_inbox = false;
        loop {
            report.rewrapped += self
                .rewrap_headers(&keys, limit.map(|l| l - report.rewrapped))
                .await?;
            report.left = self.db.headers_not_to(&report.recipient)?;
            if limit.is_some_and(|l| report.rewrapped >= l) && report.left > 0 {
                return Ok(report);
            }
            // Bundles waiting in the inbox are encrypted to the old key:
            // they must be accepted (their headers then rewrapped) or
            // refused while the old key still opens them.
            if !checked_inbox {
                let waiting = self
                    .db
                    .inbox()?
                    .into_iter()
                    .filter(|i| i.state == InboxState::Waiting)
                    .count();
                if waiting > 0 {
                    return Err(VaultError::RotationBlocked(format!(
                        "{waiting} bundle(s) in the inbox are encrypted to the old key: accept or refuse them, then run it again"
                    )));
                }
                checked_inbox = true;
            }
            let old: Vec<String> = keys
                .recipients()
                .iter()
                .skip(1)
                .map(|r| r.to_string())
                .collect();
            if self
                .db
                .retire_recipients(&report.recipient, &old, Utc::now())?
            {
                break;
            }
            passes += 1;
            if passes == LAST_PASSES {
                return Err(VaultError::RotationBlocked(
                    "documents sealed to the old key keep arriving; run it again".into(),
                ));
            }
        }
        report.left = 0;
        report.segments = self.rewrap_segments(&keys)?;
        self.finish_storage_rotation(&files, &keys)?;
        report.finished = true;
        self.record_event(
            actor.label(),
            actor.role_label(),
            "rotate_storage_key",
            true,
            Some(format!("finished:{}", report.fingerprint)),
        )?;
        tracing::info!(rewrapped = report.rewrapped, "storage key rotated");
        Ok(report)
    }

    /// Makes a new identity the current one, keeping the old one for
    /// decryption and the database key sealed to both. Goes on from any
    /// point where an earlier run stopped. Returns the new recipient's
    /// fingerprint.
    fn begin_storage_rotation(&self, files: &KeyFiles) -> Result<String, VaultError> {
        let keys = self.keys();
        let pass = keys.passphrase();
        let protected = pass.is_some();
        let next_path = files.identity_in(Slot::Next, protected);
        let new = if next_path.exists() {
            // Written by a run that stopped: the keys hold it already, as
            // the last identity they loaded (`NodeKeys::load_for` reads
            // the previous identity, then the next one; begin runs only
            // when one of them is missing or the next one is there).
            keys.recipients()
                .into_iter()
                .last()
                .ok_or(VaultError::RotationBlocked(
                    "the next identity does not load".into(),
                ))?
        } else {
            let identity = age::x25519::Identity::generate();
            write_identity(files, Slot::Next, &identity, pass)?;
            crate::durable::sync_dir(files.dir())?;
            identity.to_public()
        };
        // The database key stays; from now on it is kept sealed.
        let mut to = vec![keys.recipient()];
        to.push(new.clone());
        crate::durable::replace(&files.database_key(), &seal_database_key(&keys, &to)?)?;
        if !files.identity_in(Slot::Previous, protected).exists() {
            write_identity(files, Slot::Previous, keys.current_identity(), pass)?;
        }
        fs::rename(&next_path, files.identity_in(Slot::Current, protected))?;
        crate::durable::sync_dir(files.dir())?;
        // The card does not change yet; rewritten, it tells serving
        // processes to seal to the new identity.
        self.publish_card(&self.card())?;
        self.ring.reload()?;
        Ok(age_fingerprint(&new))
    }

    /// Rewraps headers not wrapped to the current recipient, up to `limit`.
    async fn rewrap_headers(&self, keys: &NodeKeys, limit: Option<u64>) -> Result<u64, VaultError> {
        let recipient = keys.recipient();
        let to = recipient.to_string();
        let mut done = 0u64;
        let mut after = None;
        loop {
            let want = limit.map_or(BATCH, |l| BATCH.min((l - done) as usize));
            if want == 0 {
                return Ok(done);
            }
            let rows = self.db.headers_to_rewrap(&to, after, want)?;
            let Some(last) = rows.last() else {
                return Ok(done);
            };
            after = Some(last.document_id);
            // Each header's rewrap (two X25519 operations) and the read of
            // its payload's nonce run a few at a time.
            use futures::StreamExt;
            let batch: Vec<_> = futures::stream::iter(rows)
                .map(|row| async {
                    let header =
                        rewrap_header(&row.header, keys.identity(), &recipient).map_err(|e| {
                            VaultError::Integrity(format!("document {}: {e}", row.document_id))
                        })?;
                    let head = self.sealed_head_of(&row, &header).await?;
                    Ok::<_, VaultError>((row, header, head))
                })
                .buffered(REWRAPS_AT_ONCE)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<_, _>>()?;
            done += self.db.rewrap_headers(&batch, &to)? as u64;
        }
    }

    /// The new sealed head (header and payload nonce) of a document whose
    /// header is now `header`, if its head is recorded and its payload is
    /// still stored.
    async fn sealed_head_of(
        &self,
        row: &HeaderRow,
        header: &[u8],
    ) -> Result<Option<(u64, [u8; 32])>, VaultError> {
        let Some((len, _)) = self.db.sealed_head(row.document_id)? else {
            return Ok(None);
        };
        let nonce_len = len.saturating_sub(row.header.len() as u64);
        let key = BlobKey::for_document(row.document_id);
        let nonce = match self.blobs.read_prefix(&key, nonce_len).await {
            Ok(n) => n,
            Err(_) => return Ok(None),
        };
        let mut sha = Sha256::new();
        sha.update(header);
        sha.update(&nonce);
        Ok(Some((
            header.len() as u64 + nonce.len() as u64,
            sha.finalize().into(),
        )))
    }

    /// Rewraps every committed upload segment not sealed to the current
    /// identity (written aside, synced, renamed).
    fn rewrap_segments(&self, keys: &NodeKeys) -> Result<u64, VaultError> {
        let recipient = keys.recipient();
        let mut done = 0;
        for upload in self.db.uploads()? {
            if upload.document.is_some() {
                continue;
            }
            let dir = self.upload_dir(upload.id);
            for segment in self.db.segments(upload.id)? {
                let path = super::uploads::segment_path(&dir, segment.start);
                let Ok(bytes) = fs::read(&path) else {
                    continue;
                };
                let at = header_len(&bytes).ok_or_else(|| {
                    VaultError::Integrity(format!("upload segment {} is malformed", path.display()))
                })?;
                if rewrap_header(&bytes[..at], keys.current_identity(), &recipient).is_ok() {
                    continue;
                }
                let header = rewrap_header(&bytes[..at], keys.identity(), &recipient)
                    .map_err(|e| VaultError::Integrity(format!("upload segment: {e}")))?;
                let partial = crate::durable::aside(&path);
                let mut f = fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&partial)?;
                f.write_all(&header)?;
                f.write_all(&bytes[at..])?;
                f.sync_all()?;
                crate::durable::commit_synced(&partial, &path)?;
                done += 1;
            }
        }
        Ok(done)
    }

    /// Publishes the new recipient on the card, with a statement signed by
    /// the signing key, then destroys the old identity.
    fn finish_storage_rotation(&self, files: &KeyFiles, keys: &NodeKeys) -> Result<(), VaultError> {
        crate::durable::replace(
            &files.database_key(),
            &seal_database_key(keys, &[keys.recipient()])?,
        )?;
        let card = (*self.card()).clone();
        let recipient = keys.recipient().to_string();
        if card.age_recipient != recipient {
            let mut next = card.clone();
            next.age_recipient = recipient.clone();
            next.key_statements.push(sign_statement(
                keys,
                &StatementBody {
                    format: STATEMENT_FORMAT.into(),
                    department: card.id.clone(),
                    previous_ssh_public_key: card.ssh_public_key.clone(),
                    ssh_public_key: card.ssh_public_key.clone(),
                    previous_age_recipient: card.age_recipient.clone(),
                    age_recipient: recipient,
                    at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
                },
            ));
            self.publish_card(&next)?;
        }
        for encrypted in [false, true] {
            remove_if_exists(&files.identity_in(Slot::Previous, encrypted))?;
        }
        crate::durable::sync_dir(files.dir())?;
        // Once more, so that a serving process drops the old identity from
        // memory too (the card had to name the new recipient before the old
        // identity could go).
        self.publish_card(&self.card())?;
        self.ring.reload()
    }

    /// Replaces `card.json` (crash-safe). Every process holding the node's
    /// keys reloads them at its next use (`keyring.rs`).
    fn publish_card(&self, card: &DepartmentCard) -> Result<(), VaultError> {
        super::node::write_card(self.data_dir(), card)
    }
}

fn remove_if_exists(path: &Path) -> Result<(), VaultError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// One rotation at a time on a node, across processes (`keys.lock`): the
/// file's lock is held until the turn is dropped.
struct RotationTurn {
    _held: fs::File,
}

impl RotationTurn {
    fn take(dir: &Path) -> Result<RotationTurn, VaultError> {
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("keys.lock"))?;
        f.try_lock()
            .map_err(|_| VaultError::Busy("another key rotation is running"))?;
        Ok(RotationTurn { _held: f })
    }
}
