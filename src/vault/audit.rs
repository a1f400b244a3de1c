//! Reading the audit log through the vault: one child's access history.
//! (Verifying the whole log needs no vault: `audit::verify` with the
//! node's public card.)

use super::access::Note;
use super::{Vault, VaultError};
use crate::audit::{self, Entry, Line};
use crate::domain::{ChildId, Principal};
use crate::policy::Action;

impl Vault {
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
