//! Sessions of people at a browser: a login by name and password (the
//! same throttling, Argon2 check and forced password change as a token
//! login) starts one; only the SHA-256 of its 256-bit secret is stored.
//! A session ends after `session_idle_secs` without use and
//! `session_max_secs` after its login, at logout, and when the account's
//! password, role or state changes. The secret travels in whatever the
//! face chooses (the web pages use a cookie); the vault never sees how.

use std::net::IpAddr;

use base64ct::{Base64UrlUnpadded, Encoding};
use chrono::Duration;
use rand::RngCore;
use secrecy::SecretString;

use super::users::token_hash;
use super::{Vault, VaultError};
use crate::domain::{Language, Principal, SessionId, SessionInfo};

const SESSION_PREFIX: &str = "hos_";

/// Uses closer together than this (or a quarter of the idle limit, if
/// less) do not rewrite the last-use time, so reading pages does not
/// write to the database at every request; a session may so end up to
/// this much before its idle limit.
const TOUCH_EVERY_SECS: i64 = 30;

impl Vault {
    fn session_limits(&self) -> (Duration, Duration) {
        (
            Duration::seconds(self.settings.session_idle_secs as i64),
            Duration::seconds(self.settings.session_max_secs as i64),
        )
    }

    /// Logs a user in from `client` (see [`Vault::start_session`] for the
    /// checks, which are the same) and starts a session; returns it and
    /// its secret, shown this once. `language`, the one the person chose
    /// before logging in, becomes the user's if they have none yet.
    pub fn open_session(
        &self,
        name: &str,
        password: &SecretString,
        new_password: Option<&SecretString>,
        client: IpAddr,
        language: Language,
    ) -> Result<(SessionInfo, SecretString), VaultError> {
        let (user, principal) = self.sign_in(name, password, new_password, client)?;
        let language = match self.db.session_language(user.id)? {
            Some(l) => l,
            None => {
                self.db.set_user_language(user.id, language)?;
                language
            }
        };
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = format!(
            "{SESSION_PREFIX}{}",
            Base64UrlUnpadded::encode_string(&secret)
        );
        let now = self.now();
        let session = SessionInfo {
            id: SessionId::new(),
            user: user.id,
            created_at: now,
            last_seen: now,
            language: Some(language),
        };
        self.db.insert_session(&session, &token_hash(&token))?;
        self.record_login(Some(&principal), "ok")?;
        Ok((session, SecretString::from(token)))
    }

    /// The user of a live session, and the session. An unknown secret, a
    /// session past either limit (it is then removed) and one whose user
    /// is disabled are refused as unauthenticated, and audited.
    pub fn resume_session(&self, secret: &str) -> Result<(Principal, SessionInfo), VaultError> {
        let Some(mut session) = self.db.session_by_hash(&token_hash(secret.trim()))? else {
            self.record_refused_session("unknown", None)?;
            return Err(VaultError::Unauthenticated);
        };
        let now = self.now();
        let (idle, absolute) = self.session_limits();
        if session.has_ended(now, idle, absolute) {
            self.db.delete_session(session.id)?;
            self.record_refused_session("ended", Some(session.id))?;
            return Err(VaultError::Unauthenticated);
        }
        let principal = match self.enabled_user(session.user) {
            Ok(p) => p,
            Err(VaultError::Unauthenticated) => {
                self.record_refused_session("user-disabled", Some(session.id))?;
                return Err(VaultError::Unauthenticated);
            }
            Err(e) => return Err(e),
        };
        let every = Duration::seconds(TOUCH_EVERY_SECS).min(idle / 4);
        if now - session.last_seen >= every {
            self.db.touch_session(session.id, now)?;
            session.last_seen = now;
        }
        Ok((principal, session))
    }

    /// Ends a session (logout). Audited; an unknown secret is no error.
    pub fn close_session(&self, secret: &str) -> Result<(), VaultError> {
        let Some(session) = self.db.session_by_hash(&token_hash(secret.trim()))? else {
            return Ok(());
        };
        self.db.delete_session(session.id)?;
        let who = self.enabled_user(session.user).ok();
        self.record_event(
            who.as_ref().map_or("anonymous".into(), Principal::label),
            who.as_ref().map_or("none", Principal::role_label),
            "logout",
            true,
            Some(format!("session:{}", session.id)),
        )
    }

    /// Removes every session past either limit; returns how many.
    pub fn sweep_ended_sessions(&self) -> Result<usize, VaultError> {
        let now = self.now();
        let (idle, absolute) = self.session_limits();
        Ok(self.db.delete_ended_sessions(now - idle, now - absolute)?)
    }

    /// Remembers the language `actor` chose for the pages.
    pub fn set_language(&self, actor: &Principal, language: Language) -> Result<(), VaultError> {
        match actor {
            Principal::User(u) => Ok(self.db.set_user_language(u.id, language)?),
            Principal::LocalOperator => Err(VaultError::Denied("the operator has no language")),
        }
    }
}
