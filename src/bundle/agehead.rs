//! The recipients of an age file, read from its header without a key: a
//! bundle's age entries must each be encrypted to exactly one X25519
//! recipient (grease stanzas aside), so that no copy of a child's papers is
//! readable by anyone but the destination. Stanzas are parsed by age-core;
//! only the rule is ours.

use age_core::format::read::age_stanza;

/// The header must end within this many bytes of the entry's start.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

const MAGIC: &[u8] = b"age-encryption.org/v1\n";
const MAC_LINE: &[u8] = b"--- ";
/// The recipient type every stanza but grease must have.
const X25519: &str = "X25519";
/// age's grease stanzas have a random type ending in this.
const GREASE_SUFFIX: &str = "-grease";

/// Checks the header at the start of `file`: a binary age v1 header whose
/// stanzas are one `X25519` recipient and any number of grease stanzas.
pub fn check_recipients(file: &[u8]) -> Result<(), &'static str> {
    let mut rest = file
        .strip_prefix(MAGIC)
        .ok_or("it is not a binary age v1 file")?;
    let mut x25519 = 0;
    while !rest.starts_with(MAC_LINE) {
        let (after, stanza) = age_stanza(rest).map_err(|_| {
            if file.len() >= MAX_HEADER_BYTES {
                "its header is longer than 16 KiB"
            } else {
                "its header is malformed or cut short"
            }
        })?;
        if stanza.tag == X25519 {
            x25519 += 1;
        } else if !stanza.tag.ends_with(GREASE_SUFFIX) {
            return Err("its header has a stanza of another recipient type");
        }
        rest = after;
    }
    match x25519 {
        1 => Ok(()),
        0 => Err("its header has no X25519 stanza"),
        _ => Err("its header has more than one X25519 stanza"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed_to(recipients: Vec<Box<dyn age::Recipient + Send>>) -> Vec<u8> {
        let e = age::Encryptor::with_recipients(recipients.iter().map(|r| &**r as _)).unwrap();
        let mut out = Vec::new();
        let mut w = e.wrap_output(&mut out).unwrap();
        std::io::Write::write_all(&mut w, b"hello").unwrap();
        w.finish().unwrap();
        out
    }

    #[test]
    fn one_recipient_passes_two_or_another_kind_do_not() {
        let a = age::x25519::Identity::generate().to_public();
        let b = age::x25519::Identity::generate().to_public();
        assert_eq!(
            check_recipients(&sealed_to(vec![Box::new(a.clone())])),
            Ok(())
        );
        assert_eq!(
            check_recipients(&sealed_to(vec![Box::new(a), Box::new(b)])),
            Err("its header has more than one X25519 stanza")
        );
        let other = b"age-encryption.org/v1\n-> scrypt c2FsdHNhbHRzYWx0c2FsdA 10\nAAAA\n--- x\n";
        assert_eq!(
            check_recipients(other),
            Err("its header has a stanza of another recipient type")
        );
        let grease_only = b"age-encryption.org/v1\n-> a-grease\n\n--- x\n";
        assert_eq!(
            check_recipients(grease_only),
            Err("its header has no X25519 stanza")
        );
        assert_eq!(
            check_recipients(b"-----BEGIN AGE ENCRYPTED FILE-----\n"),
            Err("it is not a binary age v1 file")
        );
        assert_eq!(
            check_recipients(b"age-encryption.org/v1\n-> X25519 abc\n"),
            Err("its header is malformed or cut short")
        );
    }
}
