//! Reading the audit log through the vault: one child's access history;
//! and checks that need no open node (so no key): verifying the whole log
//! with the node's public card, and validating a policy directory.

use std::path::{Path, PathBuf};

use super::access::Note;
use super::{Vault, VaultError};
use crate::audit::{self, Entry, Line};
use crate::domain::{ChildId, DepartmentCard, Principal};
use crate::policy::{Action, Policies};

pub use crate::audit::{
    Entry as AuditEntry, Line as AuditLine, Outcome, Verified as AuditVerified,
};

/// Verifies the audit log of the node in `data_dir` (or the log `log`),
/// with the public card in `data_dir` (or `card`): the whole chain and
/// every signed checkpoint, and the head file beside the log.
pub fn verify_audit_log(
    data_dir: &Path,
    log: Option<PathBuf>,
    card: Option<PathBuf>,
) -> Result<AuditVerified, VaultError> {
    let log = log.unwrap_or_else(|| data_dir.join(audit::LOG_FILE));
    let card_path = card.unwrap_or_else(|| data_dir.join(super::node::CARD));
    let bytes = std::fs::read(&card_path)
        .map_err(|e| VaultError::InvalidCard(format!("{}: {e}", card_path.display())))?;
    let card: DepartmentCard = serde_json::from_slice(&bytes).map_err(|e| {
        VaultError::InvalidCard(format!(
            "{}: not a department card: {e}",
            card_path.display()
        ))
    })?;
    let key = crate::crypto::parse_ssh_public(&card.ssh_public_key)
        .map_err(|_| VaultError::InvalidCard("the card holds no valid signing key".into()))?;
    let head = log.with_file_name(audit::HEAD_FILE);
    Ok(audit::verify(&log, Some(&head), &key, &card.id)?)
}

/// Validates the policies of `dir` (the built-in ones when `None`);
/// returns how many there are.
pub fn check_policies(dir: Option<&Path>) -> Result<usize, VaultError> {
    Ok(Policies::check(dir)?)
}

impl Vault {
    /// Who asked for what about `child`, when and why, oldest first.
    pub fn access_log(
        &self,
        actor: &Principal,
        child: ChildId,
    ) -> Result<Vec<(Line, Entry)>, VaultError> {
        self.authorize_child(actor, Action::ReadAccessLog, child, Note::default())?;
        Ok(audit::history(
            &self.data_dir().join(audit::LOG_FILE),
            &child.to_string(),
        )?)
    }
}
