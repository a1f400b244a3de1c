//! Rows of the `users` and `tokens` tables. Passwords are stored only as
//! Argon2id hashes and tokens only as SHA-256 digests.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::children::malformed;
use super::columns::Time;
use super::{Db, StoreError};
use crate::domain::{OversightEvent, OversightKind, TokenId, TokenInfo, User, UserId};

const USER_COLUMNS: &str =
    "id, name, role, scope, password_hash IS NOT NULL, disabled, created_at, must_change_password";

impl Db {
    /// Adds a user, created by `created_by` (an opaque label); `false`
    /// when the name is taken. `oversight` is written in the same
    /// transaction.
    pub fn insert_user(
        &self,
        user: &User,
        password_hash: Option<&str>,
        created_by: &str,
        oversight: Option<OversightKind>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "INSERT INTO users (id, name, role, scope, password_hash, disabled, created_at,
                                must_change_password, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(name) DO NOTHING",
            params![
                user.id,
                user.name,
                user.role.as_str(),
                user.scope.to_string(),
                password_hash,
                user.disabled,
                Time(user.created_at),
                user.must_change_password,
                created_by,
            ],
        )?;
        if n == 1 {
            if let Some(kind) = oversight {
                insert_oversight(&tx, kind, created_by, user.id, user.created_at)?;
            }
        }
        tx.commit()?;
        Ok(n == 1)
    }

    /// Changes a user's role and scope and revokes every token of theirs,
    /// in one transaction; `oversight` is written with it.
    pub fn set_user_role(
        &self,
        user: &User,
        actor: &str,
        oversight: Option<OversightKind>,
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE users SET role = ?2, scope = ?3 WHERE id = ?1",
            params![user.id, user.role.as_str(), user.scope.to_string()],
        )?;
        let revoked = revoke_all(&tx, user.id, at)?;
        if let Some(kind) = oversight {
            insert_oversight(&tx, kind, actor, user.id, at)?;
        }
        tx.commit()?;
        Ok(revoked)
    }

    /// What administrators did that a second person should see: how many
    /// acts of each kind, and the latest.
    pub fn oversight(&self) -> Result<Vec<OversightEvent>, StoreError> {
        let conn = self.read();
        let mut stmt =
            conn.prepare("SELECT kind, actor, target, at FROM oversight_events ORDER BY seq DESC")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, UserId>(2)?,
                r.get::<_, Time>(3)?,
            ))
        })?;
        rows.map(|r| {
            let (kind, actor, target, at) = r?;
            Ok(OversightEvent {
                kind: OversightKind::parse(&kind).ok_or_else(|| malformed("oversight kind"))?,
                actor,
                target,
                at: at.0,
            })
        })
        .collect()
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))?;
        let rows = stmt.query_map([], |r| Ok(user_from_row(r)))?;
        rows.map(|r| r?).collect()
    }

    /// Up to `limit` users in name order after the user `after`, whose
    /// name holds `q` (already lower case) if given.
    pub fn users_page(
        &self,
        q: Option<&str>,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users
             WHERE (?1 IS NULL OR (name, id) > (SELECT name, id FROM users WHERE id = ?1))
             AND (?2 IS NULL OR instr(lower(name), ?2) > 0)
             ORDER BY name LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![after, q, limit as i64], |r| Ok(user_from_row(r)))?;
        rows.map(|r| r?).collect()
    }

    /// A user by id.
    pub fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.read()
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                [id],
                |r| Ok(user_from_row(r)),
            )
            .optional()?
            .transpose()
    }

    /// A user by login name, with the password hash if one is set.
    pub fn user_by_name(&self, name: &str) -> Result<Option<(User, Option<String>)>, StoreError> {
        self.read()
            .query_row(
                &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE name = ?1"),
                [name],
                |r| Ok(user_from_row(r).map(|u| (u, r.get(8).ok().flatten()))),
            )
            .optional()?
            .transpose()
    }

    /// Disables or enables a user. Disabling also revokes every token of
    /// theirs for good (enabling brings none back). Returns how many were
    /// revoked.
    pub fn set_user_disabled(
        &self,
        id: UserId,
        disabled: bool,
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE users SET disabled = ?2 WHERE id = ?1",
            params![id, disabled],
        )?;
        let revoked = if disabled {
            revoke_all(&tx, id, at)?
        } else {
            0
        };
        tx.commit()?;
        Ok(revoked)
    }

    /// Replaces a user's password hash. A password set by someone else
    /// (`reset_by`) must be changed at first use, and revokes every token
    /// and ends every browser session of the user; the user's own change
    /// keeps the token it is made with (`keep`) and revokes the others.
    /// One transaction.
    pub fn set_password_hash(
        &self,
        id: UserId,
        hash: &str,
        reset_by: Option<&str>,
        keep: Option<TokenId>,
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE users SET password_hash = ?2, must_change_password = ?3 WHERE id = ?1",
            params![id, hash, reset_by.is_some()],
        )?;
        let revoked = tx.execute(
            "UPDATE tokens SET revoked_at = ?2
             WHERE user_id = ?1 AND revoked_at IS NULL AND (?3 IS NULL OR id != ?3)",
            params![id, Time(at), keep],
        )?;
        super::sessions::end_sessions(&tx, id)?;
        if let Some(actor) = reset_by {
            insert_oversight(&tx, OversightKind::PasswordReset, actor, id, at)?;
        }
        tx.commit()?;
        Ok(revoked)
    }

    /// Stores a new token's digest.
    pub fn insert_token(&self, row: &TokenInfo, hash: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO tokens (id, user_id, hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                row.id,
                row.user,
                hash,
                Time(row.created_at),
                Time(row.expires_at)
            ],
        )?;
        Ok(())
    }

    /// The token whose digest is `hash`.
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<TokenInfo>, StoreError> {
        self.read()
            .query_row(
                "SELECT id, user_id, created_at, expires_at, revoked_at FROM tokens WHERE hash = ?1",
                [hash],
                |r| Ok(token_from_row(r)),
            )
            .optional()?
            .transpose()
    }

    /// Tokens, newest first, of one user or of everyone.
    pub fn tokens(&self, user: Option<UserId>) -> Result<Vec<TokenInfo>, StoreError> {
        let conn = self.read();
        let mut stmt = conn.prepare(
            "SELECT id, user_id, created_at, expires_at, revoked_at FROM tokens
             WHERE ?1 IS NULL OR user_id = ?1 ORDER BY created_at DESC, id",
        )?;
        let rows = stmt.query_map([user], |r| Ok(token_from_row(r)))?;
        rows.map(|r| r?).collect()
    }

    /// Revokes a token; `false` when unknown or already revoked.
    pub fn revoke_token(&self, id: TokenId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, Time(at)],
        )?;
        Ok(n == 1)
    }
}

/// Revokes every live token of `user`, and ends their browser sessions.
fn revoke_all(tx: &Transaction<'_>, user: UserId, at: DateTime<Utc>) -> Result<usize, StoreError> {
    super::sessions::end_sessions(tx, user)?;
    Ok(tx.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user, Time(at)],
    )?)
}

fn insert_oversight(
    tx: &Transaction<'_>,
    kind: OversightKind,
    actor: &str,
    target: UserId,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO oversight_events (kind, actor, target, at) VALUES (?1, ?2, ?3, ?4)",
        params![kind.as_str(), actor, target, Time(at)],
    )?;
    Ok(())
}

fn user_from_row(r: &Row<'_>) -> Result<User, StoreError> {
    let text = |i: usize| r.get::<_, String>(i).map_err(StoreError::from);
    Ok(User {
        id: r.get(0)?,
        name: text(1)?,
        role: r.get(2)?,
        scope: r.get(3)?,
        has_password: r.get(4)?,
        disabled: r.get(5)?,
        created_at: r.get::<_, Time>(6)?.0,
        must_change_password: r.get(7)?,
    })
}

fn token_from_row(r: &Row<'_>) -> Result<TokenInfo, StoreError> {
    Ok(TokenInfo {
        id: r.get(0)?,
        user: r.get(1)?,
        created_at: r.get::<_, Time>(2)?.0,
        expires_at: r.get::<_, Time>(3)?.0,
        revoked_at: r.get::<_, Option<Time>>(4)?.map(|t| t.0),
    })
}
