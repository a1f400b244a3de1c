//! Acts that let someone other than the account's owner read papers under
//! that account: an account created with a read-capable role, a role that
//! can read given to an account, a password set for someone else. The node
//! keeps every one, so that a second person can watch the administrators
//! (`GET /api/v1/status`, `handover status`, `/metrics`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Role, UserId};

/// What was done to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OversightKind {
    /// An account whose role can read papers was created.
    ReaderCreated,
    /// An account was given a role that can read papers.
    ReaderRoleGiven,
    /// Someone set another user's password.
    PasswordReset,
}

impl OversightKind {
    pub const ALL: [OversightKind; 3] = [
        OversightKind::ReaderCreated,
        OversightKind::ReaderRoleGiven,
        OversightKind::PasswordReset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OversightKind::ReaderCreated => "reader_created",
            OversightKind::ReaderRoleGiven => "reader_role_given",
            OversightKind::PasswordReset => "password_reset",
        }
    }

    pub fn parse(s: &str) -> Option<OversightKind> {
        OversightKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One such act: who (an opaque label), to which account, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OversightEvent {
    pub kind: OversightKind,
    /// `user:ID` or `local-operator`.
    pub actor: String,
    #[schema(value_type = String)]
    pub target: UserId,
    pub at: DateTime<Utc>,
}

/// Whether a role can read a child's record or documents (every role but
/// `admin`; a support person only under a grant).
pub fn reads_papers(role: Role) -> bool {
    role != Role::Admin
}
