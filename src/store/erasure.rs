//! Erasing a child's data in the database, in one transaction: the age
//! headers of their documents (the only copies of the file keys on this
//! node) are deleted and, with `secure_delete` on, overwritten in the
//! file; the documents' titles, file names and digests are blanked; the
//! record is replaced; grants end; and the erasure itself is recorded.
//! Ids, kinds, sizes and times stay, as does the audit log.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::columns::Time;
use super::{BlobKey, Db, StoreError};
use crate::domain::{ChildId, DocumentId};

/// What an erasure records (kept in the encrypted database, never in the
/// audit log, which holds only ids).
#[derive(Debug, Clone)]
pub struct Erasure {
    pub child_id: ChildId,
    pub erased_at: DateTime<Utc>,
    pub erased_by: String,
    pub order_no: String,
    pub reason: String,
}

/// An erased document's times: (added, erased).
pub type ErasedDocument = (DateTime<Utc>, DateTime<Utc>);

impl Db {
    /// Erases child `erasure.child_id`, whose record becomes `record`
    /// (JSON, already stripped of personal fields) and its folded name
    /// `name_key`. Returns the blob keys of their documents, whose payloads
    /// the caller then deletes from the blob store.
    pub fn erase_child(
        &self,
        erasure: &Erasure,
        record: &str,
        name_key: &str,
    ) -> Result<Vec<BlobKey>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let keys = {
            let mut stmt = tx.prepare("SELECT blob_key FROM documents WHERE child_id = ?1")?;
            let keys = stmt
                .query_map([erasure.child_id], |r| r.get::<_, String>(0))?
                .map(|k| Ok(BlobKey::from_stored(k?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            keys
        };
        tx.execute(
            "DELETE FROM age_headers WHERE document_id IN
                 (SELECT id FROM documents WHERE child_id = ?1)",
            [erasure.child_id],
        )?;
        tx.execute(
            "DELETE FROM sealed_heads WHERE document_id IN
                 (SELECT id FROM documents WHERE child_id = ?1)",
            [erasure.child_id],
        )?;
        tx.execute(
            "UPDATE documents SET title = NULL, file_name = NULL, sha256 = ?2
             WHERE child_id = ?1",
            params![erasure.child_id, "0".repeat(64)],
        )?;
        tx.execute(
            "UPDATE children SET record = ?2, name_key = ?3, updated_at = ?4 WHERE id = ?1",
            params![erasure.child_id, record, name_key, Time(erasure.erased_at)],
        )?;
        tx.execute(
            "UPDATE grants SET revoked_at = ?2 WHERE child_id = ?1 AND revoked_at IS NULL",
            params![erasure.child_id, Time(erasure.erased_at)],
        )?;
        tx.execute(
            "INSERT INTO erasures (child_id, erased_at, erased_by, order_no, reason)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                erasure.child_id,
                Time(erasure.erased_at),
                erasure.erased_by,
                erasure.order_no,
                erasure.reason
            ],
        )?;
        tx.commit()?;
        Ok(keys)
    }

    /// Erases single documents (a retention rule for some kinds): their
    /// age headers go (overwritten, with `secure_delete`), their titles,
    /// file names and digests are blanked, and each is recorded with the
    /// rule that erased it. Returns their blob keys.
    pub fn erase_documents(
        &self,
        ids: &[DocumentId],
        at: DateTime<Utc>,
        by: &str,
        rule: &str,
    ) -> Result<Vec<BlobKey>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut keys = Vec::with_capacity(ids.len());
        for id in ids {
            let key: Option<String> = tx
                .query_row("SELECT blob_key FROM documents WHERE id = ?1", [id], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(key) = key else { continue };
            keys.push(BlobKey::from_stored(key));
            tx.execute("DELETE FROM age_headers WHERE document_id = ?1", [id])?;
            tx.execute("DELETE FROM sealed_heads WHERE document_id = ?1", [id])?;
            tx.execute(
                "UPDATE documents SET title = NULL, file_name = NULL, sha256 = ?2 WHERE id = ?1",
                params![id, "0".repeat(64)],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO erased_documents (document_id, erased_at, erased_by, rule)
                 VALUES (?1, ?2, ?3, ?4)",
                params![id, Time(at), by, rule],
            )?;
        }
        tx.commit()?;
        Ok(keys)
    }

    /// For every erased document (a whole child's, or one by one): when
    /// it was added and when it was erased (a backup whose snapshot lies between still holds its
    /// key).
    pub fn erased_documents(&self) -> Result<Vec<ErasedDocument>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(
            "SELECT d.added_at, e.erased_at FROM documents d
             JOIN erasures e ON e.child_id = d.child_id
             UNION ALL
             SELECT d.added_at, x.erased_at FROM documents d
             JOIN erased_documents x ON x.document_id = d.id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, Time>(0)?, r.get::<_, Time>(1)?)))?;
        rows.map(|r| {
            let (a, e) = r?;
            Ok((a.0, e.0))
        })
        .collect()
    }
}
