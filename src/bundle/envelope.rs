//! The two JSON documents of a bundle: the clear, signed envelope (ids,
//! departments, fingerprints, times, entry sizes and digests; nothing
//! personal) and the encrypted manifest (the case record and what each
//! document is). Unknown fields are refused: version 1 is frozen.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{CaseRecord, ChildId, DocKind, MediaType};

/// Content of the `HANDOVER` entry: the format marker and version.
pub const MARKER: &str = "handover-bundle/1\n";
/// `format` of the envelope.
pub const ENVELOPE_FORMAT: &str = "handover-envelope/1";
/// `format` of the manifest.
pub const MANIFEST_FORMAT: &str = "handover-manifest/1";

/// A department as the envelope names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentRef {
    pub id: String,
    /// For the source: its SSH signing key's fingerprint; for the
    /// destination: its age recipient's fingerprint.
    pub fingerprint: String,
}

/// One encrypted entry as the envelope lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeEntry {
    pub path: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the entry's bytes (ciphertext).
    pub sha256: String,
}

/// `envelope.json`: in clear, signed by the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub format: String,
    pub bundle_id: String,
    pub created_at: DateTime<Utc>,
    pub source: DepartmentRef,
    pub destination: DepartmentRef,
    /// `manifest.json.age`, then `documents/0001.age` onwards, in zip order.
    pub entries: Vec<EnvelopeEntry>,
}

/// One document as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestDocument {
    /// Its entry, `documents/NNNN.age`.
    pub path: String,
    /// The document's id at the source.
    pub source_document_id: String,
    pub kind: DocKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    pub media_type: MediaType,
    /// Plaintext size and SHA-256.
    pub size: u64,
    pub sha256: String,
    pub added_at: DateTime<Utc>,
}

/// `manifest.json.age` decrypted: the case record and its documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    /// Must equal the envelope's, binding the two.
    pub bundle_id: String,
    pub source_child_id: ChildId,
    pub child: CaseRecord,
    /// Why the bundle was made with its restoration checklist incomplete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
    pub documents: Vec<ManifestDocument>,
}
