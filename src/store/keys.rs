//! Rows of key rotation: which recipient each document's age header is
//! wrapped to and rewrapping it, the recipients a storage rotation retired,
//! and the signing keys of other departments that this node revoked.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::columns::Time;
use super::{Db, StoreError};
use crate::domain::DocumentId;

/// A document's age header awaiting a rewrap.
#[derive(Debug, Clone)]
pub struct HeaderRow {
    pub document_id: DocumentId,
    pub header: Vec<u8>,
}

/// A header read for a rewrap, its rewrapped form, and the document's new
/// sealed head (length and SHA-256), if its head is recorded.
pub type Rewrapped = (HeaderRow, Vec<u8>, Option<(u64, [u8; 32])>);

/// A signing key of another department that this node revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedKey {
    pub department: String,
    /// `SHA256:…` of the SSH key.
    pub fingerprint: String,
    pub revoked_at: DateTime<Utc>,
    pub reason: String,
}

/// Headers not wrapped to `current`.
const NOT_TO_CURRENT: &str = "(recipient IS NULL OR recipient <> ?1)";

impl Db {
    /// Up to `limit` headers not wrapped to `current`, in id order after `after`.
    pub fn headers_to_rewrap(
        &self,
        current: &str,
        after: Option<DocumentId>,
        limit: usize,
    ) -> Result<Vec<HeaderRow>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!(
            "SELECT document_id, header FROM age_headers
             WHERE {NOT_TO_CURRENT} AND document_id > ?2 ORDER BY document_id LIMIT ?3"
        ))?;
        let after = after.map(|a| a.to_string()).unwrap_or_default();
        let rows = stmt.query_map(params![current, after, limit as i64], |r| {
            Ok(HeaderRow {
                document_id: r.get(0)?,
                header: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many headers are not wrapped to `current`.
    pub fn headers_not_to(&self, current: &str) -> Result<u64, StoreError> {
        let n: i64 = self.read().query_row(
            &format!("SELECT count(*) FROM age_headers WHERE {NOT_TO_CURRENT}"),
            [current],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// How many live documents keep a whole age file in the blob store
    /// (stored before headers moved into the database): a storage
    /// rotation cannot rewrap them.
    pub fn documents_without_header(&self) -> Result<u64, StoreError> {
        let n: i64 = self.read().query_row(
            &format!(
                "SELECT count(*) FROM documents WHERE {}
                 AND NOT EXISTS (SELECT 1 FROM age_headers h WHERE h.document_id = documents.id)",
                super::documents::NOT_ERASED
            ),
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Replaces headers by their rewrapped form (wrapped to `recipient`),
    /// each only if it is still the header that was read (an erasure in
    /// between wins), with the document's new sealed head. One
    /// transaction; returns how many were replaced.
    pub fn rewrap_headers(
        &self,
        rewrapped: &[Rewrapped],
        recipient: &str,
    ) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut done = 0;
        for (old, header, head) in rewrapped {
            let n = tx.execute(
                "UPDATE age_headers SET header = ?2, recipient = ?3
                 WHERE document_id = ?1 AND header = ?4",
                params![old.document_id, header, recipient, old.header],
            )?;
            if n == 1 {
                if let Some((len, sha256)) = head {
                    tx.execute(
                        "UPDATE sealed_heads SET length = ?2, sha256 = ?3 WHERE document_id = ?1",
                        params![old.document_id, *len as i64, hex::encode(sha256)],
                    )?;
                }
            }
            done += n;
        }
        tx.commit()?;
        Ok(done)
    }

    /// Retires `old` recipients once no header is wrapped to anything but
    /// `current`, in one transaction, so no document sealed to them can
    /// commit afterwards. Returns false (and retires nothing) while some
    /// header still is.
    pub fn retire_recipients(
        &self,
        current: &str,
        old: &[String],
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let left: i64 = tx.query_row(
            &format!("SELECT count(*) FROM age_headers WHERE {NOT_TO_CURRENT}"),
            [current],
            |r| r.get(0),
        )?;
        if left > 0 {
            return Ok(false);
        }
        for r in old {
            tx.execute(
                "INSERT OR IGNORE INTO retired_recipients (recipient, retired_at) VALUES (?1, ?2)",
                params![r, Time(at)],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// Records that `department`'s key `fingerprint` is revoked from `at`.
    /// An earlier revocation of the same key stands.
    pub fn revoke_key(&self, key: &RevokedKey) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR IGNORE INTO revoked_keys (department, fingerprint, revoked_at, reason)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                key.department,
                key.fingerprint,
                Time(key.revoked_at),
                key.reason
            ],
        )?;
        Ok(())
    }

    /// The revocation of `department`'s key `fingerprint`, if it is revoked.
    pub fn revoked_key(
        &self,
        department: &str,
        fingerprint: &str,
    ) -> Result<Option<RevokedKey>, StoreError> {
        Ok(self
            .read()
            .query_row(
                "SELECT revoked_at, reason FROM revoked_keys
                 WHERE department = ?1 AND fingerprint = ?2",
                params![department, fingerprint],
                |r| {
                    Ok(RevokedKey {
                        department: department.to_string(),
                        fingerprint: fingerprint.to_string(),
                        revoked_at: r.get::<_, Time>(0)?.0,
                        reason: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Every revoked key of `department`, or of every department.
    pub fn revoked_keys(&self, department: Option<&str>) -> Result<Vec<RevokedKey>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(
            "SELECT department, fingerprint, revoked_at, reason FROM revoked_keys
             WHERE ?1 IS NULL OR department = ?1 ORDER BY department, revoked_at",
        )?;
        let rows = stmt.query_map([department], |r| {
            Ok(RevokedKey {
                department: r.get(0)?,
                fingerprint: r.get(1)?,
                revoked_at: r.get::<_, Time>(2)?.0,
                reason: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
