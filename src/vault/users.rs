//! User accounts, passwords (Argon2id) and API tokens (shown once, stored
//! as SHA-256), and turning a token or a password back into a principal.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64ct::{Base64UrlUnpadded, Encoding};
use chrono::{Duration, Utc};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::access::Note;
use super::{Vault, VaultError};
use crate::domain::{Principal, Role, Scope, TokenId, User, UserId};
use crate::policy::Action;
use crate::store::TokenRow;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest token lifetime.
pub const MAX_TOKEN_DAYS: i64 = 366;
const TOKEN_PREFIX: &str = "hov_";

fn valid_user_name(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
}

fn hash_password(pw: &SecretString) -> Result<String, VaultError> {
    if pw.expose_secret().chars().count() < MIN_PASSWORD_CHARS {
        return Err(VaultError::Invalid(format!(
            "the password must have at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pw.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| VaultError::Integrity(format!("password hashing failed: {e}")))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Vault {
    /// Adds a user. Without a password the user can use tokens only.
    pub async fn add_user(
        &self,
        actor: &Principal,
        name: &str,
        role: Role,
        scope: Scope,
        password: Option<&SecretString>,
    ) -> Result<User, VaultError> {
        let user = User {
            id: UserId::new(),
            name: name.to_string(),
            role,
            scope,
            disabled: false,
            has_password: password.is_some(),
            created_at: Utc::now(),
        };
        self.authorize_node(actor, Action::Administer, Note::target(user.id))?;
        if !valid_user_name(name) {
            return Err(VaultError::Invalid(
                "a user name is 2-64 of a-z 0-9 . _ -".into(),
            ));
        }
        let hash = password.map(hash_password).transpose()?;
        if !self.db.insert_user(&user, hash.as_deref())? {
            return Err(VaultError::Invalid(format!("user {name} already exists")));
        }
        tracing::info!(user = %user.id, role = %user.role, "user added");
        Ok(user)
    }

    /// Every user.
    pub async fn list_users(&self, actor: &Principal) -> Result<Vec<User>, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::default())?;
        Ok(self.db.users()?)
    }

    fn user_named(&self, name: &str) -> Result<User, VaultError> {
        self.db
            .user_by_name(name)?
            .map(|(u, _)| u)
            .ok_or_else(|| VaultError::Invalid(format!("no user named {name}")))
    }

    /// Disables (or enables again) a user: a disabled user's tokens and
    /// password stop working at once.
    pub async fn set_user_disabled(
        &self,
        actor: &Principal,
        name: &str,
        disabled: bool,
    ) -> Result<User, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::default())?;
        let mut user = self.user_named(name)?;
        self.db.set_user_disabled(user.id, disabled)?;
        user.disabled = disabled;
        tracing::info!(user = %user.id, disabled, "user changed");
        Ok(user)
    }

    /// Sets a user's password.
    pub async fn set_password(
        &self,
        actor: &Principal,
        name: &str,
        password: &SecretString,
    ) -> Result<(), VaultError> {
        self.authorize_node(actor, Action::Administer, Note::default())?;
        let user = self.user_named(name)?;
        self.db
            .set_password_hash(user.id, &hash_password(password)?)?;
        tracing::info!(user = %user.id, "password set");
        Ok(())
    }

    /// Creates an API token for a user; the token is returned once and
    /// only its digest is kept.
    pub async fn create_token(
        &self,
        actor: &Principal,
        name: &str,
        lifetime: std::time::Duration,
    ) -> Result<(TokenRow, SecretString), VaultError> {
        self.authorize_node(actor, Action::Administer, Note::default())?;
        let user = self.user_named(name)?;
        let lifetime = Duration::from_std(lifetime)
            .ok()
            .filter(|d| *d > Duration::zero() && *d <= Duration::days(MAX_TOKEN_DAYS))
            .ok_or_else(|| {
                VaultError::Invalid(format!(
                    "a token lasts between 1 second and {MAX_TOKEN_DAYS} days"
                ))
            })?;
        let (row, token) = self.new_token(user.id, lifetime)?;
        tracing::info!(token = %row.id, user = %user.id, "token created");
        Ok((row, token))
    }

    /// Tokens of one user (by name) or of everyone.
    pub async fn list_tokens(
        &self,
        actor: &Principal,
        name: Option<&str>,
    ) -> Result<Vec<TokenRow>, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::default())?;
        let user = name.map(|n| self.user_named(n)).transpose()?;
        Ok(self.db.tokens(user.map(|u| u.id))?)
    }

    /// Revokes a token at once.
    pub async fn revoke_token(&self, actor: &Principal, id: TokenId) -> Result<(), VaultError> {
        self.authorize_node(actor, Action::Administer, Note::target(id))?;
        if !self.db.revoke_token(id, Utc::now())? {
            return Err(VaultError::Invalid(format!("no live token {id}")));
        }
        tracing::info!(token = %id, "token revoked");
        Ok(())
    }

    /// The user a token belongs to, if the token is live and the user enabled.
    pub fn authenticate_token(&self, token: &str) -> Result<Principal, VaultError> {
        let row = self
            .db
            .token_by_hash(&token_hash(token.trim()))?
            .filter(|t| t.state(Utc::now()) == "active")
            .ok_or(VaultError::Unauthenticated)?;
        self.enabled_user(row.user)
    }

    /// Logs a user in with name and password: a new token for that user,
    /// lasting `lifetime`. The login is audited (a refusal too, without
    /// the name that was tried).
    pub fn start_session(
        &self,
        name: &str,
        password: &SecretString,
        lifetime: std::time::Duration,
    ) -> Result<(TokenRow, SecretString), VaultError> {
        let principal = match self.authenticate_password(name, password) {
            Ok(p) => p,
            Err(VaultError::Unauthenticated) => {
                self.record_login(None)?;
                return Err(VaultError::Unauthenticated);
            }
            Err(e) => return Err(e),
        };
        let Principal::User(user) = &principal else {
            return Err(VaultError::Unauthenticated);
        };
        let lifetime = Duration::from_std(lifetime)
            .map_err(|_| VaultError::Invalid("session too long".into()))?;
        let (row, token) = self.new_token(user.id, lifetime)?;
        self.record_login(Some(&principal))?;
        Ok((row, token))
    }

    /// The user of a name and password, if both hold and the user is enabled.
    pub fn authenticate_password(
        &self,
        name: &str,
        password: &SecretString,
    ) -> Result<Principal, VaultError> {
        let found = self.db.user_by_name(name)?;
        let Some((user, Some(hash))) = found else {
            return Err(VaultError::Unauthenticated);
        };
        let parsed = PasswordHash::new(&hash).map_err(|_| VaultError::Unauthenticated)?;
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .map_err(|_| VaultError::Unauthenticated)?;
        self.enabled_user(user.id)
    }

    fn enabled_user(&self, id: UserId) -> Result<Principal, VaultError> {
        match self.db.user(id)? {
            Some(u) if !u.disabled => Ok(Principal::User(u)),
            _ => Err(VaultError::Unauthenticated),
        }
    }
}

impl Vault {
    /// A fresh token for `user`; only its digest is stored.
    fn new_token(
        &self,
        user: UserId,
        lifetime: Duration,
    ) -> Result<(TokenRow, SecretString), VaultError> {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = format!(
            "{TOKEN_PREFIX}{}",
            Base64UrlUnpadded::encode_string(&secret)
        );
        let now = Utc::now();
        let row = TokenRow {
            id: TokenId::new(),
            user,
            created_at: now,
            expires_at: now + lifetime,
            revoked_at: None,
        };
        self.db.insert_token(&row, &token_hash(&token))?;
        Ok((row, SecretString::from(token)))
    }
}
