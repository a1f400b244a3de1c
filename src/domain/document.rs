//! A stored document's metadata and the media types the vault accepts.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ChildId, DocKind, DocumentId};

/// Media types accepted for scans, recognised from the file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum MediaType {
    #[serde(rename = "application/pdf")]
    Pdf,
    #[serde(rename = "image/jpeg")]
    Jpeg,
    #[serde(rename = "image/png")]
    Png,
    #[serde(rename = "image/tiff")]
    Tiff,
    #[serde(rename = "image/webp")]
    Webp,
    #[serde(rename = "image/heic")]
    Heic,
    /// Plain UTF-8 text; accepted only for kind `other`.
    #[serde(rename = "text/plain")]
    Text,
}

impl MediaType {
    pub const ALL: [MediaType; 7] = [
        MediaType::Pdf,
        MediaType::Jpeg,
        MediaType::Png,
        MediaType::Tiff,
        MediaType::Webp,
        MediaType::Heic,
        MediaType::Text,
    ];

    /// The MIME type string.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
            MediaType::Tiff => "image/tiff",
            MediaType::Webp => "image/webp",
            MediaType::Heic => "image/heic",
            MediaType::Text => "text/plain",
        }
    }

    /// The usual file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            MediaType::Pdf => "pdf",
            MediaType::Jpeg => "jpg",
            MediaType::Png => "png",
            MediaType::Tiff => "tif",
            MediaType::Webp => "webp",
            MediaType::Heic => "heic",
            MediaType::Text => "txt",
        }
    }

    /// Parses a MIME type string as stored.
    pub fn from_mime(s: &str) -> Option<MediaType> {
        MediaType::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One stored document. Kind, title and file name are personal facts: they
/// live only in the encrypted database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Document {
    pub id: DocumentId,
    pub child_id: ChildId,
    pub kind: DocKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    pub media_type: MediaType,
    /// Size in bytes of the stored plaintext (after metadata removal).
    pub size: u64,
    /// Lower-case hex SHA-256 of the stored plaintext.
    pub sha256: String,
    pub added_by: String,
    pub added_at: DateTime<Utc>,
}
