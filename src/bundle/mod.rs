//! The transfer bundle: one file that carries a child's case record and
//! documents from one department to another (docs/bundle-format.md). Anyone
//! with the department directory can check its origin and integrity; only
//! the destination can open it, and it answers with a signed receipt or
//! refusal. This module owns the format: building, structural, form and
//! signature checks, decrypting entries, and the answers. What goes in,
//! where it comes from and what an answer means for a transfer is the
//! vault's business.

mod agehead;
pub mod bagit;
mod envelope;
pub mod forms;
pub mod parallel;
mod prefix;
mod read;
mod receipt;
mod write;
pub mod zipfmt;

pub use envelope::{
    DepartmentRef, Envelope, EnvelopeEntry, Manifest, ManifestChild, ManifestDocument,
    ENVELOPE_FORMAT, MANIFEST_FORMAT, MARKER,
};
pub use prefix::Prefix;
pub use read::{BundleReader, Verified};
pub use receipt::{
    valid_reason, Answer, AnswerKind, Receipt, ReceiptDocument, Refusal, SignedAnswer,
    MAX_ANSWER_BYTES, RECEIPT_FORMAT, RECEIPT_FORMAT_V1, REFUSAL_FORMAT,
};
pub use write::{manifest_plaintext, BundleWriter};
pub use zipfmt::MAX_BUNDLE_BYTES;

use crate::domain::ErrorClass;

/// Fixed entry names, in their order.
pub const MARKER_ENTRY: &str = "HANDOVER";
pub const ENVELOPE_ENTRY: &str = "envelope.json";
pub const SIGNATURE_ENTRY: &str = "envelope.json.sig";
pub const MANIFEST_ENTRY: &str = "manifest.json.age";

/// The entry name of the `n`th document (from 1).
pub fn document_entry(n: usize) -> String {
    format!("documents/{n:04}.age")
}

/// The `n` of a document entry name, if `name` is exactly one.
pub fn document_entry_number(name: &str) -> Option<usize> {
    name.strip_prefix("documents/")
        .and_then(|p| p.strip_suffix(".age"))
        .filter(|n| n.len() == 4)
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n >= 1 && document_entry(n) == name)
}

/// Where `bundle open` writes the `n`th document's plaintext, inside the
/// bag's payload: its entry name with the media type's extension.
pub fn opened_document_name(n: usize, extension: &str) -> String {
    format!("documents/{n:04}.{extension}")
}

/// Most documents in one bundle. With every size at its widest, the
/// envelope `bundle create` writes for this many stays under
/// [`MAX_ENVELOPE_BYTES`] (a unit test checks it).
pub const MAX_DOCUMENTS: usize = 1_000;
/// Largest `envelope.json`.
pub const MAX_ENVELOPE_BYTES: u64 = 1024 * 1024;
/// Largest `manifest.json.age` entry (ciphertext; its plaintext is smaller).
pub const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;
/// Largest `HANDOVER` entry read when looking for the version.
pub const MAX_MARKER_BYTES: usize = 64;
/// The manifest's plaintext is padded with spaces to a multiple of this.
pub const MANIFEST_PADDING: usize = 4096;

/// Why a bundle was refused. Messages name entries and departments, never
/// anything personal.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not a handover bundle: it does not begin with the HANDOVER entry")]
    NotABundle,
    #[error(
        "the HANDOVER entry is malformed: it must be handover-bundle/VERSION and one line feed"
    )]
    Marker,
    #[error("the bundle is truncated or not a bundle (no end of central directory)")]
    Truncated,
    #[error("the bundle exceeds a size limit: {0}")]
    TooLarge(String),
    #[error("the bundle's zip structure is not canonical ({0}): corrupt or altered")]
    NonCanonical(String),
    #[error("entry {0} is compressed: only stored entries are valid in a bundle")]
    Compressed(usize),
    #[error("entry {0} is a symbolic link: only regular files are valid in a bundle")]
    Symlink(usize),
    #[error("unsafe entry path {0}")]
    UnsafePath(String),
    #[error("duplicate entry {0}")]
    Duplicate(String),
    #[error("unexpected bundle layout: {0}")]
    Layout(String),
    #[error("unsupported bundle format version {0:?} (this program reads {MARKER:?})")]
    UnsupportedVersion(String),
    #[error("envelope.json is malformed: {0}")]
    Envelope(String),
    #[error("source department {0} is not in the directory: its signature cannot be checked")]
    UnknownSource(String),
    #[error("destination department {0} is not in the directory")]
    UnknownDestination(String),
    #[error(
        "the signature does not verify with the key of department {0}: altered or not from them"
    )]
    BadSignature(String),
    #[error("{0} is not over SHA-512: only sha512 signatures are valid")]
    SignatureHash(&'static str),
    #[error("the envelope's {0} fingerprint does not match the directory's card")]
    FingerprintMismatch(&'static str),
    #[error("it is signed with a key of department {department} that was revoked on {since} (lost or stolen): nothing it signs is accepted")]
    RevokedKey { department: String, since: String },
    #[error("the bundle is for department {found}, not this node ({expected})")]
    WrongDestination { expected: String, found: String },
    #[error("entry {0} does not match its size and SHA-256 in the envelope")]
    Digest(String),
    #[error("the plaintext of {0} does not match its size and SHA-256 in the manifest")]
    PlaintextDigest(String),
    #[error("{0} must be encrypted to exactly one X25519 recipient: {1}")]
    Recipients(String, &'static str),
    #[error("{0} cannot be decrypted with this node's identity: {1}")]
    Decrypt(String, String),
    #[error("the answer (receipt or refusal) is malformed: {0}")]
    Receipt(String),
    #[error("the answer does not match bundle {0} as this node sent it ({1})")]
    AnswerMismatch(String, &'static str),
    #[error("the manifest is malformed or does not match the envelope: {0}")]
    Manifest(String),
    #[error("bundle I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl BundleError {
    /// The refusal of signature `what`, checked with `department`'s key.
    pub fn signature(
        what: &'static str,
        department: &str,
        e: crate::crypto::SignatureError,
    ) -> BundleError {
        match e {
            crate::crypto::SignatureError::Hash => BundleError::SignatureHash(what),
            _ => BundleError::BadSignature(department.to_string()),
        }
    }

    /// Exit class: tampering and corruption are integrity failures; a
    /// bundle this node cannot use is refused.
    pub fn class(&self) -> ErrorClass {
        match self {
            BundleError::UnknownSource(_)
            | BundleError::UnknownDestination(_)
            | BundleError::WrongDestination { .. }
            | BundleError::RevokedKey { .. }
            | BundleError::UnsupportedVersion(_) => ErrorClass::Refused,
            BundleError::Io(_) => ErrorClass::Internal,
            _ => ErrorClass::Integrity,
        }
    }
}

/// `PATH.partial`: where a file is built before it is renamed into place.
pub fn partial_path(out: &std::path::Path) -> std::path::PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".partial");
    std::path::PathBuf::from(s)
}
