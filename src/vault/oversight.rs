//! The node's status, for the second person who watches the
//! administrators: how many accounts of each role exist, and every act by
//! which someone could have come to read papers under another's account
//! (see `users`). Shown by `GET /api/v1/status` and `handover status`;
//! the counts are also metrics.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::access::Note;
use super::{Vault, VaultError};
use crate::domain::{OversightEvent, OversightKind, Principal};
use crate::policy::Action;

/// How many recent oversight events the status lists.
const RECENT: usize = 50;

/// Counts of one kind of oversight event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OversightCount {
    pub kind: OversightKind,
    pub count: u64,
    /// When the latest happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_at: Option<DateTime<Utc>>,
}

/// What a second person watches.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NodeStatus {
    pub department: String,
    /// Enabled accounts by role.
    pub users_by_role: BTreeMap<String, u64>,
    /// Every kind, with its count (zero included).
    pub oversight: Vec<OversightCount>,
    /// The latest events, newest first (ids only, never a name).
    pub recent: Vec<OversightEvent>,
}

impl Vault {
    /// The node's status (administrators and auditors).
    pub fn status(&self, actor: &Principal) -> Result<NodeStatus, VaultError> {
        self.authorize_node(actor, Action::AuditNode, Note::default())?;
        let mut users_by_role = BTreeMap::new();
        for u in self.db.users()?.into_iter().filter(|u| !u.disabled) {
            *users_by_role
                .entry(u.role.as_str().to_string())
                .or_insert(0) += 1;
        }
        let events = self.db.oversight()?;
        Ok(NodeStatus {
            department: self.card().id.clone(),
            users_by_role,
            oversight: counts(&events),
            recent: events.into_iter().take(RECENT).collect(),
        })
    }

    /// The oversight counts alone, not audited: for metrics, which carry
    /// no id.
    pub fn oversight_counts(&self) -> Result<Vec<OversightCount>, VaultError> {
        Ok(counts(&self.db.oversight()?))
    }
}

fn counts(events: &[OversightEvent]) -> Vec<OversightCount> {
    OversightKind::ALL
        .into_iter()
        .map(|kind| {
            let mine = events.iter().filter(|e| e.kind == kind);
            OversightCount {
                kind,
                count: mine.clone().count() as u64,
                last_at: mine.map(|e| e.at).max(),
            }
        })
        .collect()
}
