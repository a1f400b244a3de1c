//! Writing a bundle file from entries the caller has already encrypted and
//! staged (ciphertext only: staging never holds plaintext).

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::zipfmt::{Entry, ZipWriter};
use super::{BundleError, ENVELOPE_ENTRY, MARKER, MARKER_ENTRY, SIGNATURE_ENTRY};

/// An encrypted entry waiting in a staging file, with its measurements.
#[derive(Debug, Clone)]
pub struct StagedEntry {
    pub name: String,
    pub file: PathBuf,
    pub size: u64,
    pub crc32: u32,
}

/// Writes the bundle to `out` (via `out.partial`, renamed when complete and
/// synced): marker, envelope, signature, then the staged entries in order.
/// `progress` is told the bytes of each staged entry as they are copied.
pub fn write_bundle(
    out: &Path,
    envelope: &[u8],
    signature: &[u8],
    staged: &[StagedEntry],
    progress: &mut dyn FnMut(u64),
) -> Result<(), BundleError> {
    let partial = super::partial_path(out);
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&partial)?;
    let result = (|| -> Result<(), BundleError> {
        let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, file));
        for (name, bytes) in [
            (MARKER_ENTRY, MARKER.as_bytes()),
            (ENVELOPE_ENTRY, envelope),
            (SIGNATURE_ENTRY, signature),
        ] {
            zip.add(in_memory(name, bytes), &mut &bytes[..])?;
        }
        for s in staged {
            let mut reader = Progress {
                inner: File::open(&s.file)?,
                tell: &mut *progress,
            };
            zip.add(
                Entry {
                    name: s.name.clone(),
                    size: s.size,
                    crc32: s.crc32,
                },
                &mut reader,
            )?;
        }
        let file = zip
            .finish()?
            .into_inner()
            .map_err(|e| BundleError::Io(e.into_error()))?;
        file.sync_all()?;
        Ok(())
    })();
    match result {
        Ok(()) => {
            fs::rename(&partial, out)?;
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_file(&partial);
            Err(e)
        }
    }
}

fn in_memory(name: &str, bytes: &[u8]) -> Entry {
    Entry {
        name: name.to_string(),
        size: bytes.len() as u64,
        crc32: crc32fast::hash(bytes),
    }
}

struct Progress<'a, R> {
    inner: R,
    tell: &'a mut dyn FnMut(u64),
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.tell)(n as u64);
        Ok(n)
    }
}

/// A writer that measures what passes: size, SHA-256 and CRC-32.
pub struct Measuring<W> {
    inner: W,
    size: u64,
    sha: sha2::Sha256,
    crc: crc32fast::Hasher,
}

impl<W: Write> Measuring<W> {
    pub fn new(inner: W) -> Self {
        use sha2::Digest;
        Measuring {
            inner,
            size: 0,
            sha: sha2::Sha256::new(),
            crc: crc32fast::Hasher::new(),
        }
    }

    /// The writer, and the size, hex SHA-256 and CRC-32 of what was written.
    pub fn finish(self) -> (W, u64, String, u32) {
        use sha2::Digest;
        (
            self.inner,
            self.size,
            hex::encode(self.sha.finalize()),
            self.crc.finalize(),
        )
    }
}

impl<W: Write> Write for Measuring<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.size += n as u64;
        self.sha.update(&buf[..n]);
        self.crc.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
