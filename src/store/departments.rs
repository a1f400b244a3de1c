//! Rows of the `departments` table: the public cards this node trusts.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::children::malformed;
use super::columns::Time;
use super::{Db, StoreError};
use crate::domain::DepartmentCard;

impl Db {
    /// Adds or replaces a department's card.
    pub fn put_department(
        &self,
        card: &DepartmentCard,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(card).map_err(|e| StoreError::Malformed(e.to_string()))?;
        self.conn().execute(
            "INSERT INTO departments (id, card, added_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET card = excluded.card, added_at = excluded.added_at",
            params![card.id, json, Time(at)],
        )?;
        Ok(())
    }

    /// One department's card.
    pub fn department(&self, id: &str) -> Result<Option<DepartmentCard>, StoreError> {
        let json: Option<String> = self
            .read()
            .query_row("SELECT card FROM departments WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        json.map(|j| serde_json::from_str(&j).map_err(|_| malformed("department card")))
            .transpose()
    }

    /// Every department's card, by id.
    pub fn departments(&self) -> Result<Vec<DepartmentCard>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare("SELECT card FROM departments ORDER BY id")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|j| serde_json::from_str(&j?).map_err(|_| malformed("department card")))
            .collect()
    }
}
