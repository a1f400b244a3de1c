//! Rows of the `grants` table: purpose-bound, time-limited read access.

use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, OptionalExtension, Row};

use super::children::{filter_sql, malformed, ChildFilter};
use super::columns::Time;
use super::{Db, StoreError};
use crate::domain::{ChildId, Grant, GrantId, UserId};

const COLUMNS: &str =
    "id, user_id, child_id, kinds, purpose, until, granted_by, created_at, revoked_at";

impl Db {
    /// Stores a new grant.
    pub fn insert_grant(&self, g: &Grant) -> Result<(), StoreError> {
        let kinds =
            serde_json::to_string(&g.kinds).map_err(|e| StoreError::Malformed(e.to_string()))?;
        self.conn().execute(
            &format!(
                "INSERT INTO grants ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL)"
            ),
            params![
                g.id,
                g.user,
                g.child,
                kinds,
                g.purpose,
                Time(g.until),
                g.granted_by,
                Time(g.created_at)
            ],
        )?;
        Ok(())
    }

    /// One grant.
    pub fn grant(&self, id: GrantId) -> Result<Option<Grant>, StoreError> {
        self.read()
            .query_row(
                &format!("SELECT {COLUMNS} FROM grants WHERE id = ?1"),
                [id],
                |r| Ok(grant_from_row(r)),
            )
            .optional()?
            .transpose()
    }

    /// Grants, newest first, filtered by grantee and/or child.
    pub fn grants(
        &self,
        user: Option<UserId>,
        child: Option<ChildId>,
    ) -> Result<Vec<Grant>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM grants WHERE (?1 IS NULL OR user_id = ?1)
             AND (?2 IS NULL OR child_id = ?2) ORDER BY created_at DESC, id"
        ))?;
        let rows = stmt.query_map(params![user, child], |r| Ok(grant_from_row(r)))?;
        rows.map(|r| r?).collect()
    }

    /// Up to `limit` grants, newest first, after the grant `after`,
    /// filtered by grantee and/or child.
    pub fn grants_page(
        &self,
        user: Option<UserId>,
        child: Option<ChildId>,
        after: Option<GrantId>,
        limit: usize,
    ) -> Result<Vec<Grant>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM grants WHERE (?1 IS NULL OR user_id = ?1)
             AND (?2 IS NULL OR child_id = ?2)
             AND (?3 IS NULL OR (created_at, id) < (SELECT created_at, id FROM grants WHERE id = ?3))
             ORDER BY created_at DESC, id DESC LIMIT ?4"
        ))?;
        let rows = stmt.query_map(params![user, child, after, limit as i64], |r| {
            Ok(grant_from_row(r))
        })?;
        rows.map(|r| r?).collect()
    }

    /// Up to `limit` grants on the children `filter` lets through, newest
    /// first, after the grant `after`.
    pub fn grants_of_children_page(
        &self,
        filter: &ChildFilter,
        after: Option<GrantId>,
        limit: usize,
    ) -> Result<Vec<Grant>, StoreError> {
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("g.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql =
            format!("SELECT {columns} FROM grants g JOIN children c ON c.id = g.child_id WHERE 1");
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        if !filter_sql(filter, "c", &mut sql, &mut args) {
            return Ok(Vec::new());
        }
        if let Some(a) = after {
            sql.push_str(
                " AND (g.created_at, g.id) < (SELECT created_at, id FROM grants WHERE id = ?)",
            );
            args.push(Box::new(a));
        }
        sql.push_str(" ORDER BY g.created_at DESC, g.id DESC LIMIT ?");
        args.push(Box::new(limit as i64));
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| Ok(grant_from_row(r)))?;
        rows.map(|r| r?).collect()
    }

    /// Revokes a grant; `false` when unknown or already revoked.
    pub fn revoke_grant(&self, id: GrantId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE grants SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, Time(at)],
        )?;
        Ok(n == 1)
    }
}

fn grant_from_row(r: &Row<'_>) -> Result<Grant, StoreError> {
    Ok(Grant {
        id: r.get(0)?,
        user: r.get(1)?,
        child: r.get(2)?,
        kinds: serde_json::from_str(&r.get::<_, String>(3)?)
            .map_err(|_| malformed("grant kinds"))?,
        purpose: r.get(4)?,
        until: r.get::<_, Time>(5)?.0,
        granted_by: r.get(6)?,
        created_at: r.get::<_, Time>(7)?.0,
        revoked_at: r.get::<_, Option<Time>>(8)?.map(|t| t.0),
    })
}
