//! Rows of the `inbox` (bundles received, waiting for a decision) and
//! `outbox` (pushes to other nodes still to make) tables.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};

use super::children::{malformed, parse_time};
use super::{Db, StoreError};
use crate::domain::{InboxItem, InboxState, OutboxItem, OutboxKind};

const INBOX_COLUMNS: &str = "bundle_id, source, size, documents, created_at, received_at, state, decided_by, decided_at, reason, child_id";
const OUTBOX_COLUMNS: &str = "kind, bundle_id, destination, queued_at, attempts, next_attempt_at, last_error, done_at, gave_up_at";

impl Db {
    /// Records a received bundle; false if this bundle id is already in the inbox.
    pub fn insert_inbox(&self, item: &InboxItem) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            &format!(
                "INSERT INTO inbox ({INBOX_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT(bundle_id) DO NOTHING"
            ),
            params![
                item.bundle_id,
                item.source,
                item.size as i64,
                item.documents as i64,
                item.created_at.to_rfc3339(),
                item.received_at.to_rfc3339(),
                item.state.as_str(),
                item.decided_by,
                item.decided_at.map(|t| t.to_rfc3339()),
                item.reason,
                item.child_id.map(|c| c.to_string()),
            ],
        )?;
        Ok(n == 1)
    }

    /// Records the decision on a waiting bundle; false if it was not waiting.
    pub fn decide_inbox(&self, item: &InboxItem) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE inbox SET state = ?2, decided_by = ?3, decided_at = ?4, reason = ?5, child_id = ?6
             WHERE bundle_id = ?1 AND state = 'waiting'",
            params![
                item.bundle_id,
                item.state.as_str(),
                item.decided_by,
                item.decided_at.map(|t| t.to_rfc3339()),
                item.reason,
                item.child_id.map(|c| c.to_string()),
            ],
        )?;
        Ok(n == 1)
    }

    /// One inbox item.
    pub fn inbox_item(&self, bundle_id: &str) -> Result<Option<InboxItem>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {INBOX_COLUMNS} FROM inbox WHERE bundle_id = ?1"),
                [bundle_id],
                |r| Ok(inbox_row(r)),
            )
            .optional()?
            .transpose()
    }

    /// The inbox, newest first.
    pub fn inbox(&self) -> Result<Vec<InboxItem>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {INBOX_COLUMNS} FROM inbox ORDER BY received_at DESC, bundle_id"
        ))?;
        let rows = stmt.query_map([], |r| Ok(inbox_row(r)))?;
        rows.map(|r| r?).collect()
    }

    /// Queues a push; an existing one for the same kind and bundle is kept.
    pub fn queue_push(&self, item: &OutboxItem) -> Result<(), StoreError> {
        self.conn().execute(
            &format!(
                "INSERT INTO outbox (id, {OUTBOX_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(id) DO NOTHING"
            ),
            params![
                OutboxItem::key(item.kind, &item.bundle_id),
                item.kind.as_str(),
                item.bundle_id,
                item.destination,
                item.queued_at.to_rfc3339(),
                item.attempts,
                item.next_attempt_at.to_rfc3339(),
                item.last_error,
                item.done_at.map(|t| t.to_rfc3339()),
                item.gave_up_at.map(|t| t.to_rfc3339()),
            ],
        )?;
        Ok(())
    }

    /// Saves what happened to a push (attempts, next time, outcome).
    pub fn update_push(&self, item: &OutboxItem) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3, last_error = ?4, done_at = ?5, gave_up_at = ?6
             WHERE id = ?1",
            params![
                OutboxItem::key(item.kind, &item.bundle_id),
                item.attempts,
                item.next_attempt_at.to_rfc3339(),
                item.last_error,
                item.done_at.map(|t| t.to_rfc3339()),
                item.gave_up_at.map(|t| t.to_rfc3339()),
            ],
        )?;
        Ok(())
    }

    /// Pushes neither done nor given up, soonest first.
    pub fn pending_pushes(&self) -> Result<Vec<OutboxItem>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE done_at IS NULL AND gave_up_at IS NULL
             ORDER BY next_attempt_at, id"
        ))?;
        let rows = stmt.query_map([], |r| Ok(outbox_row(r)))?;
        rows.map(|r| r?).collect()
    }
}

fn time(s: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    s.as_deref().map(parse_time).transpose()
}

fn inbox_row(r: &Row<'_>) -> Result<InboxItem, StoreError> {
    let bad = || malformed("inbox item");
    let state: String = r.get(6)?;
    let child: Option<String> = r.get(10)?;
    Ok(InboxItem {
        bundle_id: r.get(0)?,
        source: r.get(1)?,
        size: r.get::<_, i64>(2)?.try_into().map_err(|_| bad())?,
        documents: r.get::<_, i64>(3)?.try_into().map_err(|_| bad())?,
        created_at: parse_time(&r.get::<_, String>(4)?)?,
        received_at: parse_time(&r.get::<_, String>(5)?)?,
        state: InboxState::parse(&state).ok_or_else(bad)?,
        decided_by: r.get(7)?,
        decided_at: time(r.get(8)?)?,
        reason: r.get(9)?,
        child_id: child.map(|c| c.parse().map_err(|_| bad())).transpose()?,
    })
}

fn outbox_row(r: &Row<'_>) -> Result<OutboxItem, StoreError> {
    let kind: String = r.get(0)?;
    Ok(OutboxItem {
        kind: OutboxKind::parse(&kind).ok_or_else(|| malformed("outbox item"))?,
        bundle_id: r.get(1)?,
        destination: r.get(2)?,
        queued_at: parse_time(&r.get::<_, String>(3)?)?,
        attempts: r.get(4)?,
        next_attempt_at: parse_time(&r.get::<_, String>(5)?)?,
        last_error: r.get(6)?,
        done_at: time(r.get(7)?)?,
        gave_up_at: time(r.get(8)?)?,
    })
}
