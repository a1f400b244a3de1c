//! The state of each child's case (`children.case_state`, since
//! `case_state_at`), and the rows retention rules are counted over.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::columns::Time;
use super::{Db, StoreError};
use crate::domain::{CaseState, ChildId, DocKind, DocumentId};

/// One child (not erased) with one of its documents (not erased), or none.
#[derive(Debug, Clone)]
pub struct RetentionRow {
    pub child: ChildId,
    pub state: CaseState,
    /// When the state was entered (the record's creation for `in_care`
    /// set by no one).
    pub since: DateTime<Utc>,
    pub document: Option<(DocumentId, DocKind)>,
}

impl Db {
    /// Sets a child's case state as of `at`; false if the child is
    /// unknown or erased.
    pub fn set_case_state(
        &self,
        id: ChildId,
        state: CaseState,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE children SET case_state = ?2, case_state_at = ?3
             WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM erasures e WHERE e.child_id = children.id)",
            params![id, state.as_str(), Time(at)],
        )?;
        Ok(n == 1)
    }

    /// A child's case state and since when.
    pub fn case_state(
        &self,
        id: ChildId,
    ) -> Result<Option<(CaseState, DateTime<Utc>)>, StoreError> {
        use rusqlite::OptionalExtension;
        let row: Option<(String, Time)> = self
            .read()
            .query_row(
                "SELECT case_state, COALESCE(case_state_at, created_at) FROM children WHERE id = ?1
                 AND NOT EXISTS (SELECT 1 FROM erasures e WHERE e.child_id = children.id)",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(s, at)| {
            let state = s
                .parse()
                .map_err(|_| StoreError::Malformed("children.case_state".into()))?;
            Ok((state, at.0))
        })
        .transpose()
    }

    /// Every child not erased, each with each of its documents not erased
    /// (or one row without a document), for counting retention.
    pub fn retention_rows(&self) -> Result<Vec<RetentionRow>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(
            "SELECT children.id, children.case_state,
                    COALESCE(children.case_state_at, children.created_at),
                    documents.id, documents.kind
             FROM children LEFT JOIN documents ON documents.child_id = children.id
                 AND NOT EXISTS (SELECT 1 FROM erased_documents x WHERE x.document_id = documents.id)
             WHERE NOT EXISTS (SELECT 1 FROM erasures e WHERE e.child_id = children.id)
             ORDER BY children.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, ChildId>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Time>(2)?,
                r.get::<_, Option<DocumentId>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        rows.map(|r| {
            let (child, state, since, doc, kind) = r?;
            let state = state
                .parse()
                .map_err(|_| StoreError::Malformed("children.case_state".into()))?;
            let document = match (doc, kind) {
                (Some(d), Some(k)) => Some((
                    d,
                    k.parse()
                        .map_err(|_| StoreError::Malformed("documents.kind".into()))?,
                )),
                _ => None,
            };
            Ok(RetentionRow {
                child,
                state,
                since: since.0,
                document,
            })
        })
        .collect()
    }
}
