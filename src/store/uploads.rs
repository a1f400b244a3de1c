//! Rows of resumable uploads and of their encrypted segments (the segment
//! files themselves are the vault's, under `uploads/` in the data
//! directory). A segment's row commits after its file is synced, and moves
//! the upload's offset in the same transaction.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};

use super::columns::Time;
use super::{BlobKey, Db, StoreError};
use crate::domain::{Document, Upload, UploadId};

/// One received segment: where it starts, how long its plaintext is, and
/// the plaintext's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub start: u64,
    pub length: u64,
    pub sha256: [u8; 32],
}

const COLUMNS: &str =
    "id, owner, child_id, kind, title, length, received, created_at, expires_at, document_id";

fn upload_row(r: &Row<'_>) -> rusqlite::Result<Upload> {
    Ok(Upload {
        id: r.get(0)?,
        owner: r.get(1)?,
        child_id: r.get(2)?,
        kind: r.get(3)?,
        title: r.get(4)?,
        length: r.get::<_, i64>(5)? as u64,
        offset: r.get::<_, i64>(6)? as u64,
        created_at: r.get::<_, Time>(7)?.0,
        expires_at: r.get::<_, Time>(8)?.0,
        document: r.get(9)?,
    })
}

impl Db {
    pub fn insert_upload(&self, u: &Upload) -> Result<(), StoreError> {
        self.conn().execute(
            &format!(
                "INSERT INTO uploads ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ),
            params![
                u.id,
                u.owner,
                u.child_id,
                u.kind,
                u.title,
                u.length as i64,
                u.offset as i64,
                Time(u.created_at),
                Time(u.expires_at),
                u.document,
            ],
        )?;
        Ok(())
    }

    pub fn upload(&self, id: UploadId) -> Result<Option<Upload>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM uploads WHERE id = ?1"),
                [id],
                upload_row,
            )
            .optional()?)
    }

    /// Every upload row (staged and completed), oldest first.
    pub fn uploads(&self) -> Result<Vec<Upload>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM uploads ORDER BY created_at, id"
        ))?;
        let rows = stmt.query_map([], upload_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many uploads `owner` has staged (not completed), and the bytes
    /// they will hold.
    pub fn staged_by(&self, owner: &str) -> Result<(u64, u64), StoreError> {
        let (n, bytes): (i64, i64) = self.conn().query_row(
            "SELECT COUNT(*), COALESCE(SUM(length), 0) FROM uploads
             WHERE owner = ?1 AND document_id IS NULL",
            [owner],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((n as u64, bytes as u64))
    }

    /// Records a synced segment and moves the offset past it, if the
    /// upload is still staged at `segment.start`; `false` if it is not
    /// (it was terminated or completed meanwhile).
    /// A segment sealed to a recipient that a storage rotation retired is
    /// refused ([`StoreError::RetiredRecipient`]).
    pub fn add_segment(
        &self,
        id: UploadId,
        segment: &Segment,
        recipient: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let retired: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM retired_recipients WHERE recipient = ?1)",
            [recipient],
            |r| r.get(0),
        )?;
        if retired {
            return Err(StoreError::RetiredRecipient);
        }
        let moved = tx.execute(
            "UPDATE uploads SET received = received + ?3
             WHERE id = ?1 AND received = ?2 AND document_id IS NULL
               AND received + ?3 <= length",
            params![id, segment.start as i64, segment.length as i64],
        )?;
        if moved != 1 {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO upload_segments (upload_id, start, length, sha256)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                id,
                segment.start as i64,
                segment.length as i64,
                hex::encode(segment.sha256)
            ],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// An upload's segments, in order.
    pub fn segments(&self, id: UploadId) -> Result<Vec<Segment>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT start, length, sha256 FROM upload_segments
             WHERE upload_id = ?1 ORDER BY start",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (start, length, sha) = row?;
            let mut sha256 = [0u8; 32];
            hex::decode_to_slice(&sha, &mut sha256)
                .map_err(|_| StoreError::Malformed("segment digest".into()))?;
            out.push(Segment {
                start: start as u64,
                length: length as u64,
                sha256,
            });
        }
        Ok(out)
    }

    /// Removes an upload and its segment rows; `false` if there was none.
    pub fn delete_upload(&self, id: UploadId) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM upload_segments WHERE upload_id = ?1", [id])?;
        let n = tx.execute("DELETE FROM uploads WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(n == 1)
    }

    /// Uploads that expired at or before `now` (staged or completed).
    pub fn expired_uploads(&self, now: DateTime<Utc>) -> Result<Vec<UploadId>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id FROM uploads WHERE expires_at <= ?1")?;
        let rows = stmt.query_map([Time(now)], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Commits a document that an upload became, and marks the upload
    /// completed (its segment rows gone), in one transaction: the document
    /// exists exactly when its upload says so.
    pub fn commit_uploaded_document(
        &self,
        upload: UploadId,
        doc: &Document,
        key: &BlobKey,
        sealed_head: (u64, [u8; 32]),
        age_header: &super::documents::AgeHeader,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let marked = tx.execute(
            "UPDATE uploads SET document_id = ?2
             WHERE id = ?1 AND document_id IS NULL AND received = length",
            params![upload, doc.id],
        )?;
        if marked != 1 {
            return Ok(false);
        }
        tx.execute("DELETE FROM upload_segments WHERE upload_id = ?1", [upload])?;
        super::documents::insert_document(&tx, doc, key)?;
        super::documents::insert_sealed_head(&tx, doc.id, sealed_head)?;
        super::documents::insert_age_header(&tx, doc.id, age_header)?;
        tx.commit()?;
        Ok(true)
    }
}
