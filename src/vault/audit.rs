//! Checks that need no open node (so no key): verifying the whole audit
//! log with the node's public card, and validating a policy directory.
//! (A child's access history, read through its index, is `history.rs`.)

use std::path::{Path, PathBuf};

use super::VaultError;
use crate::audit;
use crate::domain::DepartmentCard;
use crate::policy::Policies;

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
    let keys = crate::crypto::card_signing_keys(&card)
        .map_err(|_| VaultError::InvalidCard("the card holds no valid signing key".into()))?;
    let head = log.with_file_name(audit::HEAD_FILE);
    Ok(audit::verify(&log, Some(&head), &keys, &card.id)?)
}

/// Validates the policies of `dir` (the built-in ones when `None`);
/// returns how many there are.
pub fn check_policies(dir: Option<&Path>) -> Result<usize, VaultError> {
    Ok(Policies::check(dir)?)
}
