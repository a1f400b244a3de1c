//! Rows of the `sent_bundles` table (what this node handed over, and the
//! receipts that came back) and the `imported_bundles` table (what it
//! received; an import commits child, documents and this row together).

use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, OptionalExtension};

use super::children::{child_params, malformed, parse_time};
use super::documents::insert_document;
use super::{BlobKey, Db, StoreError};
use crate::domain::{Child, ChildId, Document, DocumentId};

/// A bundle this node made.
#[derive(Debug, Clone)]
pub struct SentBundle {
    pub bundle_id: String,
    pub child_id: ChildId,
    pub destination: String,
    pub envelope_sha256: String,
    /// Entry path and source document id of each document, in order.
    pub documents: Vec<(String, DocumentId)>,
    pub created_at: DateTime<Utc>,
    /// When a verified receipt came back.
    pub delivered_at: Option<DateTime<Utc>>,
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
                b.child_id.to_string(),
                b.destination,
                b.envelope_sha256,
                documents,
                b.created_at.to_rfc3339()
            ],
        )?;
        Ok(())
    }

    /// A bundle this node sent.
    pub fn sent_bundle(&self, bundle_id: &str) -> Result<Option<SentBundle>, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT bundle_id, child_id, destination, envelope_sha256, documents, created_at, delivered_at
                 FROM sent_bundles WHERE bundle_id = ?1",
                [bundle_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, Option<String>>(6)?,
                    ))
                },
            )
            .optional()?;
        row.map(
            |(bundle_id, child, destination, envelope_sha256, docs, created, delivered)| {
                Ok(SentBundle {
                    bundle_id,
                    child_id: child.parse().map_err(|_| malformed("child id"))?,
                    destination,
                    envelope_sha256,
                    documents: serde_json::from_str(&docs).map_err(|_| malformed("documents"))?,
                    created_at: parse_time(&created)?,
                    delivered_at: delivered.as_deref().map(parse_time).transpose()?,
                })
            },
        )
        .transpose()
    }

    /// Records a verified receipt: the hand-over is delivered.
    pub fn mark_delivered(
        &self,
        bundle_id: &str,
        receipt: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE sent_bundles SET delivered_at = ?2, receipt = ?3 WHERE bundle_id = ?1",
            params![bundle_id, at.to_rfc3339(), receipt],
        )?;
        Ok(())
    }

    /// A bundle imported before, if any.
    pub fn imported_bundle(&self, bundle_id: &str) -> Result<Option<ImportedBundle>, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT bundle_id, child_id, source, envelope_sha256, receipt, imported_at
                 FROM imported_bundles WHERE bundle_id = ?1",
                [bundle_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(bundle_id, child, source, envelope_sha256, receipt, at)| {
            Ok(ImportedBundle {
                bundle_id,
                child_id: child.parse().map_err(|_| malformed("child id"))?,
                source,
                envelope_sha256,
                receipt,
                imported_at: parse_time(&at)?,
            })
        })
        .transpose()
    }

    /// Commits an import in one transaction: the child, its documents (their
    /// blobs already written and synced) and the imported-bundle row.
    pub fn commit_import(
        &self,
        child: &Child,
        documents: &[(Document, BlobKey)],
        imported: &ImportedBundle,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO children (id, record, created_at, created_by, updated_at, origin)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params_from_iter(child_params(child)?),
        )?;
        for (doc, key) in documents {
            insert_document(&tx, doc, key)?;
        }
        tx.execute(
            "INSERT INTO imported_bundles (bundle_id, child_id, source, envelope_sha256, receipt, imported_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                imported.bundle_id,
                imported.child_id.to_string(),
                imported.source,
                imported.envelope_sha256,
                imported.receipt,
                imported.imported_at.to_rfc3339()
            ],
        )?;
        tx.commit()?;
        Ok(())
    }
}
