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
