//! One line of the audit log, as written and as read back, and the exact
//! text a checkpoint signs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One line. `prev` is the hex SHA-256 of the previous line's bytes
/// (without its newline); `seq` counts lines from 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub seq: u64,
    pub prev: String,
    pub time: DateTime<Utc>,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Body {
    Entry(Entry),
    Checkpoint(Checkpoint),
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allow,
    Deny,
}

/// One decision. Everything here is an opaque id, a role, an action name,
/// a purpose or a policy id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// `user:UUID` or `local-operator`.
    pub who: String,
    pub role: String,
    pub action: String,
    pub decision: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// Another opaque id the action names (a user, token, grant, department
    /// or bundle id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The policies that decided (`FILE#N`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
}

/// A signed checkpoint: the node's signature over [`checkpoint_message`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub checkpoint: String,
    /// Armoured SSHSIG (namespace `handover-audit`).
    pub signature: String,
}

/// The exact bytes a checkpoint on line `seq` signs: the department, the
/// line number, the hash of everything before it and the time.
pub fn checkpoint_message(department: &str, seq: u64, prev: &str, time: &DateTime<Utc>) -> String {
    format!(
        "handover-audit-checkpoint/1\ndepartment {department}\nseq {seq}\nprev {prev}\ntime {}\n",
        time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    )
}

/// Hex SHA-256 of a line's bytes.
pub fn line_hash(line: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(line))
}
