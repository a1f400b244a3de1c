//! Reading the audit log through the vault: verifying the whole chain, and
//! one child's access history.

use super::access::Note;
use super::{Vault, VaultError};
use crate::audit::{self, Entry, Line};
use crate::crypto;
use crate::domain::{ChildId, Principal};
use crate::policy::Action;

impl Vault {
    /// Checks the whole audit log: chain, checkpoints, and that it reaches
    /// its last recorded checkpoint.
    pub async fn verify_audit(&self, actor: &Principal) -> Result<audit::Verified, VaultError> {
        self.authorize_node(actor, Action::AuditNode, Note::default())?;
        self.audit.checkpoint()?;
        let dir = self.data_dir();
        let key = crypto::parse_ssh_public(&self.card().ssh_public_key)
            .map_err(|_| VaultError::Integrity("the node's card holds no valid key".into()))?;
        Ok(audit::verify(
            &dir.join(audit::LOG_FILE),
            Some(&dir.join(audit::HEAD_FILE)),
            &key,
            &self.card().id,
        )?)
    }

    /// Who asked for what about `child`, when and why, oldest first.
    pub async fn access_log(
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
