//! Rows of the `children` table. The case record is one JSON column inside
//! the encrypted database.

use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, OptionalExtension, Row};

use super::columns::Time;
use super::{Db, StoreError};
use crate::domain::{CaseRecord, Child, ChildId};

const COLUMNS: &str = "id, record, created_at, created_by, updated_at, origin";

impl Db {
    /// Adds a new child.
    pub fn insert_child(&self, child: &Child) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO children (id, record, created_at, created_by, updated_at, origin)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params_from_iter(child_params(child)?),
        )?;
        Ok(())
    }

    /// Replaces a child's case record.
    pub fn update_child(
        &self,
        id: ChildId,
        record: &CaseRecord,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let json =
            serde_json::to_string(record).map_err(|e| StoreError::Malformed(e.to_string()))?;
        let n = self.conn().execute(
            "UPDATE children SET record = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, json, Time(at)],
        )?;
        Ok(n == 1)
    }

    /// Records a move of `child` (already holding its new placement) from
    /// `from`, with its reason, and saves the record: one transaction.
    pub fn move_child(
        &self,
        move_id: &str,
        child: &Child,
        from: (Option<&str>, Option<&str>),
        reason: &str,
        by: &str,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(&child.record)
            .map_err(|e| StoreError::Malformed(e.to_string()))?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE children SET record = ?2, updated_at = ?3 WHERE id = ?1",
            params![child.id, json, Time(child.updated_at)],
        )?;
        tx.execute(
            "INSERT INTO child_moves (id, child_id, from_institution, from_district,
                 to_institution, to_district, reason, moved_by, moved_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                move_id,
                child.id,
                from.0,
                from.1,
                child.record.institution,
                child.record.district,
                reason,
                by,
                Time(child.updated_at)
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// One child, if known.
    pub fn child(&self, id: ChildId) -> Result<Option<Child>, StoreError> {
        self.read()
            .query_row(
                &format!("SELECT {COLUMNS} FROM children WHERE id = ?1"),
                [id],
                row_to_child,
            )
            .optional()?
            .transpose()
    }

    /// Every child, oldest first.
    pub fn children(&self) -> Result<Vec<Child>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM children ORDER BY id"))?;
        let rows = stmt.query_map([], row_to_child)?;
        rows.map(|r| r?).collect()
    }
}

/// The values of a child's row, in [`COLUMNS`] order.
pub(super) fn child_params(child: &Child) -> Result<[Box<dyn rusqlite::ToSql>; 6], StoreError> {
    let record =
        serde_json::to_string(&child.record).map_err(|e| StoreError::Malformed(e.to_string()))?;
    let origin = child
        .origin
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Malformed(e.to_string()))?;
    Ok([
        Box::new(child.id),
        Box::new(record),
        Box::new(Time(child.created_at)),
        Box::new(child.created_by.clone()),
        Box::new(Time(child.updated_at)),
        Box::new(origin),
    ])
}

fn row_to_child(row: &Row<'_>) -> rusqlite::Result<Result<Child, StoreError>> {
    let id = row.get(0)?;
    let record: String = row.get(1)?;
    let created_at: Time = row.get(2)?;
    let created_by: String = row.get(3)?;
    let updated_at: Time = row.get(4)?;
    let origin: Option<String> = row.get(5)?;
    Ok((|| {
        Ok(Child {
            id,
            record: serde_json::from_str(&record).map_err(|_| malformed("case record"))?,
            created_at: created_at.0,
            created_by,
            updated_at: updated_at.0,
            origin: origin
                .map(|o| serde_json::from_str(&o).map_err(|_| malformed("origin")))
                .transpose()?,
        })
    })())
}

pub(super) fn malformed(what: &str) -> StoreError {
    StoreError::Malformed(what.to_string())
}
