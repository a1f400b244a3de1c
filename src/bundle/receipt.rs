//! The receipt: what the destination signs after an import, naming the
//! bundle, the exact envelope, the time and every document accepted. The
//! file holds the receipt's JSON text as a string and an SSHSIG signature
//! over exactly those bytes, so `ssh-keygen -Y verify` can check it too.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::BundleError;
use crate::crypto::{self, NodeKeys};
use crate::domain::DepartmentCard;

/// `format` of a receipt.
pub const RECEIPT_FORMAT: &str = "handover-receipt/1";
/// Largest receipt file.
pub const MAX_RECEIPT_BYTES: usize = 4 * 1024 * 1024;

/// One document the destination accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptDocument {
    pub path: String,
    /// Plaintext size and SHA-256, as checked on import.
    pub size: u64,
    pub sha256: String,
}

/// What the destination attests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub format: String,
    pub bundle_id: String,
    /// SHA-256 of the exact `envelope.json` received.
    pub envelope_sha256: String,
    pub source: String,
    pub destination: String,
    pub received_at: DateTime<Utc>,
    pub documents: Vec<ReceiptDocument>,
}

/// A receipt file: the receipt's JSON text and its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReceipt {
    /// The receipt as JSON text; the signature covers exactly these bytes.
    pub receipt: String,
    /// SSHSIG (namespace `handover`) by the destination's key.
    pub signature: String,
}

impl SignedReceipt {
    /// Signs `receipt` with this node's key.
    pub fn sign(receipt: &Receipt, keys: &NodeKeys) -> SignedReceipt {
        let text = serde_json::to_string_pretty(receipt).expect("a receipt serialises");
        let signature = crypto::sign(keys, text.as_bytes());
        SignedReceipt {
            receipt: text,
            signature,
        }
    }

    /// The receipt file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("a receipt file serialises");
        v.push(b'\n');
        v
    }

    /// Parses a receipt file (no signature check yet).
    pub fn parse(bytes: &[u8]) -> Result<SignedReceipt, BundleError> {
        if bytes.len() > MAX_RECEIPT_BYTES {
            return Err(BundleError::TooLarge("the receipt file".into()));
        }
        serde_json::from_slice(bytes).map_err(|e| BundleError::Receipt(e.to_string()))
    }

    /// Checks the signature against the destination's card in `directory`
    /// and returns the receipt.
    pub fn verify(
        &self,
        directory: impl Fn(&str) -> Option<DepartmentCard>,
    ) -> Result<Receipt, BundleError> {
        let receipt: Receipt =
            serde_json::from_str(&self.receipt).map_err(|e| BundleError::Receipt(e.to_string()))?;
        if receipt.format != RECEIPT_FORMAT {
            return Err(BundleError::UnsupportedVersion(
                receipt.format.chars().take(40).collect(),
            ));
        }
        let card = directory(&receipt.destination).ok_or_else(|| {
            BundleError::UnknownDestination(receipt.destination.chars().take(64).collect())
        })?;
        let key = crypto::parse_ssh_public(&card.ssh_public_key)
            .map_err(|_| BundleError::UnknownDestination(card.id.clone()))?;
        crypto::verify(&key, self.receipt.as_bytes(), self.signature.as_bytes())
            .map_err(|_| BundleError::BadSignature(card.id.clone()))?;
        Ok(receipt)
    }
}
