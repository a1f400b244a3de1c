//! User accounts, passwords (Argon2id, see `passwords`) and API tokens
//! (shown once, stored as SHA-256), and turning a token or a password back
//! into a principal.
//!
//! Separation of duties: an administrator never reads papers (the policies
//! forbid it), and cannot borrow an account that can:
//!
//! * a token is made only for a token-only account (a service), or by a
//!   user for themselves;
//! * a password set by someone else (a new account's, a reset) works once,
//!   to set a new one (see [`Vault::start_session`]);
//! * a reset, a disable and a change of role or scope revoke every token
//!   and session of the account, for good;
//! * every such act is audited with the account as target, and creating a
//!   read-capable account, giving one a read-capable role and resetting a
//!   password are kept as oversight events (`Vault::status`).

use std::net::IpAddr;

use base64ct::{Base64UrlUnpadded, Encoding};
use chrono::Duration;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::access::Note;
use super::passwords;
use super::{Vault, VaultError};
use crate::domain::{
    reads_papers, OversightKind, Principal, Role, Scope, TokenId, TokenInfo, User, UserId,
};
use crate::policy::Action;

pub use super::passwords::{WeakPassword, MIN_PASSWORD_CHARS};

/// Longest token lifetime.
pub const MAX_TOKEN_DAYS: i64 = 366;
const TOKEN_PREFIX: &str = "hov_";

fn valid_user_name(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
}

pub(super) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Is `actor` the user named `name`?
fn is_self(actor: &Principal, name: &str) -> bool {
    matches!(actor, Principal::User(u) if u.name == name)
}

impl Vault {
    /// Adds a user. Without a password the user can use tokens only; a
    /// password given here must be changed at the user's first login.
    pub fn add_user(
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
            must_change_password: password.is_some(),
            created_at: self.now(),
        };
        self.authorize_node(actor, Action::Administer, Note::target(user.id))?;
        if !valid_user_name(name) {
            return Err(VaultError::InvalidUserName);
        }
        let hash = match password {
            Some(pw) => {
                passwords::check_strength(name, pw)?;
                Some(passwords::hash(pw)?)
            }
            None => None,
        };
        let oversight = reads_papers(role).then_some(OversightKind::ReaderCreated);
        if !self
            .db
            .insert_user(&user, hash.as_deref(), &actor.label(), oversight)?
        {
            return Err(VaultError::UserExists(name.to_string()));
        }
        tracing::info!(user = %user.id, role = %user.role, "user added");
        Ok(user)
    }

    /// Every user.
    pub fn list_users(&self, actor: &Principal) -> Result<Vec<User>, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::default())?;
        Ok(self.db.users()?)
    }

    /// An administrative act on the account `name`: audited with the
    /// account as target (an unknown name too, as `unknown`), then the
    /// account.
    fn administer_user(&self, actor: &Principal, name: &str) -> Result<User, VaultError> {
        let found = self.db.user_by_name(name)?.map(|(u, _)| u);
        let target = found
            .as_ref()
            .map_or_else(|| "unknown".to_string(), |u| u.id.to_string());
        self.authorize_node(actor, Action::Administer, Note::target(target))?;
        found.ok_or_else(|| VaultError::UnknownUser(name.to_string()))
    }

    /// Disables (or enables again) a user. Disabling revokes every token
    /// and session of the user for good: enabling brings none back.
    pub fn set_user_disabled(
        &self,
        actor: &Principal,
        name: &str,
        disabled: bool,
    ) -> Result<User, VaultError> {
        let mut user = self.administer_user(actor, name)?;
        let revoked = self.db.set_user_disabled(user.id, disabled, self.now())?;
        user.disabled = disabled;
        tracing::info!(user = %user.id, disabled, revoked, "user changed");
        Ok(user)
    }

    /// Gives a user another role or scope; revokes every token and session
    /// of theirs.
    pub fn set_user_role(
        &self,
        actor: &Principal,
        name: &str,
        role: Role,
        scope: Scope,
    ) -> Result<User, VaultError> {
        let mut user = self.administer_user(actor, name)?;
        if user.role == role && user.scope == scope {
            return Ok(user);
        }
        user.role = role;
        user.scope = scope;
        let oversight = reads_papers(role).then_some(OversightKind::ReaderRoleGiven);
        let revoked = self
            .db
            .set_user_role(&user, &actor.label(), oversight, self.now())?;
        tracing::info!(user = %user.id, role = %user.role, revoked, "user role changed");
        Ok(user)
    }

    /// Sets another user's password (a reset): it works once, to choose a
    /// new one, and every token and session of the user is revoked. Users
    /// change their own password with [`Vault::start_session`].
    pub fn set_password(
        &self,
        actor: &Principal,
        name: &str,
        password: &SecretString,
    ) -> Result<(), VaultError> {
        let user = self.administer_user(actor, name)?;
        passwords::check_strength(name, password)?;
        let revoked = self.db.set_password_hash(
            user.id,
            &passwords::hash(password)?,
            Some(&actor.label()),
            None,
            self.now(),
        )?;
        tracing::info!(user = %user.id, revoked, "password reset");
        Ok(())
    }

    /// Creates an API token for a user; the token is returned once and
    /// only its digest is kept. An administrator makes tokens only for
    /// token-only accounts (services); a user makes their own.
    pub fn create_token(
        &self,
        actor: &Principal,
        name: &str,
        lifetime: std::time::Duration,
    ) -> Result<(TokenInfo, SecretString), VaultError> {
        let user = if is_self(actor, name) {
            let Principal::User(me) = actor else {
                unreachable!("is_self holds only for users")
            };
            self.record_account_event(actor, "create_token", me.id, true)?;
            me.clone()
        } else {
            let user = self.administer_user(actor, name)?;
            if user.has_password {
                return Err(VaultError::SeparationOfDuties(
                    "a token for an account with a password is made only by its user",
                ));
            }
            user
        };
        let lifetime = Duration::from_std(lifetime)
            .ok()
            .filter(|d| *d > Duration::zero() && *d <= Duration::days(MAX_TOKEN_DAYS))
            .ok_or_else(|| VaultError::TokenLifetime {
                max_days: MAX_TOKEN_DAYS,
            })?;
        let (row, token) = self.new_token(user.id, lifetime)?;
        tracing::info!(token = %row.id, user = %user.id, "token created");
        Ok((row, token))
    }

    /// Tokens of one user (by name) or of everyone.
    pub fn list_tokens(
        &self,
        actor: &Principal,
        name: Option<&str>,
    ) -> Result<Vec<TokenInfo>, VaultError> {
        let user = match name {
            Some(n) => Some(self.administer_user(actor, n)?),
            None => {
                self.authorize_node(actor, Action::Administer, Note::default())?;
                None
            }
        };
        Ok(self.db.tokens(user.map(|u| u.id))?)
    }

    /// Revokes a token at once.
    pub fn revoke_token(&self, actor: &Principal, id: TokenId) -> Result<(), VaultError> {
        self.authorize_node(actor, Action::Administer, Note::target(id))?;
        if !self.db.revoke_token(id, self.now())? {
            return Err(VaultError::UnknownToken(id.to_string()));
        }
        tracing::info!(token = %id, "token revoked");
        Ok(())
    }

    /// The user a token belongs to, if the token is live and the user
    /// enabled. A refused token is audited (by its id if it is known).
    pub fn authenticate_token(&self, token: &str) -> Result<Principal, VaultError> {
        let row = self.db.token_by_hash(&token_hash(token.trim()))?;
        let refused = |state: &str, id: Option<TokenId>| -> Result<Principal, VaultError> {
            self.record_refused_token(state, id)?;
            Err(VaultError::Unauthenticated)
        };
        let Some(row) = row else {
            return refused("unknown", None);
        };
        match row.state(self.now()) {
            "active" => {}
            state => return refused(state, Some(row.id)),
        }
        match self.enabled_user(row.user) {
            Ok(p) => Ok(p),
            Err(VaultError::Unauthenticated) => refused("user-disabled", Some(row.id)),
            Err(e) => Err(e),
        }
    }

    /// Password checks (Argon2) this process has made.
    pub fn password_checks(&self) -> u64 {
        passwords::checks()
    }

    /// Makes what logins need ahead of the first one.
    pub fn prepare_logins(&self) {
        passwords::prepare();
    }

    /// Logs a user in with name and password from `client`: a new token for
    /// that user, lasting `lifetime`. With `new_password`, the password is
    /// changed first (required when someone else set it, allowed always),
    /// which revokes every other token of the user. Attempts are counted
    /// before the password is checked and slowed down past the limits
    /// (`throttle`). Audited: a refusal too, without the name tried.
    pub fn start_session(
        &self,
        name: &str,
        password: &SecretString,
        new_password: Option<&SecretString>,
        client: IpAddr,
        lifetime: std::time::Duration,
    ) -> Result<(TokenInfo, SecretString), VaultError> {
        let lifetime = Duration::from_std(lifetime).map_err(|_| VaultError::TokenLifetime {
            max_days: MAX_TOKEN_DAYS,
        })?;
        let (user, principal) = self.sign_in(name, password, new_password, client)?;
        let (row, token) = self.new_token(user.id, lifetime)?;
        self.record_login(Some(&principal), "ok")?;
        Ok((row, token))
    }

    /// Checks a login by name and password (throttled, one Argon2 check
    /// whatever the name), and changes the password on the way when
    /// `new_password` is given; the user and principal on success. Every
    /// refusal is audited here; the caller audits the success once it has
    /// made what the login gives.
    pub(super) fn sign_in(
        &self,
        name: &str,
        password: &SecretString,
        new_password: Option<&SecretString>,
        client: IpAddr,
    ) -> Result<(User, Principal), VaultError> {
        let attempt = match self.logins.begin(name, client) {
            Ok(a) => a,
            Err(t) => {
                self.record_login(None, "throttled")?;
                return Err(VaultError::Throttled {
                    retry_after_secs: t.retry_after.as_secs().max(1),
                });
            }
        };
        let found = self.db.user_by_name(name.trim())?;
        let hash = found.as_ref().and_then(|(_, h)| h.as_deref());
        // One Argon2 check whatever the name: unknown and token-only
        // names are checked against a dummy hash.
        if !passwords::verify(hash, password) {
            self.record_login(None, "refused")?;
            return Err(VaultError::Unauthenticated);
        }
        let Some((user, _)) = found else {
            return Err(VaultError::Unauthenticated);
        };
        let principal = match self.enabled_user(user.id) {
            Ok(p) => p,
            Err(e) => {
                self.record_login(None, "refused")?;
                return Err(e);
            }
        };
        attempt.succeeded();
        match new_password {
            Some(new) => {
                if new.expose_secret() == password.expose_secret() {
                    return Err(WeakPassword::Unchanged.into());
                }
                passwords::check_strength(&user.name, new)?;
                let revoked = self.db.set_password_hash(
                    user.id,
                    &passwords::hash(new)?,
                    None,
                    None,
                    self.now(),
                )?;
                self.record_account_event(&principal, "change_password", user.id, true)?;
                self.first_password_replaced(user.id)?;
                tracing::info!(user = %user.id, revoked, "password changed by its user");
            }
            None if user.must_change_password => {
                self.record_login(Some(&principal), "password-change-required")?;
                return Err(VaultError::PasswordChangeRequired);
            }
            None => {}
        }
        Ok((user, principal))
    }

    pub(super) fn enabled_user(&self, id: UserId) -> Result<Principal, VaultError> {
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
    ) -> Result<(TokenInfo, SecretString), VaultError> {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = format!(
            "{TOKEN_PREFIX}{}",
            Base64UrlUnpadded::encode_string(&secret)
        );
        let now = self.now();
        let row = TokenInfo {
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
