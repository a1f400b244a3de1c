//! Erasing a child (crypto-erasure). A document's file key exists on this
//! node only in its age header, which is kept in the database (migration
//! 15; `crypto::HeaderSplit`), while the blob store, its replicas and the
//! backup sets hold only payloads. Erasing deletes the headers with
//! SQLite's `secure_delete` on, so every copy of every payload becomes
//! unreadable at once: on this node, on S3 replicas, and in backups once
//! the backups taken before the erasure (whose database copies still hold
//! the headers) are pruned. `handover backup list` names those backups.
//! The payloads are deleted from the blob store too, but erasure does not
//! depend on it. The record's personal fields are replaced; ids, the
//! placement (institution and district, not the child's) and the audit
//! trail remain. An erased child is unknown to every later use case.
//!
//! Limit: documents stored before headers moved into the database keep
//! their whole age file in the blob store; erasing deletes those files
//! from the store, but copies elsewhere (backups, replicas) remain
//! readable with the node key until they are gone or the storage key is
//! rotated.

use chrono::Utc;
use serde::Serialize;

use super::access::Note;
use super::{Vault, VaultError};
use crate::domain::{fold_name, CaseRecord, ChildId, Principal};
use crate::policy::Action;
use crate::store::Erasure;

/// The name an erased record carries.
pub const ERASED_NAME: &str = "(erased)";

/// What an erasure did.
#[derive(Debug, Clone, Serialize)]
pub struct Erased {
    pub child_id: ChildId,
    /// Documents whose keys were destroyed.
    pub documents: usize,
    /// Of their payloads, how many were deleted from the blob store now.
    pub payloads_deleted: usize,
}

impl Vault {
    /// Erases child `id` on the order `order` for `reason`: their documents
    /// become unreadable everywhere the keys are gone from, their record
    /// keeps only its placement, their grants end. Audited (the decision
    /// names the child's id; the order and reason stay in the encrypted
    /// database).
    pub async fn erase_child(
        &self,
        actor: &Principal,
        id: ChildId,
        reason: &str,
        order: &str,
    ) -> Result<Erased, VaultError> {
        let (reason, order) = (reason.trim(), order.trim());
        if reason.is_empty() {
            return Err(VaultError::ReasonRequired("an erasure"));
        }
        if order.is_empty() {
            return Err(VaultError::InvalidField {
                field: "order",
                rule: "the number of the order that directs the erasure".into(),
            });
        }
        for (field, text) in [("reason", reason), ("order", order)] {
            crate::domain::text::line_rule(text).map_err(|rule| VaultError::InvalidField {
                field,
                rule: rule.to_string(),
            })?;
        }
        let child = super::heavy::inline(|| {
            self.authorize_child(actor, Action::EraseChild, id, Note::default())
        })?;
        self.erase_now(actor, child, reason, order).await
    }

    /// Erases child `id` under a retention rule (`order` names it): the
    /// caller's right to apply retention was decided already; the erasure
    /// is audited as `retention_erase_child`.
    pub(super) async fn erase_child_as(
        &self,
        actor: &Principal,
        id: ChildId,
        reason: &str,
        order: &str,
    ) -> Result<Erased, VaultError> {
        let child = super::heavy::inline(|| self.db.child(id))?
            .ok_or_else(|| VaultError::UnknownChild(id.to_string()))?;
        self.record_event(
            actor.label(),
            actor.role_label(),
            "retention_erase_child",
            true,
            Some(id.to_string()),
        )?;
        self.erase_now(actor, child, reason, order).await
    }

    async fn erase_now(
        &self,
        actor: &Principal,
        child: crate::domain::Child,
        reason: &str,
        order: &str,
    ) -> Result<Erased, VaultError> {
        let id = child.id;
        let record = CaseRecord {
            name: ERASED_NAME.into(),
            institution: child.record.institution.clone(),
            district: child.record.district.clone(),
            ..CaseRecord::default()
        };
        let json = serde_json::to_string(&record).map_err(std::io::Error::other)?;
        let erasure = Erasure {
            child_id: id,
            erased_at: Utc::now(),
            erased_by: actor.label(),
            order_no: order.into(),
            reason: reason.into(),
        };
        let keys = super::heavy::inline(|| {
            self.db
                .erase_child(&erasure, &json, &fold_name(ERASED_NAME))
        })?;
        let deleted = self.delete_payloads(&keys).await;
        tracing::info!(child = %id, documents = keys.len(), "child erased");
        Ok(Erased {
            child_id: id,
            documents: keys.len(),
            payloads_deleted: deleted,
        })
    }
}

impl Vault {
    /// Deletes erased documents' payloads from the blob store (hygiene:
    /// their keys are gone already); returns how many went.
    pub(super) async fn delete_payloads(&self, keys: &[crate::store::BlobKey]) -> usize {
        let mut deleted = 0;
        for key in keys {
            match self.blobs.delete(key).await {
                Ok(()) => deleted += 1,
                Err(e) => {
                    tracing::warn!(error = %e, "an erased document's payload was not deleted")
                }
            }
        }
        deleted
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::process::Command;

    use super::*;
    use crate::domain::{DocKind, Principal};
    use crate::store::BlobKey;
    use crate::vault::NewDocument;

    fn stock_age(file: &std::path::Path, identity: &std::path::Path) -> std::process::Output {
        Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(identity)
            .arg(file)
            .output()
            .expect("stock age is installed (.ci/run installs it)")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn header_and_payload_open_with_stock_age_and_erasure_leaves_no_key() {
        let (dir, vault) = crate::vault::testing::node().await;
        let op = Principal::LocalOperator;
        let record = CaseRecord {
            name: "Synthetic Erased Child".into(),
            institution: Some("home-1".into()),
            ..CaseRecord::default()
        };
        let child = vault.add_child(&op, record).unwrap();
        let pdf = b"%PDF-1.4\nsynthetic erasure test\n%%EOF\n".to_vec();
        let new = NewDocument {
            kind: DocKind::Fir,
            title: None,
            file_name: None,
            declared_size: None,
        };
        let doc = vault
            .put_document(&op, child, new, Box::new(Cursor::new(pdf.clone())))
            .await
            .unwrap();
        let data = vault.data_dir().to_path_buf();
        let blob = data
            .join("blobs")
            .join(BlobKey::for_document(doc.id).as_str());
        let header = vault.db.age_header(doc.id).unwrap().expect("a header row");
        let payload = std::fs::read(&blob).unwrap();
        assert!(header.starts_with(b"age-encryption.org/v1\n"));
        assert!(!payload.starts_with(b"age-encryption.org"));
        // Stock age opens header + payload, and not the payload alone.
        let identity = data.join("age-identity.txt");
        let joined = dir.path().join("joined.age");
        std::fs::write(&joined, [header, payload.clone()].concat()).unwrap();
        let out = stock_age(&joined, &identity);
        assert!(out.status.success());
        assert_eq!(out.stdout, pdf);
        let alone = dir.path().join("alone.age");
        std::fs::write(&alone, &payload).unwrap();
        assert!(!stock_age(&alone, &identity).status.success());

        let erased = vault
            .erase_child(&op, child, "retention over", "CWC/TEST/1")
            .await
            .unwrap();
        assert_eq!((erased.documents, erased.payloads_deleted), (1, 1));
        assert!(vault.db.age_header(doc.id).unwrap().is_none());
        assert!(!blob.exists());
        // The payload kept elsewhere (as a backup or replica would) no
        // longer opens with anything this node has.
        assert!(!stock_age(&alone, &identity).status.success());
        // Unknown to every use case; a second erasure finds nothing.
        assert!(matches!(
            vault.show_child(&op, child, crate::domain::Purpose::Restoration),
            Err(VaultError::UnknownChild(_))
        ));
        assert!(matches!(
            vault.erase_child(&op, child, "again", "CWC/TEST/1").await,
            Err(VaultError::UnknownChild(_))
        ));
        // Refused without a reason or an order.
        assert!(matches!(
            vault.erase_child(&op, child, " ", "CWC/TEST/1").await,
            Err(VaultError::ReasonRequired(_))
        ));
    }
}
