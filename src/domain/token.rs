//! An API token as the node keeps it: never the token itself, only its id,
//! its user and its lifetime.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{TokenId, UserId};

/// One token of a user (the secret is shown once, at creation, and never kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    #[schema(value_type = String)]
    pub id: TokenId,
    /// The user's id.
    #[schema(value_type = String)]
    pub user: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenInfo {
    /// `active`, `expired` or `revoked` at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if now >= self.expires_at {
            "expired"
        } else {
            "active"
        }
    }
}
