//! The destination's signed answer to a bundle: a receipt (what it
//! imported, after an import) or a refusal (why it did not, after an
//! officer refused it). The file holds the answer's JSON text as a string
//! and an SSHSIG signature over exactly those bytes, so `ssh-keygen -Y
//! verify` can check it too. Receipts are signed in their own namespace
//! from version 2 on, refusals in theirs, so an answer's signature never
//! passes for an envelope's; version 1 receipts (namespace `handover`)
//! still verify.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use super::{forms, BundleError};
use crate::crypto::{self, NodeKeys};
use crate::domain::DepartmentCard;

/// `format` of the receipts this program writes.
pub const RECEIPT_FORMAT: &str = "handover-receipt/2";
/// `format` of version 1 receipts (frozen; still verified).
pub const RECEIPT_FORMAT_V1: &str = "handover-receipt/1";
/// `format` of a refusal.
pub const REFUSAL_FORMAT: &str = "handover-refusal/1";
/// Largest answer file.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// Longest refusal reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// One document the destination accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptDocument {
    pub path: String,
    /// Plaintext size and SHA-256, as checked on import.
    pub size: u64,
    #[serde(deserialize_with = "forms::sha256")]
    pub sha256: String,
}

/// What the destination attests after an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub format: String,
    #[serde(deserialize_with = "forms::uuid_text")]
    pub bundle_id: String,
    /// SHA-256 of the exact `envelope.json` received.
    #[serde(deserialize_with = "forms::sha256")]
    pub envelope_sha256: String,
    #[serde(deserialize_with = "forms::department_id")]
    pub source: String,
    #[serde(deserialize_with = "forms::department_id")]
    pub destination: String,
    #[serde(deserialize_with = "forms::utc")]
    pub received_at: DateTime<Utc>,
    pub documents: Vec<ReceiptDocument>,
}

/// What the destination attests when it will not import a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    pub format: String,
    #[serde(deserialize_with = "forms::uuid_text")]
    pub bundle_id: String,
    #[serde(deserialize_with = "forms::sha256")]
    pub envelope_sha256: String,
    #[serde(deserialize_with = "forms::department_id")]
    pub source: String,
    #[serde(deserialize_with = "forms::department_id")]
    pub destination: String,
    #[serde(deserialize_with = "forms::utc")]
    pub refused_at: DateTime<Utc>,
    /// Why, in the officer's words: 1 to 500 characters, not blank.
    pub reason: String,
}

/// A verified answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Receipt(Receipt),
    Refusal(Refusal),
}

impl Answer {
    pub fn bundle_id(&self) -> &str {
        match self {
            Answer::Receipt(r) => &r.bundle_id,
            Answer::Refusal(r) => &r.bundle_id,
        }
    }
    pub fn envelope_sha256(&self) -> &str {
        match self {
            Answer::Receipt(r) => &r.envelope_sha256,
            Answer::Refusal(r) => &r.envelope_sha256,
        }
    }
    pub fn source(&self) -> &str {
        match self {
            Answer::Receipt(r) => &r.source,
            Answer::Refusal(r) => &r.source,
        }
    }
    /// The department that signed it.
    pub fn destination(&self) -> &str {
        match self {
            Answer::Receipt(r) => &r.destination,
            Answer::Refusal(r) => &r.destination,
        }
    }
}

/// The file as it travels.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerFile {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present"
    )]
    receipt: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "forms::present"
    )]
    refusal: Option<String>,
    signature: String,
}

/// Which answer a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    Receipt,
    Refusal,
}

/// An answer file: the answer's JSON text and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAnswer {
    pub kind: AnswerKind,
    /// The answer as JSON text; the signature covers exactly these bytes.
    pub text: String,
    /// SSHSIG by the destination's key.
    pub signature: String,
}

/// Just the `format` of an answer, to choose how to read the rest.
#[derive(Deserialize)]
struct FormatOnly {
    format: String,
}

impl SignedAnswer {
    /// Signs a receipt (format version 2, namespace `handover-receipt`);
    /// its time is written in whole seconds.
    pub fn sign_receipt(receipt: &Receipt, keys: &NodeKeys) -> SignedAnswer {
        let mut receipt = receipt.clone();
        receipt.format = RECEIPT_FORMAT.to_string();
        receipt.received_at = receipt.received_at.trunc_subsecs(0);
        let text = serde_json::to_string_pretty(&receipt).expect("a receipt serialises");
        SignedAnswer {
            kind: AnswerKind::Receipt,
            signature: crypto::sign_in(keys, crypto::RECEIPT_NAMESPACE, text.as_bytes()),
            text,
        }
    }

    /// Signs a refusal (namespace `handover-refusal`); its time is written
    /// in whole seconds.
    pub fn sign_refusal(refusal: &Refusal, keys: &NodeKeys) -> SignedAnswer {
        let mut refusal = refusal.clone();
        refusal.format = REFUSAL_FORMAT.to_string();
        refusal.refused_at = refusal.refused_at.trunc_subsecs(0);
        let text = serde_json::to_string_pretty(&refusal).expect("a refusal serialises");
        SignedAnswer {
            kind: AnswerKind::Refusal,
            signature: crypto::sign_in(keys, crypto::REFUSAL_NAMESPACE, text.as_bytes()),
            text,
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (receipt, refusal) = match self.kind {
            AnswerKind::Receipt => (Some(self.text.clone()), None),
            AnswerKind::Refusal => (None, Some(self.text.clone())),
        };
        let file = AnswerFile {
            receipt,
            refusal,
            signature: self.signature.clone(),
        };
        let mut v = serde_json::to_vec_pretty(&file).expect("an answer file serialises");
        v.push(b'\n');
        v
    }

    /// Parses an answer file (no signature check yet).
    pub fn parse(bytes: &[u8]) -> Result<SignedAnswer, BundleError> {
        if bytes.len() > MAX_ANSWER_BYTES {
            return Err(BundleError::TooLarge(format!(
                "the answer file is {} bytes (limit {MAX_ANSWER_BYTES})",
                bytes.len()
            )));
        }
        let file: AnswerFile =
            serde_json::from_slice(bytes).map_err(|e| BundleError::Receipt(e.to_string()))?;
        let (kind, text) = match (file.receipt, file.refusal) {
            (Some(t), None) => (AnswerKind::Receipt, t),
            (None, Some(t)) => (AnswerKind::Refusal, t),
            _ => {
                return Err(BundleError::Receipt(
                    "it must hold exactly one of receipt and refusal".into(),
                ))
            }
        };
        Ok(SignedAnswer {
            kind,
            text,
            signature: file.signature,
        })
    }

    /// Checks the answer's form and its signature against the
    /// destination's card in `directory`, and returns it.
    pub fn verify(
        &self,
        directory: impl Fn(&str) -> Option<DepartmentCard>,
    ) -> Result<Answer, BundleError> {
        let malformed = |e: serde_json::Error| BundleError::Receipt(e.to_string());
        let format = serde_json::from_str::<FormatOnly>(&self.text)
            .map_err(malformed)?
            .format;
        let (answer, namespace, what) = match (self.kind, format.as_str()) {
            (AnswerKind::Receipt, RECEIPT_FORMAT_V1 | RECEIPT_FORMAT) => {
                let r: Receipt = serde_json::from_str(&self.text).map_err(malformed)?;
                check_receipt_documents(&r)?;
                let namespace = if format == RECEIPT_FORMAT_V1 {
                    crypto::NAMESPACE
                } else {
                    crypto::RECEIPT_NAMESPACE
                };
                (Answer::Receipt(r), namespace, "the receipt's signature")
            }
            (AnswerKind::Refusal, REFUSAL_FORMAT) => {
                let r: Refusal = serde_json::from_str(&self.text).map_err(malformed)?;
                if !valid_reason(&r.reason) {
                    return Err(BundleError::Receipt(
                        "a refusal's reason is 1 to 500 characters, not blank".into(),
                    ));
                }
                (
                    Answer::Refusal(r),
                    crypto::REFUSAL_NAMESPACE,
                    "the refusal's signature",
                )
            }
            (AnswerKind::Receipt, f) if f.starts_with("handover-receipt/") => {
                return Err(BundleError::UnsupportedVersion(
                    crate::domain::text::outside_id(f),
                ))
            }
            (AnswerKind::Refusal, f) if f.starts_with("handover-refusal/") => {
                return Err(BundleError::UnsupportedVersion(
                    crate::domain::text::outside_id(f),
                ))
            }
            _ => {
                return Err(BundleError::Receipt(format!(
                "its format is not one of {RECEIPT_FORMAT_V1}, {RECEIPT_FORMAT}, {REFUSAL_FORMAT}"
            )))
            }
        };
        let card = directory(answer.destination())
            .ok_or_else(|| BundleError::UnknownDestination(answer.destination().to_string()))?;
        // The current key, or a previous one that was not revoked (an
        // answer signed before the department rotated its key).
        let keys: Vec<ssh_key::PublicKey> = card
            .trusted_keys()
            .map(|k| {
                crypto::parse_ssh_public(k)
                    .map_err(|_| BundleError::UnknownDestination(card.id.clone()))
            })
            .collect::<Result<_, _>>()?;
        let verify = |key: &ssh_key::PublicKey| {
            crypto::verify_in(
                key,
                namespace,
                self.text.as_bytes(),
                self.signature.as_bytes(),
            )
        };
        if !keys.iter().any(|k| verify(k).is_ok()) {
            // Named by what the current key says of it.
            let current = keys.first().ok_or_else(|| BundleError::RevokedKey {
                department: card.id.clone(),
                since: card
                    .revoked_since(&card.ssh_public_key)
                    .unwrap_or_default()
                    .to_string(),
            })?;
            let e = verify(current).expect_err("no key verified");
            return Err(BundleError::signature(what, &card.id, e));
        }
        Ok(answer)
    }
}

/// A refusal's reason: 1 to 500 characters, not only whitespace.
pub fn valid_reason(reason: &str) -> bool {
    !reason.trim().is_empty() && reason.chars().count() <= MAX_REASON_CHARS
}

/// A receipt's documents are document entry names, each once, in bundle order.
fn check_receipt_documents(r: &Receipt) -> Result<(), BundleError> {
    let mut last = 0;
    for d in &r.documents {
        let n = super::document_entry_number(&d.path).ok_or_else(|| {
            BundleError::Receipt("a document path is not a document entry name".into())
        })?;
        if n <= last {
            return Err(BundleError::Receipt(
                "its documents are not listed once each in bundle order".into(),
            ));
        }
        last = n;
    }
    Ok(())
}
