//! The vault's errors, and how each is classed ([`ErrorClass`]: the exit
//! code of the command line; the API maps each to an HTTP status and problem
//! type in `api/problem.rs`). Messages name ids and limits, never a name or
//! content.

use std::path::PathBuf;

use super::intake::IntakeError;
use super::passwords::WeakPassword;
use crate::audit::AuditError;
use crate::bundle::BundleError;
use crate::config::ConfigError;
use crate::crypto::KeyError;
pub use crate::domain::ErrorClass;
use crate::policy::PolicyError;
use crate::store::StoreError;

/// Errors of the vault's use cases.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{0} is not a handover node")]
    NotANode(PathBuf),
    #[error("{0} already holds a handover node; refusing to touch it")]
    AlreadyInitialised(PathBuf),
    /// Demo data was asked for on a node that holds children or users of
    /// its own.
    #[error("this node holds data of its own: demo data is added only to a new node")]
    HoldsRealData,
    #[error("no child with id {0}")]
    UnknownChild(String),
    #[error("no document with id {0}")]
    UnknownDocument(String),
    #[error("no inbox bundle with id {0}")]
    UnknownInboxItem(String),
    #[error("no upload with id {0} (it may have expired or been ended)")]
    UnknownUpload(String),
    #[error("upload {0} is complete: it is a document now")]
    UploadComplete(String),
    /// An append that does not start where the upload stands.
    #[error("the upload stands at offset {expected}: an append must start there")]
    UploadOffset { expected: u64 },
    /// Another append of the same upload is running and did not stop in time.
    #[error("another append of this upload is still running; try again shortly")]
    UploadBusy,
    /// A per-user limit on unfinished uploads.
    #[error("upload not started: {0}")]
    UploadLimit(super::uploads::UploadLimit),
    #[error("no transfer with id {0}")]
    UnknownTransfer(String),
    /// The step does not fit the current state (a transfer, an inbox bundle).
    #[error("{0}")]
    Conflict(String),
    #[error("department {0} is not in the directory")]
    UnknownDepartment(String),
    #[error("no user named {0}")]
    UnknownUser(String),
    #[error("no live token {0}")]
    UnknownToken(String),
    #[error("no live grant {0}")]
    UnknownGrant(String),
    #[error("user {0} already exists")]
    UserExists(String),
    #[error("a user name is 2-64 of a-z 0-9 . _ -")]
    InvalidUserName,
    /// A field of a child's record (or a document's title) breaks its
    /// rule; `rule` says which, in full.
    #[error("{rule}")]
    InvalidField { field: &'static str, rule: String },
    #[error("nothing to change")]
    NothingToChange,
    #[error("a move names a new institution or district")]
    MoveWithoutPlacement,
    /// A step that needs a reason (a move, a refusal, an incomplete
    /// checklist sent anyway) came without one, or with one too long.
    #[error("{0} needs a reason of 1 to 500 characters")]
    ReasonRequired(&'static str),
    #[error("grants are for support persons; {user} is {role}")]
    NotASupportPerson {
        user: String,
        role: crate::domain::Role,
    },
    #[error("a grant names at least one document kind")]
    GrantWithoutKinds,
    #[error("a grant must end in the future and within {max_days} days")]
    GrantPeriod { max_days: i64 },
    #[error("a token lasts between 1 second and {max_days} days")]
    TokenLifetime { max_days: i64 },
    #[error("{0} is this node's own department: a node does not send to itself")]
    OwnDepartment(String),
    /// A card for a department already known with other keys.
    #[error("department {0} is already in the directory with other keys")]
    DepartmentKeysChanged(String),
    #[error("department card refused: {0}")]
    InvalidCard(String),
    /// A department whose current signing key this node revoked.
    #[error("department {department}'s card was revoked on {since}: nothing is sent to or accepted from it until its new card is added")]
    RevokedDepartment { department: String, since: String },
    /// A card that brings back a key this node revoked.
    #[error("the card of {0} holds a signing key this node revoked")]
    RevokedCardKey(String),
    /// A document sealed to a storage key that a rotation destroyed while
    /// it was being sealed.
    #[error(
        "the node's storage key was rotated while the document was being sealed; nothing was kept"
    )]
    KeyRotated,
    /// A key rotation that cannot go on yet.
    #[error("the key rotation cannot finish yet: {0}")]
    RotationBlocked(String),
    #[error("department id {0:?} must be 2-63 characters of a-z, 0-9 and '-'")]
    InvalidDepartmentId(String),
    #[error("the department name is empty")]
    EmptyDepartmentName,
    /// The restoration checklist has gaps and no override reason was given.
    #[error("the restoration checklist is incomplete for child {child} (missing: {})", missing.join(", "))]
    ChecklistIncomplete { child: String, missing: Vec<String> },
    #[error("a bundle holds at most {max} documents; child {child} has {has}")]
    TooManyDocuments {
        child: String,
        max: usize,
        has: usize,
    },
    /// A step of a transfer that only the node itself takes.
    #[error("`{0}` is taken by sending the transfer or verifying its answer")]
    StepNotManual(&'static str),
    #[error("transfer {id} has no bundle file on this node (it is {state})")]
    NoBundleFile { id: String, state: &'static str },
    #[error("the bundle id is not well formed")]
    MalformedBundleId,
    #[error("the answer is for a bundle from {0}, not from this node")]
    ForeignAnswer(String),
    #[error("no bundle {0} was sent from this node")]
    UnknownSentBundle(String),
    /// An output path that would be overwritten.
    #[error("{} already exists", .0.display())]
    OutputExists(PathBuf),
    #[error("cannot write {}: {error}", path.display())]
    OutputUnwritable {
        path: PathBuf,
        error: std::io::Error,
    },
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
    /// A blob migration whose destination is the store in use.
    #[error("the blobs are already in that store")]
    SameBlobStore,
    /// A blob migration that copied and verified everything, but could not
    /// switch: another process uses the node.
    #[error(
        "every blob is copied to the new store and verified there ({copied} by this run), \
         but switching to it needs the node to itself, and another process uses it"
    )]
    SwitchNeedsNode { copied: usize },
    /// A path that holds no backup (no `manifest.json`, no backup in it).
    #[error("no backup at {0}")]
    NotABackup(PathBuf),
    /// A backup that fails verification: its signature, a digest, its
    /// audit log or its form.
    #[error("backup {backup} fails verification: {reason}")]
    BackupBroken { backup: String, reason: String },
    /// A restore into a directory that is not empty.
    #[error("{0} is not empty: a node is restored only into an empty directory")]
    RestoreTargetNotEmpty(PathBuf),
    /// A restore that has no way to the node's keys.
    #[error("the node's keys: {0}")]
    RestoreKeys(String),
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
            StoreError::RetiredRecipient => VaultError::KeyRotated,
            other => VaultError::Store(other),
        }
    }
}

/// A blocking task that panicked or was cancelled (the one mapping of
/// `JoinError`, for the vault and the faces alike).
impl From<tokio::task::JoinError> for VaultError {
    fn from(e: tokio::task::JoinError) -> Self {
        VaultError::Io(std::io::Error::other(format!(
            "a background task failed: {e}"
        )))
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
            | VaultError::UnknownUpload(_)
            | VaultError::UploadComplete(_)
            | VaultError::UploadOffset { .. }
            | VaultError::UploadBusy
            | VaultError::UploadLimit(_)
            | VaultError::Conflict(_)
            | VaultError::UnknownUser(_)
            | VaultError::UnknownToken(_)
            | VaultError::UnknownGrant(_)
            | VaultError::UserExists(_)
            | VaultError::InvalidUserName
            | VaultError::InvalidField { .. }
            | VaultError::NothingToChange
            | VaultError::MoveWithoutPlacement
            | VaultError::ReasonRequired(_)
            | VaultError::NotASupportPerson { .. }
            | VaultError::GrantWithoutKinds
            | VaultError::GrantPeriod { .. }
            | VaultError::TokenLifetime { .. }
            | VaultError::OwnDepartment(_)
            | VaultError::DepartmentKeysChanged(_)
            | VaultError::InvalidCard(_)
            | VaultError::RevokedDepartment { .. }
            | VaultError::RevokedCardKey(_)
            | VaultError::KeyRotated
            | VaultError::RotationBlocked(_)
            | VaultError::InvalidDepartmentId(_)
            | VaultError::EmptyDepartmentName
            | VaultError::ChecklistIncomplete { .. }
            | VaultError::TooManyDocuments { .. }
            | VaultError::StepNotManual(_)
            | VaultError::NoBundleFile { .. }
            | VaultError::MalformedBundleId
            | VaultError::ForeignAnswer(_)
            | VaultError::UnknownSentBundle(_)
            | VaultError::OutputExists(_)
            | VaultError::OutputUnwritable { .. }
            | VaultError::Intake(_)
            | VaultError::Source(_)
            | VaultError::Config(_)
            | VaultError::Busy(_)
            | VaultError::SameBlobStore
            | VaultError::SwitchNeedsNode { .. }
            | VaultError::NotABackup(_)
            | VaultError::RestoreTargetNotEmpty(_)
            | VaultError::RestoreKeys(_)
            | VaultError::Denied(_)
            | VaultError::HoldsRealData
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
            VaultError::Integrity(_) | VaultError::BackupBroken { .. } => ErrorClass::Integrity,
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

/// What a failed encryption or decryption stream was working on: it decides
/// which failures are integrity failures, and how a refusal is named.
pub(super) enum Streamed<'a> {
    /// A stored blob being read (`what` names it: "document ID").
    Stored(&'a str),
    /// A document entry of a bundle being imported (its entry path).
    BundleEntry(&'a str),
    /// An upload being sealed.
    Upload,
}

/// The one mapping of a [`StreamError`](crate::crypto::StreamError) to a
/// vault error:
///
/// * a stored file or bundle entry that does not decrypt or is not the one
///   recorded is an integrity failure (of the node, or of the bundle);
/// * an intake refusal carried through the stream is that refusal (of the
///   upload, or of the bundle's document);
/// * an upload that could not be read failed at its source; any other I/O
///   error is the node's.
pub(super) fn stream_failure(e: crate::crypto::StreamError, of: Streamed<'_>) -> VaultError {
    use crate::crypto::StreamError as S;
    let refusal_or = |io: std::io::Error, other: fn(std::io::Error) -> VaultError| {
        match IntakeError::from_io(io) {
            Ok(refusal) => match of {
                Streamed::BundleEntry(path) => VaultError::BundleDocument {
                    path: path.to_string(),
                    refusal,
                },
                _ => VaultError::Intake(refusal),
            },
            Err(io) => other(io),
        }
    };
    match (e, &of) {
        (S::Integrity(m), Streamed::BundleEntry(path)) => {
            VaultError::Bundle(BundleError::Decrypt(path.to_string(), m))
        }
        (e @ S::NotRecorded, Streamed::BundleEntry(path)) => {
            VaultError::Bundle(BundleError::Decrypt(path.to_string(), e.to_string()))
        }
        (S::Integrity(_), Streamed::Stored(what)) => VaultError::Integrity(format!(
            "the stored file of {what} fails authentication (corrupt or tampered)"
        )),
        (S::NotRecorded, Streamed::Stored(what)) => VaultError::Integrity(format!(
            "{what}: stored file is not the one recorded for it"
        )),
        // Sealing never decrypts: this would be a bug, not bad data.
        (e @ (S::Integrity(_) | S::NotRecorded), Streamed::Upload) => {
            VaultError::Io(std::io::Error::other(e.to_string()))
        }
        (S::Input(io), Streamed::Upload) => refusal_or(io, VaultError::Source),
        (S::Input(io) | S::Output(io), _) => refusal_or(io, VaultError::Io),
    }
}
