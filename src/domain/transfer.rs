//! The transfer of one child from this department to another, as a state
//! machine: `draft` → `submitted` → `approved` (by a CWC member, with the
//! restoration order number) or `rejected` (with a reason) → `sent` →
//! `delivered` (the destination's signed receipt verified), or
//! `partially_delivered` (a receipt for only some of the documents), or
//! `refused` (the destination's signed refusal, with its reason).
//! `revoked` is possible until `sent`; `failed` when delivery gives up.
//! A failed, refused or partially delivered transfer may be sent again, as
//! a new bundle. Who may take each step is the policies'
//! business; which steps exist, and in which order, is decided here.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ChildId, TransferId};

/// Where a transfer stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TransferState {
    Draft,
    Submitted,
    Approved,
    Rejected,
    Sent,
    Delivered,
    Revoked,
    Failed,
    Refused,
    PartiallyDelivered,
}

impl TransferState {
    pub const ALL: [TransferState; 10] = [
        TransferState::Draft,
        TransferState::Submitted,
        TransferState::Approved,
        TransferState::Rejected,
        TransferState::Sent,
        TransferState::Delivered,
        TransferState::Revoked,
        TransferState::Failed,
        TransferState::Refused,
        TransferState::PartiallyDelivered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferState::Draft => "draft",
            TransferState::Submitted => "submitted",
            TransferState::Approved => "approved",
            TransferState::Rejected => "rejected",
            TransferState::Sent => "sent",
            TransferState::Delivered => "delivered",
            TransferState::Revoked => "revoked",
            TransferState::Failed => "failed",
            TransferState::Refused => "refused",
            TransferState::PartiallyDelivered => "partially_delivered",
        }
    }

    /// No step leads out of this state.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TransferState::Rejected | TransferState::Delivered | TransferState::Revoked
        )
    }

    /// The state `step` leads to from this one, or why it cannot be taken.
    pub fn next(self, step: &TransferStep) -> Result<TransferState, TransitionError> {
        use TransferState::*;
        let refused = |why: &'static str| TransitionError {
            from: self,
            step: step.name(),
            why,
        };
        match (self, step) {
            (Draft, TransferStep::Submit { override_reason }) => match override_reason {
                Some(r) if !recordable(r) => {
                    Err(refused("an override reason is 1 to 500 characters"))
                }
                _ => Ok(Submitted),
            },
            (Submitted, TransferStep::Approve { order_number }) => {
                if recordable(order_number) {
                    Ok(Approved)
                } else {
                    Err(refused(
                        "approval records the restoration order number (1 to 500 characters)",
                    ))
                }
            }
            (Submitted, TransferStep::Reject { reason }) => {
                if recordable(reason) {
                    Ok(Rejected)
                } else {
                    Err(refused(
                        "a rejection records its reason (1 to 500 characters)",
                    ))
                }
            }
            (Approved | Failed | Refused | PartiallyDelivered, TransferStep::Send) => Ok(Sent),
            // An answer that comes back after the push gave up still counts.
            (Sent | Failed, TransferStep::Deliver) => Ok(Delivered),
            (Sent | Failed, TransferStep::DeliverPartially) => Ok(PartiallyDelivered),
            (Sent | Failed, TransferStep::Refuse { reason }) => {
                if recordable(reason) {
                    Ok(Refused)
                } else {
                    Err(refused(
                        "a refusal records its reason (1 to 500 characters)",
                    ))
                }
            }
            (Sent, TransferStep::Fail) => Ok(Failed),
            (Draft | Submitted | Approved, TransferStep::Revoke) => Ok(Revoked),
            (Sent | Delivered | Failed | Refused | PartiallyDelivered, TransferStep::Revoke) => {
                Err(refused("a transfer can be revoked only until it is sent"))
            }
            (Draft, TransferStep::Send) | (Submitted, TransferStep::Send) => {
                Err(refused("only an approved transfer is sent"))
            }
            _ if self.is_final() => Err(refused("the transfer is closed")),
            _ => Err(refused("not a step from this state")),
        }
    }
}

/// A text a step records: not blank, at most 500 characters.
fn recordable(text: &str) -> bool {
    !text.trim().is_empty() && text.chars().count() <= 500
}

impl fmt::Display for TransferState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of the workflow, with what it records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum TransferStep {
    /// Ask the CWC to approve. `override_reason`: a CWC member's recorded
    /// reason to submit while the restoration checklist is incomplete.
    Submit {
        override_reason: Option<String>,
    },
    Approve {
        order_number: String,
    },
    Reject {
        reason: String,
    },
    Send,
    /// The destination's signed receipt, for every document, was verified.
    Deliver,
    /// A signed receipt for only some of the documents was verified.
    DeliverPartially,
    /// The destination's signed refusal was verified.
    Refuse {
        reason: String,
    },
    /// Delivery gave up.
    Fail,
    Revoke,
}

impl TransferStep {
    pub fn name(&self) -> &'static str {
        match self {
            TransferStep::Submit { .. } => "submit",
            TransferStep::Approve { .. } => "approve",
            TransferStep::Reject { .. } => "reject",
            TransferStep::Send => "send",
            TransferStep::Deliver => "deliver",
            TransferStep::DeliverPartially => "deliver_partially",
            TransferStep::Refuse { .. } => "refuse",
            TransferStep::Fail => "fail",
            TransferStep::Revoke => "revoke",
        }
    }
}

/// One step taken: what, by whom (an opaque label), when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferEvent {
    #[serde(flatten)]
    pub step: TransferStep,
    pub by: String,
    pub at: DateTime<Utc>,
    /// The state the step led to.
    pub state: TransferState,
}

/// A transfer of one child to another department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Transfer {
    pub id: TransferId,
    pub child: ChildId,
    /// The destination department's id.
    pub to: String,
    pub state: TransferState,
    /// The bundle built when it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// Every step, oldest first (restoration order number, reasons).
    pub history: Vec<TransferEvent>,
}

impl Transfer {
    /// Takes `step` by `by`: checks it is allowed, records it.
    pub fn take(
        &mut self,
        step: TransferStep,
        by: String,
        at: DateTime<Utc>,
    ) -> Result<TransferState, TransitionError> {
        let next = self.state.next(&step)?;
        self.state = next;
        self.history.push(TransferEvent {
            step,
            by,
            at,
            state: next,
        });
        Ok(next)
    }

    /// The restoration order number recorded at approval.
    pub fn order_number(&self) -> Option<&str> {
        self.history.iter().rev().find_map(|e| match &e.step {
            TransferStep::Approve { order_number } => Some(order_number.as_str()),
            _ => None,
        })
    }

    /// The override reason recorded at submission, if any.
    pub fn override_reason(&self) -> Option<&str> {
        self.history.iter().rev().find_map(|e| match &e.step {
            TransferStep::Submit { override_reason } => override_reason.as_deref(),
            _ => None,
        })
    }
}

/// A step that cannot be taken from a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {step} a {from} transfer: {why}")]
pub struct TransitionError {
    pub from: TransferState,
    pub step: &'static str,
    pub why: &'static str,
}

#[cfg(test)]
mod tests {
    use super::TransferState::*;
    use super::*;

    fn steps() -> Vec<TransferStep> {
        vec![
            TransferStep::Submit {
                override_reason: None,
            },
            TransferStep::Approve {
                order_number: "CWC/RO/17/2026".into(),
            },
            TransferStep::Reject {
                reason: "home not verified".into(),
            },
            TransferStep::Send,
            TransferStep::Deliver,
            TransferStep::DeliverPartially,
            TransferStep::Refuse {
                reason: "papers unreadable".into(),
            },
            TransferStep::Fail,
            TransferStep::Revoke,
        ]
    }

    /// Every (state, step) pair: the allowed ones and where they lead; all
    /// others refused.
    #[test]
    fn every_allowed_and_every_refused_transition() {
        let allowed = [
            (Draft, "submit", Submitted),
            (Draft, "revoke", Revoked),
            (Submitted, "approve", Approved),
            (Submitted, "reject", Rejected),
            (Submitted, "revoke", Revoked),
            (Approved, "send", Sent),
            (Approved, "revoke", Revoked),
            (Sent, "deliver", Delivered),
            (Sent, "fail", Failed),
            (Sent, "deliver_partially", PartiallyDelivered),
            (Sent, "refuse", Refused),
            (Failed, "send", Sent),
            (Failed, "deliver", Delivered),
            (Failed, "deliver_partially", PartiallyDelivered),
            (Failed, "refuse", Refused),
            (Refused, "send", Sent),
            (PartiallyDelivered, "send", Sent),
        ];
        let mut checked = 0;
        for from in TransferState::ALL {
            for step in steps() {
                let want = allowed
                    .iter()
                    .find(|(f, s, _)| *f == from && *s == step.name())
                    .map(|(_, _, to)| *to);
                match (from.next(&step), want) {
                    (Ok(to), Some(expected)) => assert_eq!(to, expected, "{from} {}", step.name()),
                    (Err(e), None) => {
                        assert_eq!(e.from, from);
                        assert!(e
                            .to_string()
                            .starts_with(&format!("cannot {} a {from}", step.name())));
                    }
                    (got, want) => panic!("{from} {}: got {got:?}, want {want:?}", step.name()),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 10 * 9);
    }

    #[test]
    fn approval_and_rejection_record_their_reasons() {
        let blank = TransferStep::Approve {
            order_number: "  ".into(),
        };
        assert!(Submitted.next(&blank).is_err());
        let blank = TransferStep::Reject { reason: "".into() };
        assert!(Submitted.next(&blank).is_err());
        let long = "x".repeat(501);
        let steps = [
            TransferStep::Approve {
                order_number: long.clone(),
            },
            TransferStep::Reject {
                reason: long.clone(),
            },
        ];
        assert!(steps.iter().all(|s| Submitted.next(s).is_err()));
        let blank_override = TransferStep::Submit {
            override_reason: Some(" ".into()),
        };
        assert!(Draft.next(&blank_override).is_err());
        let blank = TransferStep::Refuse { reason: " ".into() };
        assert!(Sent.next(&blank).is_err());
    }

    #[test]
    fn revocation_ends_at_sending_and_closed_transfers_stay_closed() {
        for s in [Sent, Delivered, Failed, Refused, PartiallyDelivered] {
            let e = s.next(&TransferStep::Revoke).unwrap_err();
            assert!(e.why.contains("until it is sent"));
        }
        for s in [Rejected, Delivered, Revoked] {
            assert!(s.is_final());
            assert!(steps().iter().all(|step| s.next(step).is_err()));
        }
    }
}
