//! Rows of the `transfers` table: the whole transfer as JSON, with its
//! state, child and bundle id as columns to look it up by.

use chrono::Utc;
use rusqlite::{params, params_from_iter, OptionalExtension};

use super::children::{filter_sql, malformed, ChildFilter};
use super::columns::Time;
use super::{Db, StoreError};
use crate::domain::{ChildId, Transfer, TransferId, TransferState};

impl Db {
    /// Adds or replaces a transfer.
    pub fn put_transfer(&self, t: &Transfer) -> Result<(), StoreError> {
        let json = serde_json::to_string(t).map_err(|e| StoreError::Malformed(e.to_string()))?;
        self.conn().execute(
            "INSERT INTO transfers (id, child_id, destination, state, bundle_id, record, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(id) DO UPDATE SET state = excluded.state, bundle_id = excluded.bundle_id,
               record = excluded.record, updated_at = excluded.updated_at",
            params![
                t.id,
                t.child,
                t.to,
                t.state.as_str(),
                t.bundle_id,
                json,
                Time(t.created_at),
                Utc::now().to_rfc3339()
            ],
        )?;
        Ok(())
    }

    /// One transfer.
    pub fn transfer(&self, id: TransferId) -> Result<Option<Transfer>, StoreError> {
        self.transfer_where("id", &id.to_string())
    }

    /// The transfer whose bundle has this id.
    pub fn transfer_by_bundle(&self, bundle_id: &str) -> Result<Option<Transfer>, StoreError> {
        self.transfer_where("bundle_id", bundle_id)
    }

    fn transfer_where(&self, column: &str, value: &str) -> Result<Option<Transfer>, StoreError> {
        let json: Option<String> = self
            .read()
            .query_row(
                &format!("SELECT record FROM transfers WHERE {column} = ?1"),
                [value],
                |r| r.get(0),
            )
            .optional()?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| malformed("transfer")))
            .transpose()
    }

    /// Transfers of one child, or all, newest first.
    pub fn transfers(&self, child: Option<ChildId>) -> Result<Vec<Transfer>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(
            "SELECT record FROM transfers WHERE ?1 IS NULL OR child_id = ?1 ORDER BY created_at DESC, id",
        )?;
        let rows = stmt.query_map([child], |r| r.get::<_, String>(0))?;
        rows.map(|j| serde_json::from_str(&j?).map_err(|_| malformed("transfer")))
            .collect()
    }

    /// Up to `limit` transfers of one child (or all), newest first, after
    /// the transfer `after`.
    pub fn transfers_page(
        &self,
        child: Option<ChildId>,
        after: Option<TransferId>,
        limit: usize,
    ) -> Result<Vec<Transfer>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(
            "SELECT record FROM transfers WHERE (?1 IS NULL OR child_id = ?1)
             AND (?2 IS NULL OR (created_at, id) < (SELECT created_at, id FROM transfers WHERE id = ?2))
             ORDER BY created_at DESC, id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![child, after, limit as i64], |r| {
            r.get::<_, String>(0)
        })?;
        rows.map(|j| serde_json::from_str(&j?).map_err(|_| malformed("transfer")))
            .collect()
    }

    /// Up to `limit` transfers of the children `filter` lets through,
    /// newest first, after the transfer `after`; only those in `state`,
    /// or only those not in `except`, if given.
    pub fn transfers_of_children_page(
        &self,
        filter: &ChildFilter,
        state: Option<TransferState>,
        except: Option<TransferState>,
        after: Option<TransferId>,
        limit: usize,
    ) -> Result<Vec<Transfer>, StoreError> {
        let mut sql =
            "SELECT t.record FROM transfers t JOIN children c ON c.id = t.child_id WHERE 1"
                .to_string();
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        if !filter_sql(filter, "c", &mut sql, &mut args) {
            return Ok(Vec::new());
        }
        if let Some(s) = state {
            sql.push_str(" AND t.state = ?");
            args.push(Box::new(s.as_str()));
        }
        if let Some(s) = except {
            sql.push_str(" AND t.state <> ?");
            args.push(Box::new(s.as_str()));
        }
        if let Some(a) = after {
            sql.push_str(
                " AND (t.created_at, t.id) < (SELECT created_at, id FROM transfers WHERE id = ?)",
            );
            args.push(Box::new(a));
        }
        sql.push_str(" ORDER BY t.created_at DESC, t.id DESC LIMIT ?");
        args.push(Box::new(limit as i64));
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(0))?;
        rows.map(|j| serde_json::from_str(&j?).map_err(|_| malformed("transfer")))
            .collect()
    }
}
