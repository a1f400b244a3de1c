//! Rows of the `inbox` (bundles received, waiting for a decision) and
//! `outbox` (pushes to other nodes still to make) tables.

use rusqlite::{params, OptionalExtension, Row};

use super::children::malformed;
use super::columns::Time;
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
                Time(item.created_at),
                Time(item.received_at),
                item.state.as_str(),
                item.decided_by,
                item.decided_at.map(Time),
                item.reason,
                item.child_id,
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
                item.decided_at.map(Time),
                item.reason,
                item.child_id,
            ],
        )?;
        Ok(n == 1)
    }

    /// One inbox item.
    pub fn inbox_item(&self, bundle_id: &str) -> Result<Option<InboxItem>, StoreError> {
        self.read()
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
        let conn = self.read();
        let mut stmt = conn.prepare(&format!(
            "SELECT {INBOX_COLUMNS} FROM inbox ORDER BY received_at DESC, bundle_id"
        ))?;
        let rows = stmt.query_map([], |r| Ok(inbox_row(r)))?;
        rows.map(|r| r?).collect()
    }

    /// Up to `limit` inbox items, newest first, after the bundle `after`.
    /// With `waiting`, only the bundles waiting (`Some(true)`) or only
    /// those decided (`Some(false)`).
    pub fn inbox_page(
        &self,
        waiting: Option<bool>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<InboxItem>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {INBOX_COLUMNS} FROM inbox WHERE (?1 IS NULL OR (state = 'waiting') = ?1)
             AND (?2 IS NULL
               OR (received_at, bundle_id) < (SELECT received_at, bundle_id FROM inbox WHERE bundle_id = ?2))
             ORDER BY received_at DESC, bundle_id DESC LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![waiting, after, limit as i64], |r| Ok(inbox_row(r)))?;
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
                Time(item.queued_at),
                item.attempts,
                Time(item.next_attempt_at),
                item.last_error,
                item.done_at.map(Time),
                item.gave_up_at.map(Time),
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
                Time(item.next_attempt_at),
                item.last_error,
                item.done_at.map(Time),
                item.gave_up_at.map(Time),
            ],
        )?;
        Ok(())
    }

    /// Pushes neither done nor given up, soonest first.
    pub fn pending_pushes(&self) -> Result<Vec<OutboxItem>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE done_at IS NULL AND gave_up_at IS NULL
             ORDER BY next_attempt_at, id"
        ))?;
        let rows = stmt.query_map([], |r| Ok(outbox_row(r)))?;
        rows.map(|r| r?).collect()
    }
}

/// Counts behind the delivery alerts of the operations guide.
#[derive(Debug, Clone, Default)]
pub struct DeliveryGauges {
    pub outbox_pending: u64,
    pub outbox_retrying: u64,
    pub outbox_given_up: u64,
    pub transfers_undelivered: u64,
    pub oldest_undelivered: Option<chrono::DateTime<chrono::Utc>>,
}

impl Db {
    /// Pushes waiting, retrying and given up; transfers sent and not
    /// delivered, and when the oldest of them was sent.
    pub fn delivery_gauges(&self) -> Result<DeliveryGauges, StoreError> {
        let conn = self.read();
        let (pending, retrying, given_up): (i64, i64, i64) = conn.query_row(
            "SELECT
               count(*) FILTER (WHERE done_at IS NULL AND gave_up_at IS NULL),
               count(*) FILTER (WHERE done_at IS NULL AND gave_up_at IS NULL AND attempts > 0),
               count(*) FILTER (WHERE gave_up_at IS NOT NULL)
             FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let (undelivered, oldest): (i64, Option<String>) = conn.query_row(
            "SELECT count(*), min(updated_at) FROM transfers
             WHERE state IN ('sent', 'partially_delivered')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(DeliveryGauges {
            outbox_pending: pending as u64,
            outbox_retrying: retrying as u64,
            outbox_given_up: given_up as u64,
            transfers_undelivered: undelivered as u64,
            oldest_undelivered: oldest
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&chrono::Utc)),
        })
    }
}

fn inbox_row(r: &Row<'_>) -> Result<InboxItem, StoreError> {
    let bad = || malformed("inbox item");
    let state: String = r.get(6)?;
    Ok(InboxItem {
        bundle_id: r.get(0)?,
        source: r.get(1)?,
        size: r.get::<_, i64>(2)?.try_into().map_err(|_| bad())?,
        documents: r.get::<_, i64>(3)?.try_into().map_err(|_| bad())?,
        created_at: r.get::<_, Time>(4)?.0,
        received_at: r.get::<_, Time>(5)?.0,
        state: InboxState::parse(&state).ok_or_else(bad)?,
        decided_by: r.get(7)?,
        decided_at: r.get::<_, Option<Time>>(8)?.map(|t| t.0),
        reason: r.get(9)?,
        child_id: r.get(10)?,
    })
}

fn outbox_row(r: &Row<'_>) -> Result<OutboxItem, StoreError> {
    let kind: String = r.get(0)?;
    Ok(OutboxItem {
        kind: OutboxKind::parse(&kind).ok_or_else(|| malformed("outbox item"))?,
        bundle_id: r.get(1)?,
        destination: r.get(2)?,
        queued_at: r.get::<_, Time>(3)?.0,
        attempts: r.get(4)?,
        next_attempt_at: r.get::<_, Time>(5)?.0,
        last_error: r.get(6)?,
        done_at: r.get::<_, Option<Time>>(7)?.map(|t| t.0),
        gave_up_at: r.get::<_, Option<Time>>(8)?.map(|t| t.0),
    })
}
