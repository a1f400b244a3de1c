//! The head of a sealed age file: its header and payload nonce. The header
//! wraps a random file key for the recipient; the payload key comes from
//! that file key and the nonce, and every payload chunk is authenticated
//! under it. So a file that starts with the very head this node wrote when
//! it sealed the file (a key nobody else ever held) and decrypts without
//! error is the file it wrote: another document's file, or anything newly
//! encrypted to this node, has another head. Recording the head's digest at
//! sealing lets a later reader check a stored file without hashing all of
//! its plaintext.

use std::io::{self, Read, Write};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// The first `len` bytes of a sealed file (header and payload nonce) and
/// their SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedHead {
    pub len: u64,
    pub sha256: [u8; 32],
}

impl SealedHead {
    fn of(bytes: &[u8]) -> SealedHead {
        SealedHead {
            len: bytes.len() as u64,
            sha256: Sha256::digest(bytes).into(),
        }
    }
}

/// Keeps a copy of what passes through it in `seen` until [`take_head`].
pub(super) struct Recording<'a, W> {
    pub inner: W,
    pub seen: &'a Mutex<Option<Vec<u8>>>,
}

/// Stops the recording into `seen`; the head is what passed so far.
pub(super) fn take_head(seen: &Mutex<Option<Vec<u8>>>) -> SealedHead {
    let bytes = seen
        .lock()
        .expect("no panic holds the lock")
        .take()
        .unwrap_or_default();
    SealedHead::of(&bytes)
}

impl<W: Write> Write for Recording<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(seen) = self.seen.lock().expect("no panic holds the lock").as_mut() {
            seen.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes the first `expected.len` bytes read through it, to compare with
/// `expected` once the whole file has been read.
pub(super) struct HeadCheck<R> {
    inner: R,
    expected: SealedHead,
    left: u64,
    sha: Sha256,
}

impl<R> HeadCheck<R> {
    pub fn new(inner: R, expected: SealedHead) -> HeadCheck<R> {
        HeadCheck {
            inner,
            left: expected.len,
            expected,
            sha: Sha256::new(),
        }
    }

    /// Whether the file began with the expected head.
    pub fn holds(&self) -> bool {
        self.left == 0 && <[u8; 32]>::from(self.sha.clone().finalize()) == self.expected.sha256
    }
}

impl<R: Read> Read for HeadCheck<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let head = (n as u64).min(self.left) as usize;
        self.sha.update(&buf[..head]);
        self.left -= head as u64;
        Ok(n)
    }
}
