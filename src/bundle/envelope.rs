//! The two JSON documents of a bundle: the clear, signed envelope (ids,
//! departments, fingerprints, times, entry sizes and digests; nothing
//! personal) and the encrypted manifest (the case record and what each
//! document is). Unknown fields, duplicate keys, `null` for an optional
//! field and values in any but their one text form (see `forms`) are
//! refused while parsing: version 1 is frozen.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::forms;
use crate::domain::{CaseRecord, ChildId, DocKind, Document, DocumentId, MediaType, Sex};

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
    #[serde(deserialize_with = "forms::department_id")]
    pub id: String,
    /// For the source: its SSH signing key's fingerprint; for the
    /// destination: its age recipient's fingerprint.
    #[serde(deserialize_with = "forms::fingerprint")]
    pub fingerprint: String,
}

/// One encrypted entry as the envelope lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeEntry {
    pub path: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the entry's bytes (ciphertext).
    #[serde(deserialize_with = "forms::sha256")]
    pub sha256: String,
}

/// `envelope.json`: in clear, signed by the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub format: String,
    #[serde(deserialize_with = "forms::uuid_text")]
    pub bundle_id: String,
    /// Written in whole seconds.
    #[serde(deserialize_with = "forms::utc")]
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
    #[serde(deserialize_with = "forms::uuid_text")]
    pub source_document_id: String,
    pub kind: DocKind,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present"
    )]
    pub title: Option<String>,
    /// For display only, never used as a path.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present"
    )]
    pub file_name: Option<String>,
    pub media_type: MediaType,
    /// Plaintext size and SHA-256.
    pub size: u64,
    #[serde(deserialize_with = "forms::sha256")]
    pub sha256: String,
    #[serde(deserialize_with = "forms::utc")]
    pub added_at: DateTime<Utc>,
}

/// `manifest.json.age` decrypted: the case record and its documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    /// Must equal the envelope's, binding the two.
    #[serde(deserialize_with = "forms::uuid_text")]
    pub bundle_id: String,
    #[serde(deserialize_with = "forms::uuid_id")]
    pub source_child_id: ChildId,
    pub child: ManifestChild,
    /// Why the bundle was made with its restoration checklist incomplete.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present"
    )]
    pub incomplete_reason: Option<String>,
    pub documents: Vec<ManifestDocument>,
}

/// The case record as the manifest carries it: the fields of
/// [`CaseRecord`], each optional one present or absent (never `null`), and
/// no other field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestChild {
    pub name: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present"
    )]
    pub sex: Option<Sex>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present_date"
    )]
    pub date_of_birth: Option<NaiveDate>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present"
    )]
    pub estimated_age: Option<u8>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present"
    )]
    pub home_state: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present"
    )]
    pub home_district: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present"
    )]
    pub institution: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present"
    )]
    pub district: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present_date"
    )]
    pub rescue_date: Option<NaiveDate>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present"
    )]
    pub rescue_place: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present"
    )]
    pub cwc_case_number: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present"
    )]
    pub notes: Option<String>,
}

impl ManifestDocument {
    /// The manifest's entry for `doc`, the `n`th document (from 1).
    pub fn of(n: usize, doc: &Document) -> ManifestDocument {
        ManifestDocument {
            path: super::document_entry(n),
            source_document_id: doc.id.to_string(),
            kind: doc.kind,
            title: doc.title.clone(),
            file_name: doc.file_name.clone(),
            media_type: doc.media_type,
            size: doc.size,
            sha256: doc.sha256.clone(),
            added_at: doc.added_at,
        }
    }

    /// The document this entry becomes at the destination: a new id, the
    /// imported child, who imported it and when (the source's id and time
    /// stay in the manifest).
    pub fn to_document(
        &self,
        id: DocumentId,
        child_id: ChildId,
        added_by: String,
        added_at: DateTime<Utc>,
    ) -> Document {
        Document {
            id,
            child_id,
            kind: self.kind,
            title: self.title.clone(),
            file_name: self.file_name.clone(),
            media_type: self.media_type,
            size: self.size,
            sha256: self.sha256.clone(),
            added_by,
            added_at,
        }
    }
}

impl From<CaseRecord> for ManifestChild {
    fn from(r: CaseRecord) -> Self {
        ManifestChild {
            name: r.name,
            sex: r.sex,
            date_of_birth: r.date_of_birth,
            estimated_age: r.estimated_age,
            home_state: r.home_state,
            home_district: r.home_district,
            institution: r.institution,
            district: r.district,
            rescue_date: r.rescue_date,
            rescue_place: r.rescue_place,
            cwc_case_number: r.cwc_case_number,
            languages: r.languages,
            notes: r.notes,
        }
    }
}

impl From<ManifestChild> for CaseRecord {
    fn from(c: ManifestChild) -> Self {
        CaseRecord {
            name: c.name,
            sex: c.sex,
            date_of_birth: c.date_of_birth,
            estimated_age: c.estimated_age,
            home_state: c.home_state,
            home_district: c.home_district,
            institution: c.institution,
            district: c.district,
            rescue_date: c.rescue_date,
            rescue_place: c.rescue_place,
            cwc_case_number: c.cwc_case_number,
            languages: c.languages,
            notes: c.notes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(size: &str) -> Result<EnvelopeEntry, serde_json::Error> {
        serde_json::from_str(&format!(
            r#"{{"path": "documents/0001.age", "size": {size}, "sha256": "{}"}}"#,
            "0".repeat(64)
        ))
    }

    #[test]
    fn sizes_are_plain_json_integers() {
        assert_eq!(entry("285").unwrap().size, 285);
        for bad in [
            "-0",
            "285.0",
            "2.85e2",
            "-1",
            "\"285\"",
            "null",
            "18446744073709551616",
        ] {
            assert!(entry(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_child_field_may_be_absent_but_never_null_or_unknown() {
        let parse = |s: &str| serde_json::from_str::<ManifestChild>(s);
        assert!(parse(r#"{"name": "A"}"#).unwrap().sex.is_none());
        assert!(parse(r#"{"name": "A", "sex": null}"#).is_err());
        assert!(parse(r#"{"name": "A", "notes": null}"#).is_err());
        assert!(parse(r#"{"name": "A", "religion": "x"}"#).is_err());
        assert!(parse(r#"{"name": "A", "name": "B"}"#).is_err());
        assert!(
            parse(r#"{"name": "A", "sex": "f"}"#).is_err(),
            "only the closed names"
        );
    }
}
