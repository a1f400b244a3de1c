//! Rows of the `documents` and `pending_blobs` tables. A document row and the
//! removal of its pending-blob row commit together: that commit is the moment
//! a stored blob becomes a document.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};

use super::children::malformed;
use super::columns::Time;
use super::{BlobKey, Db, StoreError};
use crate::domain::{ChildId, Document, DocumentId, MediaType};

/// The documents of an erased child are no longer read, listed, checked
/// or backed up (their keys are gone).
pub(super) const NOT_ERASED: &str =
    "NOT EXISTS (SELECT 1 FROM erasures e WHERE e.child_id = documents.child_id) \
     AND NOT EXISTS (SELECT 1 FROM erased_documents x WHERE x.document_id = documents.id)";
const COLUMNS: &str =
    "id, child_id, kind, title, file_name, media_type, size, sha256, blob_key, added_by, added_at";

impl Db {
    /// Records that a blob is about to be written.
    pub fn begin_blob(&self, key: &BlobKey, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO pending_blobs (blob_key, started_at) VALUES (?1, ?2)",
            params![key.as_str(), Time(at)],
        )?;
        Ok(())
    }

    /// Journals the S3 multipart upload of a pending blob, before its first part.
    pub fn note_multipart(&self, key: &BlobKey, id: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE pending_blobs SET multipart_id = ?2 WHERE blob_key = ?1",
            params![key.as_str(), id],
        )?;
        Ok(())
    }

    /// The S3 multipart uploads of pending blobs.
    pub fn pending_multiparts(&self) -> Result<Vec<(BlobKey, String)>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(
            "SELECT blob_key, multipart_id FROM pending_blobs
             WHERE multipart_id IS NOT NULL ORDER BY blob_key",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        rows.map(|r| {
            let (k, id) = r?;
            Ok((BlobKey::from_stored(k), id))
        })
        .collect()
    }

    /// The journaled multipart upload of one pending blob.
    pub fn pending_multipart(&self, key: &BlobKey) -> Result<Option<String>, StoreError> {
        Ok(self
            .read()
            .query_row(
                "SELECT multipart_id FROM pending_blobs WHERE blob_key = ?1",
                [key.as_str()],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Records that `key` was copied to `destination` and verified there.
    pub fn mark_migrated(
        &self,
        destination: &str,
        key: &BlobKey,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO migrated_blobs (destination, blob_key, verified_at)
             VALUES (?1, ?2, ?3)",
            params![destination, key.as_str(), Time(at)],
        )?;
        Ok(())
    }

    /// The blobs already copied to `destination` and verified there.
    pub fn migrated_blobs(
        &self,
        destination: &str,
    ) -> Result<std::collections::BTreeSet<BlobKey>, StoreError> {
        let conn = self.read();
        let mut stmt =
            conn.prepare("SELECT blob_key FROM migrated_blobs WHERE destination = ?1")?;
        let keys = stmt.query_map([destination], |r| r.get::<_, String>(0))?;
        keys.map(|k| Ok(BlobKey::from_stored(k?))).collect()
    }

    /// Forgets a pending blob (after it was deleted).
    pub fn forget_pending_blob(&self, key: &BlobKey) -> Result<(), StoreError> {
        self.conn().execute(
            "DELETE FROM pending_blobs WHERE blob_key = ?1",
            [key.as_str()],
        )?;
        Ok(())
    }

    /// Blobs whose writing began but never became a document.
    pub fn pending_blobs(&self) -> Result<Vec<BlobKey>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare("SELECT blob_key FROM pending_blobs ORDER BY blob_key")?;
        let keys = stmt.query_map([], |r| r.get::<_, String>(0))?;
        keys.map(|k| Ok(BlobKey::from_stored(k?)))
            .collect::<Result<_, StoreError>>()
    }

    /// Pending blobs whose writing began before `before`.
    pub fn pending_blobs_before(&self, before: DateTime<Utc>) -> Result<Vec<BlobKey>, StoreError> {
        let conn = self.read();
        let mut stmt =
            conn.prepare("SELECT blob_key, started_at FROM pending_blobs ORDER BY blob_key")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Time>(1)?)))?;
        let mut old = Vec::new();
        for row in rows {
            let (key, at) = row?;
            if at.0 < before {
                old.push(BlobKey::from_stored(key));
            }
        }
        Ok(old)
    }

    /// Makes a written blob a document: inserts the row, with the head of
    /// the file this node sealed (length, SHA-256), and clears the pending
    /// mark in one transaction.
    pub fn commit_document(
        &self,
        doc: &Document,
        key: &BlobKey,
        sealed_head: (u64, [u8; 32]),
        age_header: &AgeHeader,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        insert_document(&tx, doc, key)?;
        insert_sealed_head(&tx, doc.id, sealed_head)?;
        insert_age_header(&tx, doc.id, age_header)?;
        tx.commit()?;
        Ok(())
    }

    /// The recorded head (length, SHA-256) of a document's stored file, if
    /// this node sealed it since heads are recorded.
    pub fn sealed_head(&self, id: DocumentId) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        let row: Option<(i64, String)> = self
            .read()
            .query_row(
                "SELECT length, sha256 FROM sealed_heads WHERE document_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(len, sha)| {
            let mut digest = [0u8; 32];
            hex::decode_to_slice(&sha, &mut digest)
                .map_err(|_| malformed("sealed_heads.sha256"))?;
            let len = u64::try_from(len).map_err(|_| malformed("sealed_heads.length"))?;
            Ok((len, digest))
        })
        .transpose()
    }

    /// One document and its blob key.
    pub fn document(&self, id: DocumentId) -> Result<Option<(Document, BlobKey)>, StoreError> {
        self.read()
            .query_row(
                &format!("SELECT {COLUMNS} FROM documents WHERE id = ?1 AND {NOT_ERASED}"),
                [id],
                row_to_document,
            )
            .optional()?
            .transpose()
    }

    /// A child's documents, oldest first.
    pub fn documents_of(&self, child: ChildId) -> Result<Vec<Document>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM documents WHERE child_id = ?1 AND {NOT_ERASED} ORDER BY added_at, id"
        ))?;
        let rows = stmt.query_map([child], row_to_document)?;
        rows.map(|r| r?.map(|(d, _)| d)).collect()
    }

    /// Every document with its blob key.
    pub fn all_documents(&self) -> Result<Vec<(Document, BlobKey)>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM documents WHERE {NOT_ERASED} ORDER BY id"
        ))?;
        let rows = stmt.query_map([], row_to_document)?;
        rows.map(|r| r?).collect()
    }
}

/// Records the head (length, SHA-256) of a document's stored file.
pub(super) fn insert_sealed_head(
    tx: &rusqlite::Transaction<'_>,
    id: DocumentId,
    sealed_head: (u64, [u8; 32]),
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sealed_heads (document_id, length, sha256) VALUES (?1, ?2, ?3)",
        params![id, sealed_head.0 as i64, hex::encode(sealed_head.1)],
    )?;
    Ok(())
}

/// A document's age header and the recipient it wraps the file key to.
#[derive(Debug, Clone)]
pub struct AgeHeader {
    pub bytes: Vec<u8>,
    /// The `age1…` recipient.
    pub recipient: String,
}

/// Keeps a document's age header (the wrapped file key) in its row,
/// unless its recipient's identity was retired by a storage rotation.
pub(super) fn insert_age_header(
    tx: &rusqlite::Transaction<'_>,
    id: DocumentId,
    header: &AgeHeader,
) -> Result<(), StoreError> {
    let inserted = tx.execute(
        "INSERT INTO age_headers (document_id, header, recipient)
         SELECT ?1, ?2, ?3
         WHERE NOT EXISTS (SELECT 1 FROM retired_recipients WHERE recipient = ?3)",
        params![id, header.bytes, header.recipient],
    )?;
    if inserted != 1 {
        return Err(StoreError::RetiredRecipient);
    }
    Ok(())
}

impl Db {
    /// A document's age header, if it is kept here (documents stored
    /// before headers moved here have none: their blob is a whole age file).
    pub fn age_header(&self, id: DocumentId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .read()
            .query_row(
                "SELECT header FROM age_headers WHERE document_id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?)
    }
}

pub(super) fn insert_document(
    tx: &rusqlite::Transaction<'_>,
    doc: &Document,
    key: &BlobKey,
) -> Result<(), StoreError> {
    tx.execute(
        &format!("INSERT INTO documents ({COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"),
        params![
            doc.id,
            doc.child_id,
            doc.kind.as_str(),
            doc.title,
            doc.file_name,
            doc.media_type.as_str(),
            doc.size as i64,
            doc.sha256,
            key.as_str(),
            doc.added_by,
            Time(doc.added_at),
        ],
    )?;
    tx.execute(
        "DELETE FROM pending_blobs WHERE blob_key = ?1",
        [key.as_str()],
    )?;
    Ok(())
}

fn row_to_document(row: &Row<'_>) -> rusqlite::Result<Result<(Document, BlobKey), StoreError>> {
    let id = row.get(0)?;
    let child_id = row.get(1)?;
    let kind = row.get(2)?;
    let title: Option<String> = row.get(3)?;
    let file_name: Option<String> = row.get(4)?;
    let media_type: String = row.get(5)?;
    let size: i64 = row.get(6)?;
    let sha256: String = row.get(7)?;
    let blob_key: String = row.get(8)?;
    let added_by: String = row.get(9)?;
    let added_at: Time = row.get(10)?;
    Ok((|| {
        let doc = Document {
            id,
            child_id,
            kind,
            title,
            file_name,
            media_type: MediaType::from_mime(&media_type).ok_or_else(|| malformed("media type"))?,
            size: u64::try_from(size).map_err(|_| malformed("size"))?,
            sha256,
            added_by,
            added_at: added_at.0,
        };
        Ok((doc, BlobKey::from_stored(blob_key)))
    })())
}
