//! Node-to-node delivery: bundles waiting in this node's inbox for a
//! decision, and what this node still has to push to other nodes (bundles
//! to their inbox, receipts back to their source).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ChildId;

/// Where a received bundle stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboxState {
    /// Verified and stored; an SWD officer has not decided yet.
    Waiting,
    /// Imported into the vault; the receipt went back to the source.
    Accepted,
    /// Refused by an officer; the bundle file is gone.
    Refused,
}

impl InboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            InboxState::Waiting => "waiting",
            InboxState::Accepted => "accepted",
            InboxState::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<InboxState> {
        match s {
            "waiting" => Some(InboxState::Waiting),
            "accepted" => Some(InboxState::Accepted),
            "refused" => Some(InboxState::Refused),
            _ => None,
        }
    }
}

/// A bundle received from another department. Holds only what the signed
/// envelope says in clear: ids, departments, sizes, times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboxItem {
    pub bundle_id: String,
    /// The sending department's id.
    pub source: String,
    /// Size of the bundle file in bytes.
    pub size: u64,
    /// Number of documents in the bundle.
    pub documents: u64,
    /// When the source made the bundle.
    pub created_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub state: InboxState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// Why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The child it became on this node, once accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_id: Option<ChildId>,
}

/// What an outbox item carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboxKind {
    /// A bundle this node sent, to the destination's inbox.
    Bundle,
    /// The answer (receipt or refusal) to a bundle this node received, back to its source.
    Receipt,
}

impl OutboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Bundle => "bundle",
            OutboxKind::Receipt => "receipt",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxKind> {
        match s {
            "bundle" => Some(OutboxKind::Bundle),
            "receipt" => Some(OutboxKind::Receipt),
            _ => None,
        }
    }
}

/// Something to push to another node, retried with backoff until it is
/// taken or given up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub kind: OutboxKind,
    pub bundle_id: String,
    /// The department it goes to.
    pub destination: String,
    pub queued_at: DateTime<Utc>,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
    pub gave_up_at: Option<DateTime<Utc>>,
}

impl OutboxItem {
    /// The row key: one bundle push and one receipt push per bundle id.
    pub fn key(kind: OutboxKind, bundle_id: &str) -> String {
        format!("{}:{bundle_id}", kind.as_str())
    }
}

/// What the destination answered to a bundle this node sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerOutcome {
    /// A receipt listing every document sent.
    Delivered,
    /// A receipt listing only some of them.
    PartiallyDelivered,
    /// A signed refusal, with its reason.
    Refused,
}

impl AnswerOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerOutcome::Delivered => "delivered",
            AnswerOutcome::PartiallyDelivered => "partially_delivered",
            AnswerOutcome::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<AnswerOutcome> {
        [
            AnswerOutcome::Delivered,
            AnswerOutcome::PartiallyDelivered,
            AnswerOutcome::Refused,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}
