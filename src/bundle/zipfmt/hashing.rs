//! Counting, CRC-ing and hashing what is written, in the same pass.

use std::io::{self, Write};

/// What passed through [`measure`].
pub(super) struct Measured {
    pub(super) size: u64,
    pub(super) crc32: u32,
    pub(super) sha256: [u8; 32],
}

/// Runs `write` into `out`, counting, CRC-ing and hashing what passes, on
/// the calling thread: the manifest is small, and documents are written side
/// by side on every core already.
pub(super) fn measure<W: Write + Send>(
    out: &mut W,
    write: impl FnOnce(&mut (dyn Write + Send)) -> io::Result<()>,
) -> io::Result<Measured> {
    use sha2::Digest;
    let mut measuring = Measuring {
        inner: out,
        size: 0,
        crc: crc32fast::Hasher::new(),
        sha: sha2::Sha256::new(),
    };
    write(&mut measuring)?;
    measuring.inner.flush()?;
    Ok(Measured {
        size: measuring.size,
        crc32: measuring.crc.finalize(),
        sha256: measuring.sha.finalize().into(),
    })
}

/// Counts, CRCs and hashes what passes to `inner`.
struct Measuring<'a, W> {
    inner: &'a mut W,
    size: u64,
    crc: crc32fast::Hasher,
    sha: sha2::Sha256,
}

impl<W: Write> Write for Measuring<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.size += n as u64;
        self.crc.update(&buf[..n]);
        self.sha.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
