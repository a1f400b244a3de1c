//! A grant: one user may read some kinds of one child's papers, for one
//! purpose, until a time. It ends by itself; revocation ends it at once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ChildId, DocKind, GrantId, Purpose, UserId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub id: GrantId,
    /// Who may read.
    pub user: UserId,
    pub child: ChildId,
    pub kinds: Vec<DocKind>,
    pub purpose: Purpose,
    pub until: DateTime<Utc>,
    /// Opaque label of who granted it.
    pub granted_by: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Grant {
    /// Neither expired nor revoked at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.until
    }

    /// `active`, `expired` or `revoked`.
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if now >= self.until {
            "expired"
        } else {
            "active"
        }
    }
}
