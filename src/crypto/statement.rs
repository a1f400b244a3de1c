//! Key statements (`handover-key-statement/1`, `docs/key-rotation.md`): a
//! department's new keys, signed by the signing key they follow, so a
//! department that trusts the old key can trust the new ones without a
//! new phone call. A card carries its statements, oldest first.

use serde::{Deserialize, Serialize};

use super::{parse_ssh_public, sign_in, verify_in, NodeKeys, KEY_STATEMENT_NAMESPACE};
use crate::domain::KeyStatement;

/// The format name of a key statement.
pub const STATEMENT_FORMAT: &str = "handover-key-statement/1";

/// What a key statement says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementBody {
    pub format: String,
    /// The department's id.
    pub department: String,
    /// The signing key before the change: the one that signs this.
    pub previous_ssh_public_key: String,
    /// The signing key from now on (the same when only the age key changed).
    pub ssh_public_key: String,
    /// The age recipient before the change.
    pub previous_age_recipient: String,
    /// The age recipient from now on.
    pub age_recipient: String,
    /// When the change took effect (RFC 3339, UTC).
    pub at: String,
}

/// Why a statement was refused.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    #[error("a key statement is malformed: {0}")]
    Malformed(String),
    #[error("a key statement's signature does not verify with the key it names as previous")]
    Signature,
}

/// Signs `body` with `previous` (the keys whose signing key is the body's
/// previous one).
pub fn sign_statement(previous: &NodeKeys, body: &StatementBody) -> KeyStatement {
    let statement = serde_json::to_string(body).expect("a statement serialises");
    let signature = sign_in(previous, KEY_STATEMENT_NAMESPACE, statement.as_bytes());
    KeyStatement {
        statement,
        signature,
    }
}

/// Parses a statement and checks its signature by the key it names as
/// previous. Whether that key is trusted is the caller's question.
pub fn verify_statement(signed: &KeyStatement) -> Result<StatementBody, StatementError> {
    let body: StatementBody = serde_json::from_str(&signed.statement)
        .map_err(|e| StatementError::Malformed(e.to_string()))?;
    if body.format != STATEMENT_FORMAT {
        return Err(StatementError::Malformed(format!(
            "its format is not {STATEMENT_FORMAT}"
        )));
    }
    let key = parse_ssh_public(&body.previous_ssh_public_key)
        .map_err(|e| StatementError::Malformed(e.to_string()))?;
    parse_ssh_public(&body.ssh_public_key).map_err(|e| StatementError::Malformed(e.to_string()))?;
    verify_in(
        &key,
        KEY_STATEMENT_NAMESPACE,
        signed.statement.as_bytes(),
        signed.signature.as_bytes(),
    )
    .map_err(|_| StatementError::Signature)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_verifies_with_the_previous_key_only() {
        let old = NodeKeys::generate("t").unwrap();
        let new = NodeKeys::generate("t").unwrap();
        let body = StatementBody {
            format: STATEMENT_FORMAT.into(),
            department: "t-dept".into(),
            previous_ssh_public_key: old.ssh_public_key(),
            ssh_public_key: new.ssh_public_key(),
            previous_age_recipient: old.recipient().to_string(),
            age_recipient: old.recipient().to_string(),
            at: "2026-12-06T00:00:00Z".into(),
        };
        let signed = sign_statement(&old, &body);
        assert_eq!(verify_statement(&signed).unwrap(), body);
        let forged = sign_statement(&new, &body);
        assert!(matches!(
            verify_statement(&forged),
            Err(StatementError::Signature)
        ));
        let mut altered = signed.clone();
        altered.statement = altered.statement.replace("t-dept", "x-dept");
        assert!(verify_statement(&altered).is_err());
    }
}
