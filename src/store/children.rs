//! Rows of the `children` table. The case record is one JSON column inside
//! the encrypted database.

use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, OptionalExtension, Row};

use super::columns::Time;
use super::BlobKey;
use super::{Db, StoreError};
use crate::domain::{fold_name, CaseRecord, Child, ChildId, Document};

/// Which children a list's query may return: the caller's scope as SQL.
/// It narrows what the policy then checks row by row; it never widens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildFilter {
    /// Every child (the local operator).
    All,
    /// Children placed in one institution.
    Institution(String),
    /// Children placed in one district.
    District(String),
    /// Children that came in a bundle from another department.
    TransferredIn,
    /// These children only (a support person's grants).
    Ids(Vec<ChildId>),
    /// None.
    Nothing,
}

const COLUMNS: &str = "id, record, created_at, created_by, updated_at, origin";
/// An erased child is no longer read, listed or acted on: only its id
/// and the audit trail remain (`store/erasure.rs`).
const NOT_ERASED: &str = "NOT EXISTS (SELECT 1 FROM erasures e WHERE e.child_id = children.id)";

impl Db {
    /// Adds a new child.
    pub fn insert_child(&self, child: &Child) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO children (id, record, created_at, created_by, updated_at, origin, name_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
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
            "UPDATE children SET record = ?2, updated_at = ?3, name_key = ?4 WHERE id = ?1",
            params![id, json, Time(at), fold_name(&record.name)],
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
            "UPDATE children SET record = ?2, updated_at = ?3, name_key = ?4 WHERE id = ?1",
            params![
                child.id,
                json,
                Time(child.updated_at),
                fold_name(&child.record.name)
            ],
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
                &format!("SELECT {COLUMNS} FROM children WHERE id = ?1 AND {NOT_ERASED}"),
                [id],
                row_to_child,
            )
            .optional()?
            .transpose()
    }
}

impl Db {
    /// Up to `limit` children that `filter` lets through, in the order of
    /// their folded names (then ids), after the child `after`, whose folded
    /// name holds `q` (already folded) if given. Each filter has its index
    /// (migration 14), so a page reads about `limit` rows, not the table.
    pub fn children_page(
        &self,
        filter: &ChildFilter,
        q: Option<&str>,
        after: Option<ChildId>,
        limit: usize,
    ) -> Result<Vec<Child>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM children WHERE {NOT_ERASED}");
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        if !filter_sql(filter, "children", &mut sql, &mut args) {
            return Ok(Vec::new());
        }
        if let Some(after) = after {
            // A cursor that names no child gives an empty page.
            sql.push_str(" AND (name_key, id) > (SELECT name_key, id FROM children WHERE id = ?)");
            args.push(Box::new(after));
        }
        if let Some(q) = q {
            // instr, not LIKE: the search text's own % and _ mean themselves.
            sql.push_str(" AND instr(name_key, ?) > 0");
            args.push(Box::new(q.to_string()));
        }
        sql.push_str(" ORDER BY name_key, id LIMIT ?");
        args.push(Box::new(limit as i64));
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), row_to_child)?;
        rows.map(|r| r?).collect()
    }
}

impl Db {
    /// Adds many children, each with its document rows, in one
    /// transaction (a bulk load: the national-scale bench fills a node
    /// with it). The rows are exactly those [`Db::insert_child`] and a
    /// document's commit write; the blobs are the caller's affair.
    pub fn insert_children_bulk(
        &self,
        batch: &[(Child, Vec<(Document, BlobKey)>)],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for (child, documents) in batch {
            tx.prepare_cached(
                "INSERT INTO children (id, record, created_at, created_by, updated_at, origin, name_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params_from_iter(child_params(child)?))?;
            for (doc, key) in documents {
                super::documents::insert_document(&tx, doc, key)?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// Appends `filter` as conditions on the children table `table` to a
/// query's `WHERE`; `false` when it lets nothing through.
pub(super) fn filter_sql(
    filter: &ChildFilter,
    table: &str,
    sql: &mut String,
    args: &mut Vec<Box<dyn rusqlite::ToSql>>,
) -> bool {
    match filter {
        ChildFilter::All => {}
        ChildFilter::Nothing => return false,
        ChildFilter::Institution(i) => {
            sql.push_str(&format!(" AND {table}.institution = ?"));
            args.push(Box::new(i.clone()));
        }
        ChildFilter::District(d) => {
            sql.push_str(&format!(" AND {table}.district = ?"));
            args.push(Box::new(d.clone()));
        }
        ChildFilter::TransferredIn => sql.push_str(&format!(" AND {table}.origin IS NOT NULL")),
        ChildFilter::Ids(ids) => {
            if ids.is_empty() {
                return false;
            }
            sql.push_str(&format!(" AND {table}.id IN ("));
            for (i, id) in ids.iter().enumerate() {
                sql.push_str(if i == 0 { "?" } else { ", ?" });
                args.push(Box::new(*id));
            }
            sql.push(')');
        }
    }
    true
}

/// Fills the folded name of rows written before it existed (migration 14).
pub(super) fn fill_name_keys(conn: &mut rusqlite::Connection) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let missing: Vec<(String, String)> = {
        let mut stmt = tx.prepare(
            "SELECT id, json_extract(record, '$.name') FROM children WHERE name_key = ''",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?)))?;
        rows.map(|r| r.map(|(id, name)| (id, name.unwrap_or_default())))
            .collect::<Result<_, _>>()?
    };
    for (id, name) in missing {
        tx.execute(
            "UPDATE children SET name_key = ?2 WHERE id = ?1",
            params![id, fold_name(&name)],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The values of a child's row, in [`COLUMNS`] order, then its folded name.
pub(super) fn child_params(child: &Child) -> Result<[Box<dyn rusqlite::ToSql>; 7], StoreError> {
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
        Box::new(fold_name(&child.record.name)),
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
