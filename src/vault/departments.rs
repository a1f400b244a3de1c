//! The department directory: this node's card and the cards of the
//! departments it exchanges papers with. A card is trusted once added; its
//! fingerprints are what people compare by phone or letter before adding it.

use chrono::Utc;
use serde::Serialize;

use super::access::Note;
use super::{Vault, VaultError};
use crate::crypto::{age_fingerprint, parse_recipient, parse_ssh_public, ssh_fingerprint};
use crate::domain::{DepartmentCard, Principal};
use crate::policy::Action;

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
}

impl Vault {
    /// Adds a department's card to the directory. A card for an id already
    /// present with other keys is refused unless `replace`.
    pub fn add_department(
        &self,
        actor: &Principal,
        card: DepartmentCard,
        replace: bool,
    ) -> Result<DirectoryEntry, VaultError> {
        self.authorize_node(actor, Action::Administer, Note::target(&card.id))?;
        let entry = entry(card, false)?;
        let card = &entry.card;
        if card.id == self.card().id {
            return Err(VaultError::OwnDepartment(card.id.clone()));
        }
        if let Some(existing) = self.db.department(&card.id)? {
            let same_keys = existing.age_recipient == card.age_recipient
                && existing.ssh_public_key == card.ssh_public_key;
            if !same_keys && !replace {
                return Err(VaultError::DepartmentKeysChanged(card.id.clone()));
            }
        }
        self.db.put_department(card, Utc::now())?;
        tracing::info!(department = %card.id, "department card added");
        Ok(entry)
    }

    /// This node and every department in the directory.
    pub fn list_departments(&self, _actor: &Principal) -> Result<Vec<DirectoryEntry>, VaultError> {
        let mut all = vec![entry(self.card().clone(), true)?];
        for card in self.db.departments()? {
            all.push(entry(card, false)?);
        }
        Ok(all)
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
    pub fn department_card(&self, id: &str) -> Result<DepartmentCard, VaultError> {
        if id == self.card().id {
            return Ok(self.card().clone());
        }
        self.db
            .department(id)?
            .ok_or_else(|| VaultError::UnknownDepartment(crate::domain::text::outside_id(id)))
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
    Ok(DirectoryEntry {
        ssh_fingerprint: ssh_fingerprint(&ssh),
        age_fingerprint: age_fingerprint(&recipient),
        card,
        this_node,
    })
}
