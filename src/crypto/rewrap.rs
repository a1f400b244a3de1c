//! Rewrapping an age header to another recipient: the file key is
//! unwrapped with the node's identities, the header's MAC is checked, and
//! a new header wraps the same file key to the new recipient, with a new
//! MAC. The payload (nonce and chunks) does not change, so a storage key
//! rotation rewrites a few hundred bytes per document instead of the
//! document.
//!
//! Written by hand because the `age` crate only writes a header together
//! with a fresh file key and a payload. The header format is age v1's
//! (<https://age-encryption.org/v1>): the intro line, one stanza per
//! recipient, and `--- ` with the HMAC-SHA256 of everything before the
//! space, under HKDF-SHA256(file key, salt "", info "header"). Parsing a
//! stanza uses `age_core::format::read`; wrapping the file key uses the
//! recipient's own `age::Recipient` implementation.

use age::secrecy::ExposeSecret;
use age_core::format::{FileKey, Stanza};
use base64ct::{Base64Unpadded, Encoding};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const INTRO: &[u8] = b"age-encryption.org/v1\n";
const MAC_MARK: &[u8] = b"---";

/// Why a header could not be rewrapped.
#[derive(Debug, thiserror::Error)]
pub enum RewrapError {
    #[error("the age header is malformed")]
    Malformed,
    #[error("none of the node's identities opens the age header")]
    NoIdentity,
    #[error("the age header fails authentication")]
    Mac,
    #[error("the file key cannot be wrapped to the new recipient")]
    Wrap,
}

/// The header `header` (an age v1 header, through the newline of its MAC
/// line), with its file key wrapped to `to` instead of the recipients it
/// had. `identity` must open it.
pub fn rewrap_header(
    header: &[u8],
    identity: &dyn age::Identity,
    to: &age::x25519::Recipient,
) -> Result<Vec<u8>, RewrapError> {
    let (stanzas, mac_at, mac) = parse(header)?;
    let file_key = identity
        .unwrap_stanzas(&stanzas)
        .ok_or(RewrapError::NoIdentity)?
        .map_err(|_| RewrapError::NoIdentity)?;
    if header_mac(&file_key, &header[..mac_at])
        .verify_slice(&mac)
        .is_err()
    {
        return Err(RewrapError::Mac);
    }
    let (wrapped, _) =
        age::Recipient::wrap_file_key(to, &file_key).map_err(|_| RewrapError::Wrap)?;
    let mut out = INTRO.to_vec();
    for stanza in &wrapped {
        write_stanza(&mut out, stanza);
    }
    out.extend_from_slice(MAC_MARK);
    let tag = header_mac(&file_key, &out).finalize().into_bytes();
    out.push(b' ');
    out.extend_from_slice(Base64Unpadded::encode_string(&tag).as_bytes());
    out.push(b'\n');
    Ok(out)
}

/// The stanzas, where the MAC line's `---` ends (what the MAC covers), and
/// the MAC.
fn parse(header: &[u8]) -> Result<(Vec<Stanza>, usize, Vec<u8>), RewrapError> {
    let mut rest = header.strip_prefix(INTRO).ok_or(RewrapError::Malformed)?;
    let mut stanzas = Vec::new();
    while !rest.starts_with(MAC_MARK) {
        let (after, stanza) =
            age_core::format::read::age_stanza(rest).map_err(|_| RewrapError::Malformed)?;
        stanzas.push(Stanza::from(stanza));
        rest = after;
    }
    let mac_at = header.len() - rest.len() + MAC_MARK.len();
    let line = rest[MAC_MARK.len()..]
        .strip_prefix(b" ")
        .and_then(|l| l.strip_suffix(b"\n"))
        .ok_or(RewrapError::Malformed)?;
    let text = std::str::from_utf8(line).map_err(|_| RewrapError::Malformed)?;
    let mac = Base64Unpadded::decode_vec(text).map_err(|_| RewrapError::Malformed)?;
    if stanzas.is_empty() || mac.len() != 32 {
        return Err(RewrapError::Malformed);
    }
    Ok((stanzas, mac_at, mac))
}

/// `-> tag args…` and the body in base64 lines of 64 characters, the last
/// one shorter (empty if need be).
fn write_stanza(out: &mut Vec<u8>, stanza: &Stanza) {
    out.extend_from_slice(b"-> ");
    out.extend_from_slice(stanza.tag.as_bytes());
    for arg in &stanza.args {
        out.push(b' ');
        out.extend_from_slice(arg.as_bytes());
    }
    out.push(b'\n');
    let body = Base64Unpadded::encode_string(&stanza.body);
    let mut s = body.as_bytes();
    while s.len() >= 64 {
        out.extend_from_slice(&s[..64]);
        out.push(b'\n');
        s = &s[64..];
    }
    out.extend_from_slice(s);
    out.push(b'\n');
}

fn header_mac(file_key: &FileKey, covered: &[u8]) -> Hmac<Sha256> {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(None, file_key.expose_secret())
        .expand(b"header", &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(covered);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::split::header_len;

    #[test]
    fn a_rewrapped_header_opens_with_the_new_identity_only() {
        let old = age::x25519::Identity::generate();
        let new = age::x25519::Identity::generate();
        let plain = b"rewrap marker ".repeat(10_000);
        let mut whole = Vec::new();
        crate::crypto::seal(&old.to_public(), &plain[..], &mut whole).unwrap();
        let (header, payload) = whole.split_at(header_len(&whole).unwrap());
        let rewrapped = rewrap_header(header, &old, &new.to_public()).unwrap();
        assert_ne!(rewrapped, header);
        let joined = [&rewrapped[..], payload].concat();
        let mut out = Vec::new();
        crate::crypto::open(&new, &joined[..], &mut out).unwrap();
        assert_eq!(out, plain);
        assert!(crate::crypto::open(&old, &joined[..], Vec::new()).is_err());
        // The old identity cannot rewrap it again; a changed header is refused.
        assert!(matches!(
            rewrap_header(&rewrapped, &old, &new.to_public()),
            Err(RewrapError::NoIdentity)
        ));
        let mut bad = header.to_vec();
        let at = bad.len() - 5;
        bad[at] ^= 1;
        assert!(rewrap_header(&bad, &old, &new.to_public()).is_err());
        assert!(matches!(
            rewrap_header(b"not an age header", &old, &new.to_public()),
            Err(RewrapError::Malformed)
        ));
    }
}
