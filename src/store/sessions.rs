//! Browser sessions (the digest of each secret, never the secret) and
//! each user's language for the pages.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

use super::columns::Time;
use super::{Db, StoreError};
use crate::domain::{Language, SessionId, SessionInfo, UserId};

impl Db {
    /// Stores a new session under the digest of its secret.
    pub fn insert_session(&self, s: &SessionInfo, hash: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO sessions (id, user_id, hash, created_at, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![s.id, s.user, hash, Time(s.created_at), Time(s.last_seen)],
        )?;
        Ok(())
    }

    /// The session whose secret has digest `hash`, with its user's language.
    pub fn session_by_hash(&self, hash: &str) -> Result<Option<SessionInfo>, StoreError> {
        self.read()
            .query_row(
                "SELECT s.id, s.user_id, s.created_at, s.last_seen, u.language
                 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?1",
                [hash],
                |r| {
                    Ok(SessionInfo {
                        id: r.get(0)?,
                        user: r.get(1)?,
                        created_at: r.get::<_, Time>(2)?.0,
                        last_seen: r.get::<_, Time>(3)?.0,
                        language: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(StoreError::from)
    }

    /// Records a use of the session.
    pub fn touch_session(&self, id: SessionId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE sessions SET last_seen = ?2 WHERE id = ?1",
            params![id, Time(at)],
        )?;
        Ok(())
    }

    /// Ends a session; `false` if there was none.
    pub fn delete_session(&self, id: SessionId) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute("DELETE FROM sessions WHERE id = ?1", [id])?;
        Ok(n == 1)
    }

    /// Removes every session that has ended by `idle_before` (last used
    /// then or earlier) or `started_before`; returns how many.
    pub fn delete_ended_sessions(
        &self,
        idle_before: DateTime<Utc>,
        started_before: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        Ok(self.conn().execute(
            "DELETE FROM sessions WHERE last_seen <= ?1 OR created_at <= ?2",
            params![Time(idle_before), Time(started_before)],
        )?)
    }

    /// The language a user chose for the pages, if any.
    pub fn session_language(&self, user: UserId) -> Result<Option<Language>, StoreError> {
        Ok(self
            .read()
            .query_row("SELECT language FROM users WHERE id = ?1", [user], |r| {
                r.get(0)
            })
            .optional()?
            .flatten())
    }

    /// Sets the language a user chose for the pages.
    pub fn set_user_language(&self, user: UserId, language: Language) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE users SET language = ?2 WHERE id = ?1",
            params![user, language],
        )?;
        Ok(())
    }
}

/// Ends every session of `user`, in the transaction that changes the
/// account (its password, its role, disabling it).
pub(super) fn end_sessions(tx: &Transaction<'_>, user: UserId) -> Result<usize, StoreError> {
    Ok(tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user])?)
}
