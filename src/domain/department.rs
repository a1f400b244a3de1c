//! A department's public card: what another node needs to send it papers.

use serde::{Deserialize, Serialize};

/// The public card of a department node. Holds only public keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DepartmentCard {
    /// Short stable id, e.g. `rj-dcpu-jaipur`.
    pub id: String,
    /// Human name of the department.
    pub name: String,
    /// age X25519 recipient (`age1…`) that bundles for this department are encrypted to.
    pub age_recipient: String,
    /// OpenSSH Ed25519 public key (`ssh-ed25519 AAAA… comment`) that verifies its signatures.
    pub ssh_public_key: String,
    /// Where its node accepts bundles, if it runs a server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox_url: Option<String>,
    /// Signing keys the department used before its current one, oldest
    /// first: what still verifies its older bundles, receipts and audit
    /// checkpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_keys: Vec<PreviousKey>,
    /// Key statements, oldest first: each names the department's new keys
    /// and is signed by the signing key it replaces (`docs/key-rotation.md`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_statements: Vec<KeyStatement>,
}

/// A signing key a department no longer uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PreviousKey {
    /// OpenSSH Ed25519 public key line.
    pub ssh_public_key: String,
    /// When its validity ended (RFC 3339, UTC).
    pub valid_until: String,
    /// True when it ended because it was lost or stolen: nothing it signs
    /// is accepted from `valid_until` on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
}

/// A key statement and its signature, as carried on a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyStatement {
    /// The statement: JSON text, exactly as signed.
    pub statement: String,
    /// SSHSIG armour (namespace `handover-key-statement`) by the key it
    /// replaces.
    pub signature: String,
}

impl DepartmentCard {
    /// The current signing key and every previous one, oldest first.
    pub fn signing_keys(&self) -> impl Iterator<Item = &str> {
        self.previous_keys
            .iter()
            .map(|k| k.ssh_public_key.as_str())
            .chain(std::iter::once(self.ssh_public_key.as_str()))
    }

    /// When `key` (an OpenSSH public key line) was revoked, if the card
    /// lists it as revoked. A revoked current key is also listed among
    /// the previous keys, revoked.
    pub fn revoked_since(&self, key: &str) -> Option<&str> {
        self.previous_keys
            .iter()
            .find(|k| k.revoked && k.ssh_public_key == key)
            .map(|k| k.valid_until.as_str())
    }

    /// The keys whose signatures are accepted: the current one and the
    /// previous ones, newest first, none revoked.
    pub fn trusted_keys(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.ssh_public_key.as_str())
            .chain(
                self.previous_keys
                    .iter()
                    .rev()
                    .map(|k| k.ssh_public_key.as_str()),
            )
            .filter(|k| self.revoked_since(k).is_none())
    }
}

/// A snapshot of a department directory: cards found by id.
#[derive(Debug, Clone, Default)]
pub struct Directory(Vec<DepartmentCard>);

impl Directory {
    pub fn new(cards: Vec<DepartmentCard>) -> Self {
        Directory(cards)
    }

    /// The card of department `id`, if present.
    pub fn card(&self, id: &str) -> Option<DepartmentCard> {
        self.0.iter().find(|c| c.id == id).cloned()
    }
}
