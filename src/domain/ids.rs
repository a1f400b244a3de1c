//! Opaque, unguessable identifiers (UUIDv7: time-ordered, 74 random bits).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An id string that is not a well-formed id of the expected kind.
#[derive(Debug, thiserror::Error)]
#[error("not a valid {what} id")]
pub struct InvalidId {
    what: &'static str,
}

macro_rules! opaque_id {
    ($name:ident, $what:literal) => {
        #[doc = concat!("Opaque id of a ", $what, ".")]
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            Serialize,
            Deserialize,
            utoipa::ToSchema,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The id's 16 bytes (a compact database key).
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                Uuid::try_parse(s.trim())
                    .map(Self)
                    .map_err(|_| InvalidId { what: $what })
            }
        }
    };
}

opaque_id!(ChildId, "child");
opaque_id!(DocumentId, "document");
opaque_id!(UserId, "user");
opaque_id!(TokenId, "token");
opaque_id!(GrantId, "grant");
opaque_id!(TransferId, "transfer");
opaque_id!(SessionId, "session");
opaque_id!(UploadId, "upload");
