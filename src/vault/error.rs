//! The vault's errors, and how each is classed for exit codes and, later,
//! HTTP statuses. Messages name ids and limits, never a name or content.

use std::path::PathBuf;

use super::intake::IntakeError;
use super::passwords::WeakPassword;
use crate::audit::AuditError;
use crate::bundle::BundleError;
use crate::config::ConfigError;
use crate::crypto::KeyError;
use crate::policy::PolicyError;
use crate::store::StoreError;

/// How a failure is reported to a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Bad input or refused: exit code 1.
    Refused,
    /// Corrupt or tampered data: exit code 2.
    Integrity,
    /// Anything else: exit code 3.
    Internal,
}

/// Errors of the vault's use cases.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{0} is not a handover node (run `handover init` first)")]
    NotANode(PathBuf),
    #[error("{0} already holds a handover node; refusing to touch it")]
    AlreadyInitialised(PathBuf),
    #[error("no child with id {0}")]
    UnknownChild(String),
    #[error("no document with id {0}")]
    UnknownDocument(String),
    #[error("no inbox bundle with id {0}")]
    UnknownInboxItem(String),
    #[error("no transfer with id {0}")]
    UnknownTransfer(String),
    /// The step does not fit the current state (a transfer, an inbox bundle).
    #[error("{0}")]
    Conflict(String),
    #[error("department {0} is not in the directory (add its card with `handover dept add`)")]
    UnknownDepartment(String),
    #[error("{0}")]
    Invalid(String),
    #[error("document refused: {0}")]
    Intake(#[from] IntakeError),
    #[error("cannot read the input: {0}")]
    Source(std::io::Error),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("bundle refused: {0}")]
    Bundle(#[from] BundleError),
    /// A document in a bundle that this node's intake rules refuse.
    #[error("bundle refused: {path}: {refusal}")]
    BundleDocument { path: String, refusal: IntakeError },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("integrity failure: {0}")]
    Integrity(String),
    #[error("the node is busy: another handover process holds it ({0})")]
    Busy(&'static str),
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A node-wide action the principal may not take.
    #[error("not permitted: {0}")]
    Denied(&'static str),
    #[error("invalid or expired credentials")]
    Unauthenticated,
    /// Too many failed logins of this name from this client (or of this
    /// name from everywhere, by a client that took part): wait.
    #[error("too many failed logins; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// The password was set by someone else and works only to set a new one.
    #[error("the password must be changed before the account can be used: log in again with a new password")]
    PasswordChangeRequired,
    #[error("password refused: {0}")]
    WeakPassword(#[from] WeakPassword),
    /// An edit that would change where a child is placed.
    #[error("a child's institution or district changes only by a move, with a reason")]
    PlacementByMoveOnly,
    #[error("the district is not on this node's list of districts (STATE/DISTRICT)")]
    UnknownDistrict,
    /// The inbox's staging limits would be passed; try again later.
    #[error("bundle not taken now: {0}")]
    InboxFull(&'static str),
    /// An act that would let one person use another's account.
    #[error("not permitted (separation of duties): {0}")]
    SeparationOfDuties(&'static str),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("policies refused: {0}")]
    Policy(#[from] PolicyError),
}

impl From<StoreError> for VaultError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unreadable => VaultError::Integrity(e.to_string()),
            other => VaultError::Store(other),
        }
    }
}

impl VaultError {
    /// Over a size limit: a document over the node's limit, a bundle over
    /// the format's or the size its envelope implies, a bundle's document
    /// over this node's limits.
    pub fn is_over_size_limit(&self) -> bool {
        matches!(
            self,
            VaultError::Intake(IntakeError::TooLarge { .. })
                | VaultError::Bundle(BundleError::TooLarge(_))
                | VaultError::BundleDocument {
                    refusal: IntakeError::TooLarge { .. } | IntakeError::ImageTooLarge { .. },
                    ..
                }
        )
    }

    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            VaultError::NotANode(_)
            | VaultError::AlreadyInitialised(_)
            | VaultError::UnknownChild(_)
            | VaultError::UnknownDocument(_)
            | VaultError::UnknownDepartment(_)
            | VaultError::UnknownTransfer(_)
            | VaultError::UnknownInboxItem(_)
            | VaultError::Conflict(_)
            | VaultError::Invalid(_)
            | VaultError::Intake(_)
            | VaultError::Source(_)
            | VaultError::Config(_)
            | VaultError::Busy(_)
            | VaultError::Denied(_)
            | VaultError::Unauthenticated
            | VaultError::Throttled { .. }
            | VaultError::PasswordChangeRequired
            | VaultError::WeakPassword(_)
            | VaultError::SeparationOfDuties(_)
            | VaultError::InboxFull(_)
            | VaultError::PlacementByMoveOnly
            | VaultError::UnknownDistrict
            | VaultError::Policy(_) => ErrorClass::Refused,
            VaultError::Audit(AuditError::Broken { .. }) => ErrorClass::Integrity,
            VaultError::Audit(_) => ErrorClass::Internal,
            VaultError::Keys(KeyError::Malformed(_)) => ErrorClass::Integrity,
            VaultError::Keys(KeyError::Io(_)) => ErrorClass::Internal,
            VaultError::Keys(_) => ErrorClass::Refused,
            VaultError::Integrity(_) => ErrorClass::Integrity,
            VaultError::Bundle(e) => e.class(),
            // Over this node's own size limits: refused; against a rule of
            // the bundle format: an integrity failure.
            VaultError::BundleDocument {
                refusal: IntakeError::TooLarge { .. } | IntakeError::ImageTooLarge { .. },
                ..
            } => ErrorClass::Refused,
            VaultError::BundleDocument { .. } => ErrorClass::Integrity,
            VaultError::Store(_) | VaultError::Io(_) => ErrorClass::Internal,
        }
    }
}
