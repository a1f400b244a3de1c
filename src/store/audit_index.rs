//! The index of the access history: which audit log lines name which child
//! (`audit_index`: child id as 16 bytes, line number, byte offset), and how
//! far into the log it reaches (the mark, in the `node` table: the offset
//! just past the last indexed line, that line's number and hash). Derived
//! data: the log is the truth, and the vault rebuilds this from it
//! (through `audit_index_load`, then copied in key order).

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{Db, StoreError};
use crate::domain::ChildId;

const MARK: &str = "audit_index_mark";

/// How far the index reaches into the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexMark {
    /// The offset just past the last line indexed (where the next begins).
    pub offset: u64,
    /// The number of the last line indexed (0: none).
    pub seq: u64,
    /// The hash of that line (the next line's `prev`); empty for none.
    pub hash: String,
}

fn id_bytes(child: ChildId) -> Vec<u8> {
    child.as_bytes().to_vec()
}

/// Writes `(child, seq, offset)` rows with `insert` (`INSERT ... INTO
/// TABLE`, the index or its load table).
fn insert_rows(
    tx: &rusqlite::Transaction<'_>,
    insert: &str,
    rows: &[(ChildId, u64, u64)],
) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(&format!(
        "{insert} (child, seq, offset) VALUES (?1, ?2, ?3)"
    ))?;
    for (child, seq, offset) in rows {
        stmt.execute(params![id_bytes(*child), *seq as i64, *offset as i64])?;
    }
    Ok(())
}

impl Db {
    /// Where the index ends; `None` when it was never built.
    pub fn audit_index_mark(&self) -> Result<Option<IndexMark>, StoreError> {
        self.node_value(MARK)?
            .map(|v| serde_json::from_str(&v).map_err(|_| StoreError::Malformed(MARK.into())))
            .transpose()
    }

    /// Adds `(child, seq, offset)` rows and moves the mark, in one
    /// transaction (catching up a few lines at a time).
    pub fn audit_index_add(
        &self,
        rows: &[(ChildId, u64, u64)],
        mark: &IndexMark,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        insert_rows(&tx, "INSERT OR REPLACE INTO audit_index", rows)?;
        let json = serde_json::to_string(mark).map_err(|e| StoreError::Malformed(e.to_string()))?;
        tx.execute(
            "INSERT INTO node (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![MARK, json],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Starts a rebuild: empties the load table.
    pub fn audit_index_load_start(&self) -> Result<(), StoreError> {
        self.conn().execute("DELETE FROM audit_index_load", [])?;
        Ok(())
    }

    /// Adds rows of a rebuild to the load table, in one transaction.
    pub fn audit_index_load_add(&self, rows: &[(ChildId, u64, u64)]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        insert_rows(&tx, "INSERT INTO audit_index_load", rows)?;
        tx.commit()?;
        Ok(())
    }

    /// Ends a rebuild of `loaded` rows: replaces the index with the load
    /// table, copied in key order, and sets the mark, in one transaction.
    /// `false` (and nothing changed) when the load table does not hold
    /// exactly `loaded` rows (another process rebuilt at the same time).
    pub fn audit_index_load_finish(
        &self,
        loaded: u64,
        mark: &IndexMark,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(mark).map_err(|e| StoreError::Malformed(e.to_string()))?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let held: i64 = tx.query_row("SELECT count(*) FROM audit_index_load", [], |r| r.get(0))?;
        if held as u64 != loaded {
            return Ok(false);
        }
        tx.execute("DELETE FROM audit_index", [])?;
        tx.execute(
            "INSERT OR REPLACE INTO audit_index (child, seq, offset)
             SELECT child, seq, offset FROM audit_index_load ORDER BY child, seq",
            [],
        )?;
        tx.execute("DELETE FROM audit_index_load", [])?;
        tx.execute(
            "INSERT INTO node (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![MARK, json],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Up to `limit` `(seq, offset)` of lines naming `child`: after line
    /// `after` oldest first, or before line `after` newest first.
    pub fn audit_index_page(
        &self,
        child: ChildId,
        after: Option<u64>,
        limit: usize,
        newest_first: bool,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let sql = if newest_first {
            "SELECT seq, offset FROM audit_index WHERE child = ?1 AND seq < ?2
             ORDER BY seq DESC LIMIT ?3"
        } else {
            "SELECT seq, offset FROM audit_index WHERE child = ?1 AND seq > ?2
             ORDER BY seq LIMIT ?3"
        };
        let bound = match (after, newest_first) {
            (Some(a), _) => a as i64,
            (None, true) => i64::MAX,
            (None, false) => 0,
        };
        let conn = self.read();
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![id_bytes(child), bound, limit as i64], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The offset the index holds for line `seq` naming `child`.
    pub fn audit_index_offset(&self, child: ChildId, seq: u64) -> Result<Option<u64>, StoreError> {
        let conn = self.read();
        let mut stmt =
            conn.prepare_cached("SELECT offset FROM audit_index WHERE child = ?1 AND seq = ?2")?;
        Ok(stmt
            .query_row(params![id_bytes(child), seq as i64], |r| r.get::<_, i64>(0))
            .optional()?
            .map(|o| o as u64))
    }

    /// Calls `each` with every row of the index (child id bytes, line
    /// number, offset), in key order, reading the table once.
    pub fn audit_index_each(
        &self,
        mut each: impl FnMut(&[u8], u64, u64),
    ) -> Result<(), StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare("SELECT child, seq, offset FROM audit_index")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let child = row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?;
            each(
                child,
                row.get::<_, i64>(1)? as u64,
                row.get::<_, i64>(2)? as u64,
            );
        }
        Ok(())
    }

    /// How many lines the index holds.
    pub fn audit_index_len(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .read()
            .query_row("SELECT count(*) FROM audit_index", [], |r| r.get(0))?;
        Ok(n as u64)
    }
}
