//! Grants: a support person may read some kinds of one child's papers, for
//! one purpose, until a time.

use chrono::{DateTime, Duration, Utc};

use super::access::Note;
use super::{Vault, VaultError};
use crate::domain::{ChildId, DocKind, Grant, GrantId, Principal, Purpose, Role};
use crate::policy::Action;

/// Longest grant.
pub const MAX_GRANT_DAYS: i64 = 366;

impl Vault {
    /// Grants user `to` (a support person) read access to `kinds` of
    /// `child`'s papers for `purpose` until `until`.
    pub fn add_grant(
        &self,
        actor: &Principal,
        to: &str,
        child: ChildId,
        kinds: Vec<DocKind>,
        purpose: Purpose,
        until: DateTime<Utc>,
    ) -> Result<Grant, VaultError> {
        let note = Note {
            target: None,
            purpose: Some(purpose),
        };
        self.authorize_child(actor, Action::GrantAccess, child, note)?;
        let grantee = self
            .db
            .user_by_name(to)?
            .map(|(u, _)| u)
            .filter(|u| !u.disabled)
            .ok_or_else(|| VaultError::UnknownUser(to.to_string()))?;
        if grantee.role != Role::SupportPerson {
            return Err(VaultError::NotASupportPerson {
                user: to.to_string(),
                role: grantee.role,
            });
        }
        let mut kinds = kinds;
        kinds.sort();
        kinds.dedup();
        if kinds.is_empty() {
            return Err(VaultError::GrantWithoutKinds);
        }
        let now = self.now();
        if until <= now || until > now + Duration::days(MAX_GRANT_DAYS) {
            return Err(VaultError::GrantPeriod {
                max_days: MAX_GRANT_DAYS,
            });
        }
        let grant = Grant {
            id: GrantId::new(),
            user: grantee.id,
            child,
            kinds,
            purpose,
            until,
            granted_by: actor.label(),
            created_at: now,
            revoked_at: None,
        };
        self.db.insert_grant(&grant)?;
        tracing::info!(grant = %grant.id, child = %child, user = %grantee.id, "grant added");
        Ok(grant)
    }

    /// Grants for one child (needs the right to grant for it), or all of them
    /// (administration).
    pub fn list_grants(
        &self,
        actor: &Principal,
        child: Option<ChildId>,
    ) -> Result<Vec<Grant>, VaultError> {
        match child {
            Some(c) => {
                self.authorize_child(actor, Action::GrantAccess, c, Note::default())?;
            }
            None => self.authorize_node(actor, Action::Administer, Note::default())?,
        }
        Ok(self.db.grants(None, child)?)
    }

    /// Ends a grant at once.
    pub fn revoke_grant(&self, actor: &Principal, id: GrantId) -> Result<Grant, VaultError> {
        let unknown = || VaultError::UnknownGrant(id.to_string());
        let grant = self.db.grant(id)?.ok_or_else(unknown)?;
        self.authorize_child(actor, Action::GrantAccess, grant.child, Note::target(id))
            .map_err(|e| match e {
                VaultError::UnknownChild(_) => unknown(),
                e => e,
            })?;
        if !self.db.revoke_grant(id, self.now())? {
            return Err(unknown());
        }
        tracing::info!(grant = %id, "grant revoked");
        self.db.grant(id)?.ok_or_else(unknown)
    }
}
