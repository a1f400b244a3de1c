//! A node's data directory: setting it up (`init`) and opening it. The
//! directory is 0700 and holds the key files, `card.json` (public), the
//! encrypted `meta.db`, `blobs/` (the default blob store) and `lock`.
//!
//! Every process holds a shared lock on `lock` while it uses the node;
//! clearing leftovers of interrupted uploads needs the exclusive lock, so it
//! never races an upload in progress.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use super::keyring::KeyRing;
use super::{Checklists, VaultError};
use crate::audit::AuditLog;
use crate::config::Settings;
use crate::crypto::{KeyFiles, NodeKeys, Passphrase};
use crate::domain::DepartmentCard;
use crate::policy::Policies;
use crate::store::{BlobStore, Db};

pub(super) const CARD: &str = "card.json";
const DATABASE: &str = "meta.db";
const LOCK: &str = "lock";
pub(super) const BLOBS: &str = "blobs";

/// What `init` needs to know.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub department_id: String,
    pub department_name: String,
    pub inbox_url: Option<String>,
    pub passphrase: Option<Passphrase>,
    /// Adopt the (unprotected) key files in this directory instead of
    /// generating new ones: for restoring a node, or the demo departments.
    pub keys_from: Option<std::path::PathBuf>,
}

/// An open node.
pub struct Vault {
    pub(super) settings: Settings,
    /// The keys and the card, reloaded when a rotation changes them.
    pub(super) ring: Arc<KeyRing>,
    pub(super) db: Db,
    pub(super) blobs: BlobStore,
    pub(super) checklists: Checklists,
    pub(super) districts: super::districts::Districts,
    pub(super) policies: Policies,
    pub(super) audit: AuditLog,
    /// Failed logins, per name and client.
    pub(super) logins: super::throttle::LoginThrottle,
    /// Bundles being received into the inbox.
    pub(super) staging: super::staging::Staging,
    /// Resumable uploads being appended to or completed.
    pub(super) active_uploads: super::uploads::ActiveUploads,
    /// What "now" is for tokens, sessions and grants.
    pub(super) clock: super::clock::VaultClock,
    /// Wakes whoever pushes the outbox when something was queued.
    pub(super) outbox: tokio::sync::Notify,
    /// One catch-up of the access-history index at a time.
    pub(super) audit_index_turn: super::history::IndexTurn,
    lock: File,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("department", &self.card().id)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Creates a new node in `settings.data_dir`. Refuses any directory that
    /// already holds node files.
    pub fn init(settings: Settings, opts: InitOptions) -> Result<DepartmentCard, VaultError> {
        validate_department_id(&opts.department_id)?;
        if opts.department_name.trim().is_empty() {
            return Err(VaultError::EmptyDepartmentName);
        }
        let dir = settings.data_dir.clone();
        let files = KeyFiles::new(&dir);
        if dir.join(CARD).exists() || dir.join(DATABASE).exists() || files.any_exist() {
            return Err(VaultError::AlreadyInitialised(dir));
        }
        fs::create_dir_all(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        let lock = open_lock(&dir)?;
        lock.try_lock().map_err(|_| VaultError::Busy("init"))?;

        let keys = match &opts.keys_from {
            None => NodeKeys::generate(&opts.department_id)?,
            Some(from) => NodeKeys::load(&KeyFiles::new(from), || None)?,
        };
        keys.write(&files, opts.passphrase.as_ref())?;
        let db = Db::open(&dir.join(DATABASE), keys.database_key(), true)?;
        db.set_node_value("department_id", &opts.department_id)?;
        db.set_node_value("department_name", &opts.department_name)?;
        let card = DepartmentCard {
            id: opts.department_id,
            name: opts.department_name,
            age_recipient: keys.recipient().to_string(),
            ssh_public_key: keys.ssh_public_key(),
            inbox_url: opts.inbox_url,
            previous_keys: Vec::new(),
            key_statements: Vec::new(),
        };
        // The card is written last: its presence marks a complete node.
        write_card(&dir, &card)?;
        Ok(card)
    }

    /// Opens the node in `settings.data_dir`. `passphrase` is asked for only
    /// when the identity is protected. With `clean_up`, leftovers of
    /// interrupted uploads are removed when no other process uses the node.
    pub async fn open(
        settings: Settings,
        passphrase: impl FnOnce() -> Option<Passphrase>,
        clean_up: bool,
    ) -> Result<Vault, VaultError> {
        let dir = settings.data_dir.clone();
        let card_path = dir.join(CARD);
        if !card_path.is_file() || !dir.join(DATABASE).is_file() {
            return Err(VaultError::NotANode(dir));
        }
        let ring = Arc::new(KeyRing::load(&dir, passphrase)?);
        let card = ring.card();
        let keys = ring.keys();
        let db = Db::open(&dir.join(DATABASE), keys.database_key(), false)?;
        let blobs = BlobStore::open(
            settings.blob_store.as_deref(),
            &dir.join(BLOBS),
            &s3_options(&settings),
        )?;
        let checklists = Checklists::load(settings.policies_dir.as_deref())?;
        let districts = super::districts::Districts::load(settings.policies_dir.as_deref())?;
        let policies = Policies::load(settings.policies_dir.as_deref(), &card.id)?;
        let lock = open_lock(&dir)?;
        let audit = AuditLog::open(
            &dir,
            ring.clone(),
            &card.id,
            settings.audit_checkpoint_every,
        )?;
        let settings_login_attempts = settings.login_attempts;
        let vault = Vault {
            settings,
            ring,
            db,
            blobs,
            checklists,
            districts,
            policies,
            audit,
            logins: super::throttle::LoginThrottle::new(settings_login_attempts),
            staging: Default::default(),
            active_uploads: Default::default(),
            clock: Default::default(),
            outbox: tokio::sync::Notify::new(),
            audit_index_turn: Default::default(),
            lock,
        };
        // The access history's index reaches the end of the log (built
        // from the whole log the first time, or when it was lost). It is
        // derived data: a node whose log cannot be indexed still opens,
        // and a history read then fails with the reason.
        if let Err(e) = vault.catch_up_audit_index() {
            tracing::warn!(error = %e, "the access-history index cannot be caught up");
        }
        if clean_up && vault.lock.try_lock().is_ok() {
            let cleared = vault.clear_interrupted_uploads().await;
            vault.lock.unlock()?;
            cleared?;
        }
        vault.lock.lock_shared()?;
        Ok(vault)
    }

    /// True when `data_dir` holds a node (its card is written last by `init`).
    pub fn exists(data_dir: &Path) -> bool {
        data_dir.join(CARD).exists()
    }

    /// This node's public card, as it is now (a key rotation changes it).
    pub fn card(&self) -> Arc<DepartmentCard> {
        self.ring.card()
    }

    /// The node's keys, as they are now.
    pub(super) fn keys(&self) -> Arc<NodeKeys> {
        self.ring.keys()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.settings.data_dir
    }

    /// Runs `f` holding the node's lock exclusively (no other process uses the node).
    pub(super) async fn exclusively<T, F>(&self, f: F) -> Result<T, VaultError>
    where
        F: std::future::Future<Output = Result<T, VaultError>>,
    {
        self.lock.unlock()?;
        if self.lock.try_lock().is_err() {
            self.lock.lock_shared()?;
            return Err(VaultError::Busy("in use by another process"));
        }
        let result = f.await;
        self.lock.unlock()?;
        self.lock.lock_shared()?;
        result
    }
}

/// Replaces `DIR/card.json` (written aside, synced, renamed).
pub(super) fn write_card(dir: &Path, card: &DepartmentCard) -> Result<(), VaultError> {
    let json = serde_json::to_vec_pretty(card).map_err(std::io::Error::other)?;
    crate::durable::replace(&dir.join(CARD), &json)?;
    Ok(())
}

/// How to reach the S3 store, if `blob_store` names one.
pub(super) fn s3_options(settings: &Settings) -> crate::store::S3Options {
    crate::store::S3Options {
        endpoint: settings.s3_endpoint.clone(),
        region: settings.s3_region.clone(),
        path_style: settings.s3_path_style,
        credentials_file: settings.s3_credentials_file.clone(),
        allow_http: settings.s3_allow_http,
    }
}

fn open_lock(dir: &Path) -> Result<File, VaultError> {
    Ok(OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(dir.join(LOCK))?)
}

/// Department ids are short, lower-case and safe in file names and URLs.
pub(super) fn validate_department_id(id: &str) -> Result<(), VaultError> {
    let ok = (2..=63).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(VaultError::InvalidDepartmentId(
            crate::domain::text::outside_id(id),
        ))
    }
}

impl Vault {
    /// Ready to serve: the database answers.
    pub fn ready(&self) -> Result<(), VaultError> {
        self.db.node_value("department_id")?;
        Ok(())
    }
}
