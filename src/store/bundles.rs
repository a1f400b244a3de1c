//! Rows of the `sent_bundles` table (what this node handed over, and the
//! answers that came back), the `imported_bundles` table (what it
//! received; an import commits child, documents and this row together) and
//! the `refused_bundles` table (what it would not take, with its signed
//! refusal).

use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, OptionalExtension};

use super::children::{child_params, malformed};
use super::columns::Time;
use super::documents::insert_document;
use super::{BlobKey, Db, StoreError};
use crate::domain::{AnswerOutcome, Child, ChildId, Document, DocumentId};

/// A bundle this node made.
#[derive(Debug, Clone)]
pub struct SentBundle {
    pub bundle_id: String,
    pub child_id: ChildId,
    pub destination: String,
    pub envelope_sha256: String,
    /// Each document as it went into the bundle, in order.
    pub documents: Vec<SentDocument>,
    pub created_at: DateTime<Utc>,
    /// The verified answer that came back, if any.
    pub answer: Option<SentAnswer>,
}

/// One document of a sent bundle: the reference a receipt is checked against.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SentDocument {
    /// Its entry, `documents/NNNN.age`.
    pub path: String,
    pub document_id: DocumentId,
    /// Plaintext size and SHA-256.
    pub size: u64,
    pub sha256: String,
}

/// The answer recorded for a sent bundle.
#[derive(Debug, Clone)]
pub struct SentAnswer {
    pub outcome: AnswerOutcome,
    /// The answer file as it came.
    pub file: String,
    pub at: DateTime<Utc>,
}

/// A bundle this node refused, with the refusal it signed.
#[derive(Debug, Clone)]
pub struct RefusedBundle {
    pub bundle_id: String,
    pub source: String,
    pub envelope_sha256: String,
    /// The refusal file's bytes.
    pub refusal: String,
    pub refused_at: DateTime<Utc>,
}

/// A stored element of `sent_bundles.documents`: bundles recorded before
/// schema 8 kept only the path and the document id.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StoredDocument {
    Full(SentDocument),
    Legacy(String, DocumentId),
}

/// A bundle this node imported, with the receipt it signed.
#[derive(Debug, Clone)]
pub struct ImportedBundle {
    pub bundle_id: String,
    pub child_id: ChildId,
    pub source: String,
    pub envelope_sha256: String,
    /// The receipt file's bytes.
    pub receipt: String,
    pub imported_at: DateTime<Utc>,
}

impl Db {
    /// Records a bundle this node wrote.
    pub fn record_sent_bundle(&self, b: &SentBundle) -> Result<(), StoreError> {
        let documents = serde_json::to_string(&b.documents)
            .map_err(|e| StoreError::Malformed(e.to_string()))?;
        self.conn().execute(
            "INSERT INTO sent_bundles (bundle_id, child_id, destination, envelope_sha256, documents, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                b.bundle_id,
                b.child_id,
                b.destination,
                b.envelope_sha256,
                documents,
                Time(b.created_at)
            ],
        )?;
        Ok(())
    }

    /// A bundle this node sent.
    pub fn sent_bundle(&self, bundle_id: &str) -> Result<Option<SentBundle>, StoreError> {
        let row = self
            .read()
            .query_row(
                "SELECT bundle_id, child_id, destination, envelope_sha256, documents, created_at,
                        delivered_at, receipt, answer
                 FROM sent_bundles WHERE bundle_id = ?1",
                [bundle_id],
                |r| {
                    Ok((
                        (
                            r.get::<_, String>(0)?,
                            r.get::<_, ChildId>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                        ),
                        r.get::<_, String>(4)?,
                        r.get::<_, Time>(5)?,
                        (
                            r.get::<_, Option<Time>>(6)?,
                            r.get::<_, Option<String>>(7)?,
                            r.get::<_, Option<String>>(8)?,
                        ),
                    ))
                },
            )
            .optional()?;
        let Some(((bundle_id, child, destination, envelope_sha256), docs, created, answer)) = row
        else {
            return Ok(None);
        };
        let stored: Vec<StoredDocument> =
            serde_json::from_str(&docs).map_err(|_| malformed("documents"))?;
        let documents = stored
            .into_iter()
            .map(|d| match d {
                StoredDocument::Full(d) => Ok(d),
                StoredDocument::Legacy(path, document_id) => {
                    let (doc, _) = self
                        .document(document_id)?
                        .ok_or_else(|| malformed("a sent document"))?;
                    Ok(SentDocument {
                        path,
                        document_id,
                        size: doc.size,
                        sha256: doc.sha256,
                    })
                }
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let answer = match answer {
            (Some(at), Some(file), kind) => Some(SentAnswer {
                // Rows answered before schema 8 were all receipts.
                outcome: kind
                    .as_deref()
                    .map_or(Some(AnswerOutcome::Delivered), AnswerOutcome::parse)
                    .ok_or_else(|| malformed("answer"))?,
                file,
                at: at.0,
            }),
            _ => None,
        };
        Ok(Some(SentBundle {
            bundle_id,
            child_id: child,
            destination,
            envelope_sha256,
            documents,
            created_at: created.0,
            answer,
        }))
    }

    /// Records the verified answer to a sent bundle, unless one is recorded
    /// already: false says so.
    pub fn record_answer(&self, bundle_id: &str, answer: &SentAnswer) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE sent_bundles SET delivered_at = ?2, receipt = ?3, answer = ?4
             WHERE bundle_id = ?1 AND answer IS NULL AND delivered_at IS NULL",
            params![
                bundle_id,
                Time(answer.at),
                answer.file,
                answer.outcome.as_str()
            ],
        )?;
        Ok(changed == 1)
    }

    /// Records a refusal this node signed, unless the bundle has one: false says so.
    pub fn record_refusal(&self, r: &RefusedBundle) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "INSERT OR IGNORE INTO refused_bundles (bundle_id, source, envelope_sha256, refusal, refused_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                r.bundle_id,
                r.source,
                r.envelope_sha256,
                r.refusal,
                Time(r.refused_at)
            ],
        )?;
        Ok(changed == 1)
    }

    /// The refusal this node signed for a bundle, if any.
    pub fn refused_bundle(&self, bundle_id: &str) -> Result<Option<RefusedBundle>, StoreError> {
        let row = self
            .read()
            .query_row(
                "SELECT bundle_id, source, envelope_sha256, refusal, refused_at
                 FROM refused_bundles WHERE bundle_id = ?1",
                [bundle_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Time>(4)?,
                    ))
                },
            )
            .optional()?;
        Ok(row.map(
            |(bundle_id, source, envelope_sha256, refusal, at)| RefusedBundle {
                bundle_id,
                source,
                envelope_sha256,
                refusal,
                refused_at: at.0,
            },
        ))
    }

    /// A bundle imported before, if any.
    pub fn imported_bundle(&self, bundle_id: &str) -> Result<Option<ImportedBundle>, StoreError> {
        let row = self
            .read()
            .query_row(
                "SELECT bundle_id, child_id, source, envelope_sha256, receipt, imported_at
                 FROM imported_bundles WHERE bundle_id = ?1",
                [bundle_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, ChildId>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Time>(5)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(bundle_id, child, source, envelope_sha256, receipt, at)| {
            Ok(ImportedBundle {
                bundle_id,
                child_id: child,
                source,
                envelope_sha256,
                receipt,
                imported_at: at.0,
            })
        })
        .transpose()
    }

    /// Commits an import in one transaction: the child, its documents (their
    /// blobs already written and synced, each with its age header) and the
    /// imported-bundle row.
    pub fn commit_import(
        &self,
        child: &Child,
        documents: &[(Document, BlobKey, super::documents::AgeHeader)],
        imported: &ImportedBundle,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO children (id, record, created_at, created_by, updated_at, origin, name_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params_from_iter(child_params(child)?),
        )?;
        for (doc, key, age_header) in documents {
            insert_document(&tx, doc, key)?;
            super::documents::insert_age_header(&tx, doc.id, age_header)?;
        }
        tx.execute(
            "INSERT INTO imported_bundles (bundle_id, child_id, source, envelope_sha256, receipt, imported_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                imported.bundle_id,
                imported.child_id,
                imported.source,
                imported.envelope_sha256,
                imported.receipt,
                Time(imported.imported_at)
            ],
        )?;
        tx.commit()?;
        Ok(())
    }
}
