//! The department directory: this node's card and the cards of the
//! departments it exchanges papers with. A card is trusted once added; its
//! fingerprints are what people compare by phone or letter before adding it.
//! A newer card of a known department replaces the old one on its own when
//! its key statements lead from the key this node trusts to its new keys
//! (`docs/key-rotation.md`); any other change of keys needs `replace`,
//! after a phone check. A revoked key (lost or stolen) is never trusted
//! again: nothing it signs is accepted, and nothing is sent to a
//! department whose current key is revoked.

use chrono::Utc;
use serde::Serialize;

use super::access::Note;
use super::{Vault, VaultError};
use crate::crypto::{
    age_fingerprint, parse_recipient, parse_ssh_public, ssh_fingerprint, verify_statement,
};
use crate::domain::{DepartmentCard, PreviousKey, Principal};
use crate::policy::Action;
use crate::store::RevokedKey;

/// A directory entry as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DirectoryEntry {
    #[serde(flatten)]
    pub card: DepartmentCard,
    /// `SHA256:…` of the SSH signing key, as `ssh-keygen -l` prints it.
    pub ssh_fingerprint: String,
    /// `SHA256:…` of the age recipient string.
    pub age_fingerprint: String,
    /// True for this node's own card.
    pub this_node: bool,
    /// When this node revoked the department's current key, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// How a card came into the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardChange {
    /// A department not known before.
    Added,
    /// The same keys as before (other fields may have changed).
    Updated,
    /// New keys, each step signed by the key before it.
    Rotated,
    /// New keys taken on the operator's word (`replace`).
    Replaced,
}

impl Vault {
    /// Adds a department's card to the directory. A card for an id already
    /// present with other keys is refused unless its key statements lead
    /// from the trusted key to its keys, or `replace`.
    pub fn add_department(
        &self,
        actor: &Principal,
        card: DepartmentCard,
        replace: bool,
    ) -> Result<(DirectoryEntry, CardChange), VaultError> {
        self.authorize_node(actor, Action::Administer, Note::target(&card.id))?;
        let mut entry = entry(card, false)?;
        let card = &mut entry.card;
        if card.id == self.card().id {
            return Err(VaultError::OwnDepartment(card.id.clone()));
        }
        let current = ssh_fingerprint(&parse_ssh_public(&card.ssh_public_key)?);
        if self.db.revoked_key(&card.id, &current)?.is_some() {
            return Err(VaultError::RevokedCardKey(card.id.clone()));
        }
        let change = match self.db.department(&card.id)? {
            None => CardChange::Added,
            Some(existing) => {
                let same_keys = existing.age_recipient == card.age_recipient
                    && existing.ssh_public_key == card.ssh_public_key;
                let change = if same_keys {
                    CardChange::Updated
                } else if self.statements_lead(&existing, card)? {
                    CardChange::Rotated
                } else if replace {
                    CardChange::Replaced
                } else {
                    return Err(VaultError::DepartmentKeysChanged(card.id.clone()));
                };
                keep_previous_keys(&existing, card);
                change
            }
        };
        // A key the card itself says was revoked is revoked here too.
        for k in card.previous_keys.iter().filter(|k| k.revoked) {
            let at = chrono::DateTime::parse_from_rfc3339(&k.valid_until)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|_| Utc::now());
            self.db.revoke_key(&RevokedKey {
                department: card.id.clone(),
                fingerprint: ssh_fingerprint(&parse_ssh_public(&k.ssh_public_key)?),
                revoked_at: at,
                reason: "revoked on the department's own card".into(),
            })?;
        }
        self.db.put_department(card, Utc::now())?;
        tracing::info!(department = %card.id, ?change, "department card added");
        Ok((entry, change))
    }

    /// Whether `new`'s key statements lead, one signed step after another,
    /// from `trusted`'s keys to `new`'s keys, through no revoked key.
    fn statements_lead(
        &self,
        trusted: &DepartmentCard,
        new: &DepartmentCard,
    ) -> Result<bool, VaultError> {
        let (mut ssh, mut age) = (
            trusted.ssh_public_key.clone(),
            trusted.age_recipient.clone(),
        );
        for signed in &new.key_statements {
            let Ok(body) = verify_statement(signed) else {
                continue;
            };
            if body.department != new.id
                || body.previous_ssh_public_key != ssh
                || body.previous_age_recipient != age
            {
                continue;
            }
            let by = ssh_fingerprint(&parse_ssh_public(&ssh)?);
            if self.db.revoked_key(&new.id, &by)?.is_some() {
                return Ok(false);
            }
            ssh = body.ssh_public_key;
            age = body.age_recipient;
        }
        Ok(ssh == new.ssh_public_key && age == new.age_recipient)
    }

    /// Revokes department `id`'s current signing key (lost or stolen):
    /// from now on nothing signed with it is accepted and nothing is sent
    /// to the department, until its new card is added (with `replace`,
    /// after a phone check: statements signed by a revoked key count for
    /// nothing).
    pub fn revoke_department(
        &self,
        actor: &Principal,
        id: &str,
        reason: &str,
    ) -> Result<RevokedKey, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::target(id))?;
        if reason.trim().is_empty() || reason.chars().count() > 500 {
            return Err(VaultError::ReasonRequired("revoking a department's key"));
        }
        if id == self.card().id {
            return Err(VaultError::OwnDepartment(id.to_string()));
        }
        let card = self
            .db
            .department(id)?
            .ok_or_else(|| VaultError::UnknownDepartment(crate::domain::text::outside_id(id)))?;
        let revoked = RevokedKey {
            department: card.id.clone(),
            fingerprint: ssh_fingerprint(&parse_ssh_public(&card.ssh_public_key)?),
            revoked_at: Utc::now(),
            reason: reason.trim().to_string(),
        };
        self.db.revoke_key(&revoked)?;
        self.record_event(
            actor.label(),
            actor.role_label(),
            "revoke_department_key",
            true,
            Some(format!("{}:{}", card.id, revoked.fingerprint)),
        )?;
        tracing::warn!(department = %card.id, "department key revoked");
        Ok(self
            .db
            .revoked_key(&revoked.department, &revoked.fingerprint)?
            .unwrap_or(revoked))
    }

    /// This node and every department in the directory.
    pub fn list_departments(&self, _actor: &Principal) -> Result<Vec<DirectoryEntry>, VaultError> {
        let mut all = vec![entry((*self.card()).clone(), true)?];
        for card in self.directory_cards()? {
            let mut e = entry(card, false)?;
            e.revoked_at = current_revocation(&e.card);
            all.push(e);
        }
        Ok(all)
    }

    /// `card` with the keys this node revoked marked revoked.
    pub(super) fn with_revocations(
        &self,
        card: DepartmentCard,
    ) -> Result<DepartmentCard, VaultError> {
        let revoked = self.db.revoked_keys(Some(&card.id))?;
        Ok(mark_revoked(card, &revoked))
    }

    /// Every card of the directory (not this node's), each with the keys
    /// this node revoked marked revoked: two queries, whatever their number.
    pub(super) fn directory_cards(&self) -> Result<Vec<DepartmentCard>, VaultError> {
        let revoked = self.db.revoked_keys(None)?;
        Ok(self
            .db
            .departments()?
            .into_iter()
            .map(|card| {
                let mine: Vec<RevokedKey> = revoked
                    .iter()
                    .filter(|r| r.department == card.id)
                    .cloned()
                    .collect();
                mark_revoked(card, &mine)
            })
            .collect())
    }

    /// The name of every department this node knows (its own included), by id.
    pub fn department_names(
        &self,
    ) -> Result<std::collections::BTreeMap<String, String>, VaultError> {
        let mut names: std::collections::BTreeMap<String, String> = self
            .db
            .departments()?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        names.insert(self.card().id.clone(), self.card().name.clone());
        Ok(names)
    }

    /// The card of department `id`: this node's or one from the directory.
    /// A department whose current key this node revoked is refused.
    pub fn department_card(&self, id: &str) -> Result<DepartmentCard, VaultError> {
        if id == self.card().id {
            return Ok((*self.card()).clone());
        }
        let card = self
            .db
            .department(id)?
            .ok_or_else(|| VaultError::UnknownDepartment(crate::domain::text::outside_id(id)))?;
        let card = self.with_revocations(card)?;
        match current_revocation(&card) {
            Some(since) => Err(VaultError::RevokedDepartment {
                department: card.id,
                since,
            }),
            None => Ok(card),
        }
    }
}

/// Checks a card's fields and keys, and computes its fingerprints.
fn entry(card: DepartmentCard, this_node: bool) -> Result<DirectoryEntry, VaultError> {
    super::node::validate_department_id(&card.id)?;
    if card.name.trim().is_empty() || card.name.chars().count() > 200 {
        return Err(VaultError::InvalidCard(
            "a department card needs a name (up to 200 characters)".into(),
        ));
    }
    let recipient = parse_recipient(&card.age_recipient)?;
    let ssh = parse_ssh_public(&card.ssh_public_key)?;
    if let Some(url) = &card.inbox_url {
        let parsed = url::Url::parse(url).map_err(|_| {
            VaultError::InvalidCard(format!("inbox URL of {} is not a URL", card.id))
        })?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(VaultError::InvalidCard(
                "an inbox URL must be http(s)".into(),
            ));
        }
    }
    for k in &card.previous_keys {
        parse_ssh_public(&k.ssh_public_key)?;
    }
    Ok(DirectoryEntry {
        ssh_fingerprint: ssh_fingerprint(&ssh),
        age_fingerprint: age_fingerprint(&recipient),
        card,
        this_node,
        revoked_at: None,
    })
}

/// `card` with the keys of `revoked` marked revoked (a revoked current key
/// also appears among its previous keys, revoked).
fn mark_revoked(mut card: DepartmentCard, revoked: &[RevokedKey]) -> DepartmentCard {
    for revoked in revoked {
        let since = revoked
            .revoked_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut known = false;
        for k in card.previous_keys.iter_mut() {
            if fingerprint(&k.ssh_public_key) == revoked.fingerprint {
                k.revoked = true;
                k.valid_until = since.clone();
                known = true;
            }
        }
        if !known && fingerprint(&card.ssh_public_key) == revoked.fingerprint {
            card.previous_keys.push(PreviousKey {
                ssh_public_key: card.ssh_public_key.clone(),
                valid_until: since,
                revoked: true,
            });
        }
    }
    card
}

/// When the card's current key was revoked, if it was.
pub(super) fn current_revocation(card: &DepartmentCard) -> Option<String> {
    card.revoked_since(&card.ssh_public_key).map(str::to_string)
}

fn fingerprint(key: &str) -> String {
    parse_ssh_public(key)
        .map(|k| ssh_fingerprint(&k))
        .unwrap_or_default()
}

/// Keys the trusted card had that the new one does not list stay known as
/// previous keys, so what they signed still verifies.
fn keep_previous_keys(existing: &DepartmentCard, new: &mut DepartmentCard) {
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut kept: Vec<PreviousKey> = existing
        .previous_keys
        .iter()
        .cloned()
        .chain(std::iter::once(PreviousKey {
            ssh_public_key: existing.ssh_public_key.clone(),
            valid_until: now,
            revoked: false,
        }))
        .filter(|k| {
            k.ssh_public_key != new.ssh_public_key
                && !new
                    .previous_keys
                    .iter()
                    .any(|n| n.ssh_public_key == k.ssh_public_key)
        })
        .collect();
    kept.append(&mut new.previous_keys);
    new.previous_keys = kept;
}
