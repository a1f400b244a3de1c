//! The node's keys and public card as this process holds them, and how a
//! key rotation made by another process (`handover keys rotate` while
//! `serve` runs) reaches it: every rotation step after which a process
//! must hold other keys ends by replacing `card.json` (`rotation.rs`), so
//! before each use the ring compares that one file's identity (inode,
//! size, modification time) with what it loaded, and reloads when it
//! changed. A reload that fails (files caught in the middle of a
//! rotation's renames) keeps the keys it had and is tried again at the
//! next use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::crypto::{KeyFiles, KeySource, NodeKeys, Passphrase};
use crate::domain::DepartmentCard;

use super::VaultError;

/// The identity of `card.json` as it was loaded.
type Stamp = Option<(u64, u64, i64, i64)>;

struct Loaded {
    keys: Arc<NodeKeys>,
    card: Arc<DepartmentCard>,
    stamp: Stamp,
}

/// The keys and card of the node in one data directory.
pub struct KeyRing {
    dir: PathBuf,
    loaded: RwLock<Loaded>,
}

impl KeyRing {
    /// Loads the card and the keys that match it.
    pub fn load(
        dir: &Path,
        passphrase: impl FnOnce() -> Option<Passphrase>,
    ) -> Result<KeyRing, VaultError> {
        let stamp = stamp(dir);
        let card = read_card(dir)?;
        let keys = load_keys(dir, &card, passphrase)?;
        Ok(KeyRing {
            dir: dir.to_path_buf(),
            loaded: RwLock::new(Loaded {
                keys: Arc::new(keys),
                card: Arc::new(card),
                stamp,
            }),
        })
    }

    /// The keys to use now.
    pub fn keys(&self) -> Arc<NodeKeys> {
        self.refresh();
        self.read().keys.clone()
    }

    /// The card as it is now.
    pub fn card(&self) -> Arc<DepartmentCard> {
        self.refresh();
        self.read().card.clone()
    }

    /// Reloads now, failing if the files do not hold a consistent node
    /// (used right after this process rotated a key).
    pub fn reload(&self) -> Result<(), VaultError> {
        let stamp = stamp(&self.dir);
        let old = self.keys_unrefreshed();
        let card = read_card(&self.dir)?;
        let keys = load_keys(&self.dir, &card, || old.passphrase().cloned())?;
        *self.loaded.write().expect("no panic holds the ring") = Loaded {
            keys: Arc::new(keys),
            card: Arc::new(card),
            stamp,
        };
        Ok(())
    }

    fn keys_unrefreshed(&self) -> Arc<NodeKeys> {
        self.read().keys.clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.loaded.read().expect("no panic holds the ring")
    }

    fn refresh(&self) {
        if self.read().stamp == stamp(&self.dir) {
            return;
        }
        match self.reload() {
            Ok(()) => tracing::info!("the node's keys or card changed on disk; reloaded"),
            Err(e) => {
                tracing::warn!(error = %e, "the node's key files changed but do not load yet; keeping the keys in use")
            }
        }
    }
}

/// The audit log shares the ring, and signs each checkpoint with the key
/// of that moment.
impl KeySource for Arc<KeyRing> {
    fn keys(&self) -> Arc<NodeKeys> {
        KeyRing::keys(self)
    }
}

fn read_card(dir: &Path) -> Result<DepartmentCard, VaultError> {
    let bytes = std::fs::read(dir.join(super::node::CARD))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| VaultError::Integrity(format!("{} is malformed", super::node::CARD)))
}

/// The keys whose signing key is the card's, and that hold the identity
/// of the card's recipient.
fn load_keys(
    dir: &Path,
    card: &DepartmentCard,
    passphrase: impl FnOnce() -> Option<Passphrase>,
) -> Result<NodeKeys, VaultError> {
    let keys = NodeKeys::load_for(&KeyFiles::new(dir), passphrase, Some(&card.ssh_public_key))
        .map_err(|e| match e {
            crate::crypto::KeyError::Malformed(f) if f == KeyFiles::SSH_KEY => mismatch(),
            e => e.into(),
        })?;
    let holds_recipient = keys
        .recipients()
        .iter()
        .any(|r| r.to_string() == card.age_recipient);
    if keys.ssh_public_key() != card.ssh_public_key || !holds_recipient {
        return Err(mismatch());
    }
    Ok(keys)
}

fn mismatch() -> VaultError {
    VaultError::Integrity(format!(
        "the node's keys do not match its {}",
        super::node::CARD
    ))
}

fn stamp(dir: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir.join(super::node::CARD))
        .ok()
        .map(|m| (m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}
