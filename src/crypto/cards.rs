//! Parsing and fingerprinting the public keys on a department card, so they
//! can be checked by phone or letter before a card is trusted.

use sha2::{Digest, Sha256};
use ssh_key::{Algorithm, HashAlg, PublicKey};

use super::KeyError;

/// Parses an age X25519 recipient (`age1…`).
pub fn parse_recipient(s: &str) -> Result<age::x25519::Recipient, KeyError> {
    s.trim()
        .parse()
        .map_err(|_| KeyError::BadPublicKey("age recipient"))
}

/// Parses an OpenSSH Ed25519 public key line (`ssh-ed25519 AAAA… [comment]`).
pub fn parse_ssh_public(s: &str) -> Result<PublicKey, KeyError> {
    let key =
        PublicKey::from_openssh(s.trim()).map_err(|_| KeyError::BadPublicKey("ssh public key"))?;
    if key.algorithm() != Algorithm::Ed25519 {
        return Err(KeyError::BadPublicKey(
            "ssh public key (must be ssh-ed25519)",
        ));
    }
    Ok(key)
}

/// Every signing key of `card`, oldest first (its previous keys, then its
/// current one).
pub fn card_signing_keys(card: &crate::domain::DepartmentCard) -> Result<Vec<PublicKey>, KeyError> {
    card.signing_keys().map(parse_ssh_public).collect()
}

/// `SHA256:…` fingerprint of an SSH public key, as `ssh-keygen -l` prints it.
pub fn ssh_fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// `SHA256:…` fingerprint of an age recipient: unpadded base64 of the
/// SHA-256 of its `age1…` string, in the style of SSH fingerprints.
pub fn age_fingerprint(recipient: &age::x25519::Recipient) -> String {
    use base64ct::{Base64Unpadded, Encoding};
    let digest = Sha256::digest(recipient.to_string().as_bytes());
    format!("SHA256:{}", Base64Unpadded::encode_string(&digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_and_keys_checked() {
        let keys = crate::crypto::NodeKeys::generate("t").unwrap();
        let ssh = parse_ssh_public(&keys.ssh_public_key()).unwrap();
        assert!(ssh_fingerprint(&ssh).starts_with("SHA256:"));
        let r = parse_recipient(&keys.recipient().to_string()).unwrap();
        assert_eq!(age_fingerprint(&r), age_fingerprint(&keys.recipient()));
        assert_eq!(age_fingerprint(&r).len(), 7 + 43);
        assert!(parse_recipient("age1notarecipient").is_err());
        assert!(parse_ssh_public("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ").is_err());
    }
}
