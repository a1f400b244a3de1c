//! Rows of the `sent_bundles` table: what this node handed over, so a
//! receipt can be matched to it.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Db, StoreError};
use crate::domain::{ChildId, DocumentId};

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
}
