//! Signatures in the SSHSIG format (`ssh-keygen -Y sign/verify`), namespace
//! `handover`, by the node's Ed25519 key. Verification accepts only the
//! exact armour this module writes, so a changed byte anywhere in a
//! signature file is refused, even where base64 or PEM would tolerate it.

use ssh_key::{HashAlg, LineEnding, PublicKey, SshSig};

use super::NodeKeys;

/// The SSHSIG namespace of every handover signature.
pub const NAMESPACE: &str = "handover";
/// Largest signature file accepted.
pub const MAX_SIGNATURE_BYTES: usize = 16 * 1024;

/// Why a signature was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature is malformed")]
    Malformed,
    #[error("the signature is not in the expected namespace")]
    Namespace,
    #[error("the signature uses another hash than sha512")]
    Hash,
    #[error("the signature was not made by the expected key, or the signed bytes changed")]
    Invalid,
}

/// The SSHSIG namespace of audit log checkpoints (kept apart from bundle
/// and receipt signatures).
pub const AUDIT_NAMESPACE: &str = "handover-audit";
/// The SSHSIG namespace of receipts from version 2 on (version 1 receipts
/// were signed in [`NAMESPACE`], like envelopes).
pub const RECEIPT_NAMESPACE: &str = "handover-receipt";
/// The SSHSIG namespace of key statements (a department's new keys,
/// signed by the signing key they replace).
pub const KEY_STATEMENT_NAMESPACE: &str = "handover-key-statement";
/// The SSHSIG namespace of refusals.
pub const REFUSAL_NAMESPACE: &str = "handover-refusal";

/// Signs `msg`; returns the armoured signature (`-----BEGIN SSH SIGNATURE-----`).
pub fn sign(keys: &NodeKeys, msg: &[u8]) -> String {
    sign_in(keys, NAMESPACE, msg)
}

/// Signs `msg` in `namespace`.
pub fn sign_in(keys: &NodeKeys, namespace: &str, msg: &[u8]) -> String {
    keys.signing_key()
        .sign(namespace, HashAlg::Sha512, msg)
        .and_then(|sig| sig.to_pem(LineEnding::LF))
        .expect("an Ed25519 key signs any message")
}

/// Checks that `armored` is a signature of `msg` by `key`.
pub fn verify(key: &PublicKey, msg: &[u8], armored: &[u8]) -> Result<(), SignatureError> {
    verify_in(key, NAMESPACE, msg, armored)
}

/// Checks that `armored` is a signature of `msg` by `key` in `namespace`,
/// armoured exactly as [`sign_in`] writes it, over a SHA-512 hash, with an
/// empty reserved field.
pub fn verify_in(
    key: &PublicKey,
    namespace: &str,
    msg: &[u8],
    armored: &[u8],
) -> Result<(), SignatureError> {
    if armored.len() > MAX_SIGNATURE_BYTES {
        return Err(SignatureError::Malformed);
    }
    let sig = SshSig::from_pem(armored).map_err(|_| SignatureError::Malformed)?;
    let canonical = sig
        .to_pem(LineEnding::LF)
        .map_err(|_| SignatureError::Malformed)?;
    if canonical.as_bytes() != armored {
        return Err(SignatureError::Malformed);
    }
    if !sig.reserved().is_empty() {
        return Err(SignatureError::Malformed);
    }
    if sig.namespace() != namespace {
        return Err(SignatureError::Namespace);
    }
    if sig.hash_alg() != HashAlg::Sha512 {
        return Err(SignatureError::Hash);
    }
    key.verify(namespace, msg, &sig)
        .map_err(|_| SignatureError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_every_flip_is_refused() {
        let keys = NodeKeys::generate("t").unwrap();
        let public = keys.signing_key().public_key().clone();
        let msg = b"{\"bundle\":1}";
        let sig = sign(&keys, msg);
        verify(&public, msg, sig.as_bytes()).unwrap();
        assert!(verify(&public, b"{\"bundle\":2}", sig.as_bytes()).is_err());
        let other = NodeKeys::generate("o").unwrap();
        assert!(verify(other.signing_key().public_key(), msg, sig.as_bytes()).is_err());
        let bytes = sig.as_bytes();
        let sha256 = keys
            .signing_key()
            .sign(NAMESPACE, HashAlg::Sha256, msg)
            .and_then(|sig| sig.to_pem(LineEnding::LF))
            .unwrap();
        assert!(matches!(
            verify(&public, msg, sha256.as_bytes()),
            Err(SignatureError::Hash)
        ));
        assert!(matches!(
            verify_in(&public, RECEIPT_NAMESPACE, msg, sig.as_bytes()),
            Err(SignatureError::Namespace)
        ));
        for at in 0..bytes.len() {
            let mut bad = bytes.to_vec();
            bad[at] ^= 0x01;
            assert!(verify(&public, msg, &bad).is_err(), "flip at {at} accepted");
        }
    }
}
