//! Streaming age encryption and decryption with the plaintext's SHA-256
//! computed in the same pass. Memory stays at one buffer whatever the size.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

/// Copy buffer: a multiple of age's 64 KiB chunk.
const BUF: usize = 256 * 1024;

/// What one sealing pass produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Plaintext bytes read.
    pub size: u64,
    /// SHA-256 of the plaintext.
    pub sha256: [u8; 32],
}

/// What one opening pass produced.
pub type Opened = Sealed;

/// A failure of a streaming pass, by side.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading the source failed (or a validator in the source refused it).
    #[error("reading input: {0}")]
    Input(#[source] io::Error),
    /// Writing the destination failed.
    #[error("writing output: {0}")]
    Output(#[source] io::Error),
    /// The ciphertext is not a valid age file for this identity, or fails authentication.
    #[error("ciphertext does not decrypt: {0}")]
    Integrity(String),
}

/// Encrypts `input` to `recipient` into `output`, hashing the plaintext on the way.
pub fn seal(
    recipient: &dyn age::Recipient,
    mut input: impl Read,
    output: impl Write,
) -> Result<Sealed, StreamError> {
    let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient))
        .map_err(|e| StreamError::Output(io::Error::other(e.to_string())))?;
    let mut writer = encryptor.wrap_output(output).map_err(StreamError::Output)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF];
    let mut size = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StreamError::Input(e)),
        };
        hasher.update(&buf[..n]);
        writer.write_all(&buf[..n]).map_err(StreamError::Output)?;
        size += n as u64;
    }
    let mut inner = writer.finish().map_err(StreamError::Output)?;
    inner.flush().map_err(StreamError::Output)?;
    Ok(Sealed {
        size,
        sha256: hasher.finalize().into(),
    })
}

/// Decrypts `input` with `identity` into `output`, hashing the plaintext on the way.
/// Every byte written has passed age's chunk authentication; the caller
/// compares the digest before it trusts the whole.
pub fn open(
    identity: &dyn age::Identity,
    input: impl Read,
    mut output: impl Write,
) -> Result<Opened, StreamError> {
    let input = io::BufReader::with_capacity(BUF, input);
    let decryptor = age::Decryptor::new_buffered(input).map_err(classify_decrypt)?;
    let mut reader = decryptor
        .decrypt(std::iter::once(identity))
        .map_err(classify_decrypt)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(classify_read(e)),
        };
        hasher.update(&buf[..n]);
        output.write_all(&buf[..n]).map_err(StreamError::Output)?;
        size += n as u64;
    }
    output.flush().map_err(StreamError::Output)?;
    Ok(Opened {
        size,
        sha256: hasher.finalize().into(),
    })
}

fn classify_decrypt(e: age::DecryptError) -> StreamError {
    match e {
        age::DecryptError::Io(io) => classify_read(io),
        other => StreamError::Integrity(other.to_string()),
    }
}

/// age reports authentication failures and truncation as InvalidData /
/// UnexpectedEof; anything else is the underlying source failing.
fn classify_read(e: io::Error) -> StreamError {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            StreamError::Integrity(e.to_string())
        }
        _ => StreamError::Input(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn seal_then_open_round_trips_and_hashes_plaintext() {
        let id = age::x25519::Identity::generate();
        for len in [0, 1, 65_535, 65_536, 65_537, 700_001] {
            let data = sample(len);
            let mut ct = Vec::new();
            let sealed = seal(&id.to_public(), &data[..], &mut ct).unwrap();
            assert_eq!(sealed.size, len as u64);
            assert_eq!(sealed.sha256, <[u8; 32]>::from(Sha256::digest(&data)));
            let mut pt = Vec::new();
            let opened = open(&id, &ct[..], &mut pt).unwrap();
            assert_eq!(pt, data);
            assert_eq!(opened, sealed);
        }
    }

    #[test]
    fn flipped_byte_and_wrong_key_are_integrity_errors() {
        let id = age::x25519::Identity::generate();
        let data = sample(200_000);
        let mut ct = Vec::new();
        seal(&id.to_public(), &data[..], &mut ct).unwrap();
        let mut bad = ct.clone();
        let at = bad.len() - 100;
        bad[at] ^= 1;
        assert!(matches!(
            open(&id, &bad[..], io::sink()),
            Err(StreamError::Integrity(_))
        ));
        let other = age::x25519::Identity::generate();
        assert!(matches!(
            open(&other, &ct[..], io::sink()),
            Err(StreamError::Integrity(_))
        ));
        let truncated = &ct[..ct.len() / 2];
        assert!(matches!(
            open(&id, truncated, io::sink()),
            Err(StreamError::Integrity(_))
        ));
    }
}
