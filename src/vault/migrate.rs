//! Moving a node's blobs to another store (`file://` to `s3://`, one bucket
//! to another): copy every document's blob, decrypt the copy at the
//! destination and check its size and SHA-256, journal it, then switch the
//! node's `blob_store` setting.
//!
//! The copy runs while other processes use the node (a running server goes
//! on reading from the old store). The switch needs the node to itself, so
//! no document is written to the old store after its last copy: the final
//! pass copies what arrived meanwhile, then rewrites `blob_store` in the
//! data directory's settings file. Journaled copies are not copied again,
//! so a stopped migration goes on where it was, and running it again is
//! harmless. The old store is left as it was; removing it is the
//! operator's decision, after `check` on the new one.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::Utc;
use serde::Serialize;

use super::access::Note;
use super::{Vault, VaultError};
use crate::domain::Principal;
use crate::policy::Action;
use crate::store::{BlobKey, BlobStore};

/// The settings file in the data directory that the switch rewrites.
pub const NODE_SETTINGS_FILE: &str = "handover.toml";

/// What a migration did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MigrationReport {
    /// The destination store.
    pub to: String,
    /// Blobs copied and verified by this run.
    pub copied: usize,
    /// Blobs a previous run had already copied and verified.
    pub already_there: usize,
    /// Whether the node now uses the destination.
    pub switched: bool,
}

impl Vault {
    /// Copies every blob to the store at `to` and verifies each copy there;
    /// then, when no other process uses the node, switches to it.
    pub async fn migrate_blobs(
        &self,
        actor: &Principal,
        to: &str,
    ) -> Result<MigrationReport, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::target(blob_target(to)))?;
        let current = self.settings.blob_store.clone();
        let data_dir = self.settings.data_dir.clone();
        let dest = BlobStore::open(
            Some(to),
            &data_dir.join(super::node::BLOBS),
            &super::node::s3_options(&self.settings),
        )?;
        if self.blobs.same_place(&dest) {
            return Err(VaultError::SameBlobStore);
        }
        let mut report = MigrationReport {
            to: to.to_string(),
            ..MigrationReport::default()
        };
        report.already_there = self.copy_missing(&dest, to, &mut report).await?;
        self.record_event(
            actor.label(),
            actor.role_label(),
            "copy_blobs",
            true,
            Some(format!("{} ({} copied)", blob_target(to), report.copied)),
        )?;
        let switched = self
            .exclusively(async {
                // Nothing writes now: copy what arrived during the first pass.
                self.copy_missing(&dest, to, &mut report).await?;
                switch_setting(&data_dir, to)?;
                Ok(())
            })
            .await;
        match switched {
            Ok(()) => {}
            Err(VaultError::Busy(_)) => {
                return Err(VaultError::SwitchNeedsNode {
                    copied: report.copied,
                })
            }
            Err(e) => return Err(e),
        }
        report.switched = true;
        self.record_event(
            actor.label(),
            actor.role_label(),
            "switch_blob_store",
            true,
            Some(format!(
                "{} (was {})",
                blob_target(to),
                current.as_deref().unwrap_or("the data directory")
            )),
        )?;
        tracing::info!(copied = report.copied, "blob store switched");
        Ok(report)
    }

    /// Copies and verifies every document blob not yet journaled for `to`
    /// (counted in `report`); returns how many were already there.
    async fn copy_missing(
        &self,
        dest: &BlobStore,
        to: &str,
        report: &mut MigrationReport,
    ) -> Result<usize, VaultError> {
        let done: BTreeSet<BlobKey> = self.db.migrated_blobs(to)?;
        let mut already = 0;
        for (doc, key) in self.db.all_documents()? {
            if done.contains(&key) && dest.exists(&key).await? {
                already += 1;
                continue;
            }
            self.blobs.copy_to(dest, &key).await?;
            if let Err(e) = self
                .verify_blob_in(dest, &doc, &key, Box::new(std::io::sink()))
                .await
            {
                // A bad copy is not left for the node to find later.
                let _ = dest.delete(&key).await;
                return Err(match e {
                    VaultError::Integrity(_) => VaultError::Integrity(format!(
                        "the copy of document {} at the destination does not match its SHA-256",
                        doc.id
                    )),
                    other => other,
                });
            }
            self.db.mark_migrated(to, &key, Utc::now())?;
            report.copied += 1;
        }
        Ok(already)
    }
}

/// How a store appears in the audit log: its URL (which never holds
/// credentials: `s3://` takes only a bucket).
fn blob_target(url: &str) -> String {
    format!("blob-store:{url}")
}

/// Sets `blob_store` in the data directory's settings file, keeping its
/// other settings (its comments are not kept).
fn switch_setting(data_dir: &Path, to: &str) -> Result<(), VaultError> {
    let file = data_dir.join(NODE_SETTINGS_FILE);
    let mut table: toml::Table = match std::fs::read_to_string(&file) {
        Ok(text) => text.parse().map_err(|_| {
            VaultError::Config(crate::config::ConfigError::new(format!(
                "{} is not valid TOML",
                file.display()
            )))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        Err(e) => return Err(e.into()),
    };
    table.insert("blob_store".into(), toml::Value::String(to.to_string()));
    let text = toml::to_string(&table).map_err(std::io::Error::other)?;
    crate::durable::replace(&file, text.as_bytes())?;
    Ok(())
}
