//! The transfer workflow: a transfer is drafted, submitted, approved or
//! rejected by the CWC, sent as a bundle, and delivered when the
//! destination's receipt is verified. The allowed order of steps lives in
//! `domain::transfer`; who may take each step, in the policies. Every step
//! is audited.

use std::path::Path;

use chrono::Utc;

use super::access::Note;
use super::{CreatedBundle, Purpose, Vault, VaultError};
use crate::domain::{
    ChildId, OutboxKind, Principal, Transfer, TransferId, TransferState, TransferStep,
};
use crate::policy::Action;

impl Vault {
    /// Drafts the transfer of `child` to department `to`.
    pub fn create_transfer(
        &self,
        actor: &Principal,
        child: ChildId,
        to: &str,
    ) -> Result<Transfer, VaultError> {
        self.authorize_child(actor, Action::CreateTransfer, child, Note::target(to))?;
        if to == self.card().id {
            return Err(VaultError::OwnDepartment(to.to_string()));
        }
        self.department_card(to)?;
        let now = Utc::now();
        let transfer = Transfer {
            id: TransferId::new(),
            child,
            to: to.to_string(),
            state: TransferState::Draft,
            bundle_id: None,
            created_by: actor.label(),
            created_at: now,
            history: Vec::new(),
        };
        self.db.put_transfer(&transfer)?;
        tracing::info!(transfer = %transfer.id, child = %child, to, "transfer drafted");
        Ok(transfer)
    }

    /// A transfer, for whoever may see its child's record. Unknown and
    /// refused read alike.
    pub fn transfer(&self, actor: &Principal, id: TransferId) -> Result<Transfer, VaultError> {
        let t = self.find_transfer(id)?;
        self.authorize_child(actor, Action::ReadRecord, t.child, Note::target(id))
            .map_err(|e| hide(e, id))?;
        Ok(t)
    }

    /// Transfers of one child (or all, for administration), newest first.
    pub fn list_transfers(
        &self,
        actor: &Principal,
        child: Option<ChildId>,
    ) -> Result<Vec<Transfer>, VaultError> {
        match child {
            Some(c) => {
                self.authorize_child(actor, Action::ReadRecord, c, Note::default())?;
            }
            None => self.authorize_node(actor, Action::Administer, Note::default())?,
        }
        Ok(self.db.transfers(child)?)
    }

    /// Takes one workflow step other than sending (see [`Vault::send_transfer`]).
    /// Submitting needs a complete restoration checklist, unless a CWC
    /// member submits with a recorded override reason.
    pub fn transfer_step(
        &self,
        actor: &Principal,
        id: TransferId,
        step: TransferStep,
    ) -> Result<Transfer, VaultError> {
        let mut t = self.find_transfer(id)?;
        let action = match &step {
            TransferStep::Submit {
                override_reason: Some(_),
            }
            | TransferStep::Approve { .. }
            | TransferStep::Reject { .. } => Action::ApproveTransfer,
            TransferStep::Submit {
                override_reason: None,
            }
            | TransferStep::Revoke => Action::CreateTransfer,
            TransferStep::Send
            | TransferStep::Deliver
            | TransferStep::DeliverPartially
            | TransferStep::Refuse { .. }
            | TransferStep::Fail => return Err(VaultError::StepNotManual(step.name())),
        };
        let child = self
            .authorize_child(actor, action, t.child, Note::target(id))
            .map_err(|e| hide(e, id))?;
        if let TransferStep::Submit { override_reason } = &step {
            let view = self.view_of(child, Purpose::Restoration)?;
            if override_reason.is_none() && !view.checklist.is_complete() {
                return Err(view.incomplete());
            }
        }
        t.take(step, actor.label(), Utc::now())
            .map_err(|e| VaultError::Conflict(e.to_string()))?;
        self.db.put_transfer(&t)?;
        tracing::info!(transfer = %id, state = %t.state, "transfer step");
        Ok(t)
    }

    /// Sends an approved transfer: builds its bundle at `out` (the file for
    /// offline hand-over, or to push) and records it as sent.
    pub async fn send_transfer(
        &self,
        actor: &Principal,
        id: TransferId,
        out: &Path,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<(Transfer, CreatedBundle), VaultError> {
        let mut t = self.find_transfer(id)?;
        self.authorize_child(actor, Action::CreateTransfer, t.child, Note::target(id))
            .map_err(|e| hide(e, id))?;
        t.state
            .next(&TransferStep::Send)
            .map_err(|e| VaultError::Conflict(e.to_string()))?;
        let reason = t.override_reason().map(|r| {
            format!(
                "submitted with a CWC override: {r}; restoration order {}",
                t.order_number().unwrap_or("-")
            )
        });
        let created = self
            .create_bundle(actor, t.child, &t.to.clone(), out, reason, progress)
            .await?;
        t.bundle_id = Some(created.bundle_id.clone());
        t.take(TransferStep::Send, actor.label(), Utc::now())
            .map_err(|e| VaultError::Conflict(e.to_string()))?;
        self.db.put_transfer(&t)?;
        // The case is now the home state's: retention counts from here.
        self.db
            .set_case_state(t.child, crate::domain::CaseState::Transferred, Utc::now())?;
        tracing::info!(transfer = %id, bundle = %created.bundle_id, "transfer sent");
        Ok((t, created))
    }

    /// Sends an approved transfer from the server: its bundle goes to the
    /// outbox (`outbox/TRANSFER_ID.bundle`, also the offline download) and,
    /// when the destination's card names an inbox URL, a push is queued.
    /// Returns whether a push was queued.
    pub async fn send_transfer_to_outbox(
        &self,
        actor: &Principal,
        id: TransferId,
    ) -> Result<(Transfer, CreatedBundle, bool), VaultError> {
        let out = self.outbox_file(id)?;
        let current = self.find_transfer(id)?;
        if out.exists() && current.state != TransferState::Sent {
            // Left by an earlier send that failed to deliver: a new send
            // makes a new bundle.
            std::fs::remove_file(&out)?;
        }
        let (t, created) = self.send_transfer(actor, id, &out, &mut |_, _| {}).await?;
        let queued = self.queue_push(OutboxKind::Bundle, &created.bundle_id, &t.to)?;
        Ok((t, created, queued))
    }

    /// Takes `step` (delivered, partially delivered or refused) on the
    /// transfer that sent `bundle_id`, whose answer was verified. Nothing
    /// to do for a bundle made outside a transfer.
    pub(super) fn transfer_answered(
        &self,
        bundle_id: &str,
        step: TransferStep,
    ) -> Result<(), VaultError> {
        if let Some(mut t) = self.db.transfer_by_bundle(bundle_id)? {
            if t.state == TransferState::Sent || t.state == TransferState::Failed {
                let by = match step {
                    TransferStep::Refuse { .. } => "refusal",
                    _ => "receipt",
                };
                t.take(step, by.into(), Utc::now())
                    .map_err(|e| VaultError::Conflict(e.to_string()))?;
                self.db.put_transfer(&t)?;
            }
        }
        Ok(())
    }

    fn find_transfer(&self, id: TransferId) -> Result<Transfer, VaultError> {
        self.db
            .transfer(id)?
            .ok_or_else(|| VaultError::UnknownTransfer(id.to_string()))
    }
}

/// A refusal about the transfer's child reads like an unknown transfer.
fn hide(e: VaultError, id: TransferId) -> VaultError {
    match e {
        VaultError::UnknownChild(_) => VaultError::UnknownTransfer(id.to_string()),
        e => e,
    }
}
