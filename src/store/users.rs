//! Rows of the `users` and `tokens` tables. Passwords are stored only as
//! Argon2id hashes and tokens only as SHA-256 digests.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::children::{malformed, parse_time};
use super::{Db, StoreError};
use crate::domain::{TokenId, User, UserId};

const USER_COLUMNS: &str = "id, name, role, scope, password_hash IS NOT NULL, disabled, created_at";

/// An API token's row (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRow {
    pub id: TokenId,
    pub user: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRow {
    /// `active`, `expired` or `revoked` at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if now >= self.expires_at {
            "expired"
        } else {
            "active"
        }
    }
}

impl Db {
    /// Adds a user; `false` when the name is taken.
    pub fn insert_user(
        &self,
        user: &User,
        password_hash: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "INSERT INTO users (id, name, role, scope, password_hash, disabled, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(name) DO NOTHING",
            params![
                user.id.to_string(),
                user.name,
                user.role.as_str(),
                user.scope.to_string(),
                password_hash,
                user.disabled,
                user.created_at.to_rfc3339()
            ],
        )?;
        Ok(n == 1)
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))?;
        let rows = stmt.query_map([], |r| Ok(user_from_row(r)))?;
        rows.map(|r| r?).collect()
    }

    /// A user by id.
    pub fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                [id.to_string()],
                |r| Ok(user_from_row(r)),
            )
            .optional()?
            .transpose()
    }

    /// A user by login name, with the password hash if one is set.
    pub fn user_by_name(&self, name: &str) -> Result<Option<(User, Option<String>)>, StoreError> {
        self.conn()
            .query_row(
                &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE name = ?1"),
                [name],
                |r| Ok(user_from_row(r).map(|u| (u, r.get(7).ok().flatten()))),
            )
            .optional()?
            .transpose()
    }

    /// Disables or enables a user; `false` when there is no such user.
    pub fn set_user_disabled(&self, id: UserId, disabled: bool) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE users SET disabled = ?2 WHERE id = ?1",
            params![id.to_string(), disabled],
        )?;
        Ok(n == 1)
    }

    /// Replaces a user's password hash.
    pub fn set_password_hash(&self, id: UserId, hash: &str) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![id.to_string(), hash],
        )?;
        Ok(n == 1)
    }

    /// Stores a new token's digest.
    pub fn insert_token(&self, row: &TokenRow, hash: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO tokens (id, user_id, hash, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                row.id.to_string(),
                row.user.to_string(),
                hash,
                row.created_at.to_rfc3339(),
                row.expires_at.to_rfc3339()
            ],
        )?;
        Ok(())
    }

    /// The token whose digest is `hash`.
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRow>, StoreError> {
        self.conn()
            .query_row(
                "SELECT id, user_id, created_at, expires_at, revoked_at FROM tokens WHERE hash = ?1",
                [hash],
                |r| Ok(token_from_row(r)),
            )
            .optional()?
            .transpose()
    }

    /// Tokens, newest first, of one user or of everyone.
    pub fn tokens(&self, user: Option<UserId>) -> Result<Vec<TokenRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, user_id, created_at, expires_at, revoked_at FROM tokens
             WHERE ?1 IS NULL OR user_id = ?1 ORDER BY created_at DESC, id",
        )?;
        let rows = stmt.query_map([user.map(|u| u.to_string())], |r| Ok(token_from_row(r)))?;
        rows.map(|r| r?).collect()
    }

    /// Revokes a token; `false` when unknown or already revoked.
    pub fn revoke_token(&self, id: TokenId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id.to_string(), at.to_rfc3339()],
        )?;
        Ok(n == 1)
    }
}

fn user_from_row(r: &Row<'_>) -> Result<User, StoreError> {
    let text = |i: usize| r.get::<_, String>(i).map_err(StoreError::from);
    Ok(User {
        id: text(0)?.parse().map_err(|_| malformed("user id"))?,
        name: text(1)?,
        role: text(2)?.parse().map_err(|_| malformed("role"))?,
        scope: text(3)?.parse().map_err(|_| malformed("scope"))?,
        has_password: r.get(4)?,
        disabled: r.get(5)?,
        created_at: parse_time(&text(6)?)?,
    })
}

fn token_from_row(r: &Row<'_>) -> Result<TokenRow, StoreError> {
    let text = |i: usize| r.get::<_, String>(i).map_err(StoreError::from);
    Ok(TokenRow {
        id: text(0)?.parse().map_err(|_| malformed("token id"))?,
        user: text(1)?.parse().map_err(|_| malformed("user id"))?,
        created_at: parse_time(&text(2)?)?,
        expires_at: parse_time(&text(3)?)?,
        revoked_at: r
            .get::<_, Option<String>>(4)?
            .map(|t| parse_time(&t))
            .transpose()?,
    })
}
