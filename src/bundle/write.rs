//! Writing a bundle in one pass: the envelope and its signature are reserved
//! up front (the envelope padded with trailing whitespace to its slot, the
//! signature of fixed length), the manifest and documents are streamed into
//! place, then the envelope is signed and filled in. Built at `OUT.partial`,
//! fsynced, renamed to `OUT`; dropped unfinished, the partial file goes.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, Utc};

use super::zipfmt::{Entry, Slot, ZipWriter};
use super::{
    document_entry, partial_path, BundleError, DepartmentRef, Envelope, EnvelopeEntry, Manifest,
    ENVELOPE_ENTRY, ENVELOPE_FORMAT, MANIFEST_ENTRY, MANIFEST_PADDING, MARKER, MARKER_ENTRY,
    MAX_DOCUMENTS, MAX_MANIFEST_BYTES, SIGNATURE_ENTRY,
};

/// A bundle being written.
pub struct BundleWriter {
    zip: Option<ZipWriter<BufWriter<File>>>,
    partial: PathBuf,
    out: PathBuf,
    envelope_slot: Slot,
    envelope_len: usize,
    signature_slot: Slot,
    entries: Vec<EnvelopeEntry>,
}

impl BundleWriter {
    /// Starts a bundle at `out` for `documents` documents whose signatures
    /// are `signature_len` bytes long.
    pub fn create(
        out: &Path,
        documents: usize,
        signature_len: usize,
    ) -> Result<BundleWriter, BundleError> {
        if documents > MAX_DOCUMENTS {
            return Err(BundleError::TooLarge(format!(
                "a bundle holds at most {MAX_DOCUMENTS} documents, not {documents}"
            )));
        }
        let partial = partial_path(out);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&partial)?;
        let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, file));
        let marker = MARKER.as_bytes();
        zip.add(
            Entry {
                name: MARKER_ENTRY.into(),
                size: marker.len() as u64,
                crc32: crc32fast::hash(marker),
            },
            &mut &marker[..],
        )?;
        let envelope_len = envelope_bound(documents);
        let envelope_slot = zip.reserve(ENVELOPE_ENTRY, envelope_len as u64)?;
        let signature_slot = zip.reserve(SIGNATURE_ENTRY, signature_len as u64)?;
        Ok(BundleWriter {
            zip: Some(zip),
            partial,
            out: out.to_path_buf(),
            envelope_slot,
            envelope_len,
            signature_slot,
            entries: Vec::new(),
        })
    }

    fn zip(&mut self) -> &mut ZipWriter<BufWriter<File>> {
        self.zip
            .as_mut()
            .expect("a bundle writer is used only until finished")
    }

    /// Adds the encrypted manifest (first, before any document).
    pub fn add_manifest(&mut self, ciphertext: &[u8]) -> Result<(), BundleError> {
        if ciphertext.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(BundleError::TooLarge(format!(
                "{MANIFEST_ENTRY} would be {} bytes (limit {MAX_MANIFEST_BYTES})",
                ciphertext.len()
            )));
        }
        let (size, sha256) = self
            .zip()
            .stream(MANIFEST_ENTRY, |w| w.write_all(ciphertext))?;
        self.entries.push(EnvelopeEntry {
            path: MANIFEST_ENTRY.into(),
            size,
            sha256,
        });
        Ok(())
    }

    /// Adds `count` documents, up to `threads` at a time: `job(i, out,
    /// sized)` writes document `i`'s ciphertext and tells `sized` its length
    /// as soon as it knows it (the next document starts there). Returns
    /// the documents' entry paths.
    pub fn add_documents<E>(
        &mut self,
        count: usize,
        threads: usize,
        job: impl Fn(usize, &mut (dyn Write + Send), &dyn Fn(u64) -> std::io::Result<()>) -> Result<(), E>
            + Sync,
    ) -> Result<Vec<String>, E>
    where
        E: From<std::io::Error> + Send,
    {
        let first = self.entries.len();
        let paths: Vec<String> = (0..count).map(|i| document_entry(first + i)).collect();
        let measured = self.zip().stream_side_by_side(&paths, threads, job)?;
        for (path, (size, sha256)) in paths.iter().zip(measured) {
            self.entries.push(EnvelopeEntry {
                path: path.clone(),
                size,
                sha256,
            });
        }
        Ok(paths)
    }

    /// Completes the envelope from the entries written, has `sign` sign its
    /// exact bytes, writes both, the central directory; syncs and renames
    /// into place. `created_at` is written in whole seconds. Returns the
    /// envelope and the SHA-256 of its bytes.
    pub fn finish(
        mut self,
        bundle_id: &str,
        created_at: DateTime<Utc>,
        source: DepartmentRef,
        destination: DepartmentRef,
        sign: impl FnOnce(&[u8]) -> String,
    ) -> Result<(Envelope, String), BundleError> {
        use sha2::Digest;
        let envelope = Envelope {
            format: ENVELOPE_FORMAT.to_string(),
            bundle_id: bundle_id.to_string(),
            created_at: created_at.trunc_subsecs(0),
            source,
            destination,
            entries: std::mem::take(&mut self.entries),
        };
        let mut bytes = serde_json::to_vec_pretty(&envelope).map_err(std::io::Error::other)?;
        if bytes.len() + 1 > self.envelope_len {
            return Err(BundleError::TooLarge(
                "envelope.json outgrew its reserved size".into(),
            ));
        }
        // JSON allows trailing whitespace: pad the envelope to its slot.
        bytes.resize(self.envelope_len - 1, b' ');
        bytes.push(b'\n');
        let signature = sign(&bytes);
        let (envelope_slot, signature_slot) = (self.envelope_slot, self.signature_slot);
        let mut zip = self.zip.take().expect("finished once");
        zip.fill(envelope_slot, &bytes)?;
        zip.fill(signature_slot, signature.as_bytes())?;
        let file = zip
            .finish()?
            .into_inner()
            .map_err(|e| BundleError::Io(e.into_error()))?;
        file.sync_all()?;
        crate::durable::commit_synced(&self.partial, &self.out)?;
        Ok((envelope, hex::encode(sha2::Sha256::digest(&bytes))))
    }
}

impl Drop for BundleWriter {
    fn drop(&mut self) {
        if self.zip.is_some() {
            let _ = fs::remove_file(&self.partial);
        }
    }
}

/// The manifest's plaintext: its JSON, padded with spaces and a final
/// line feed to a multiple of [`MANIFEST_PADDING`] bytes, so its size says
/// little about the length of the child's details.
pub fn manifest_plaintext(manifest: &Manifest) -> Vec<u8> {
    let mut json = serde_json::to_vec_pretty(manifest).expect("a manifest serialises");
    let padded = (json.len() + 1).div_ceil(MANIFEST_PADDING) * MANIFEST_PADDING;
    json.resize(padded - 1, b' ');
    json.push(b'\n');
    json
}

/// Upper bound of the envelope's length for `documents` documents: every
/// size at its widest, ids and fingerprints at their longest.
fn envelope_bound(documents: usize) -> usize {
    let widest = EnvelopeEntry {
        path: document_entry(9_999),
        size: 9_999_999_999,
        sha256: "0".repeat(64),
    };
    let long_ref = DepartmentRef {
        id: "x".repeat(63),
        fingerprint: format!("SHA256:{}", "x".repeat(43)),
    };
    let envelope = Envelope {
        format: ENVELOPE_FORMAT.to_string(),
        bundle_id: "x".repeat(64),
        created_at: DateTime::parse_from_rfc3339("2026-01-01T00:00:00.123456789Z")
            .expect("a valid time")
            .with_timezone(&Utc),
        source: long_ref.clone(),
        destination: long_ref,
        entries: vec![widest; documents + 1],
    };
    serde_json::to_vec_pretty(&envelope).map_or(0, |v| v.len()) + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::MAX_ENVELOPE_BYTES;

    #[test]
    fn the_envelope_of_the_most_documents_fits_its_limit() {
        let bound = envelope_bound(MAX_DOCUMENTS) as u64;
        assert!(bound <= MAX_ENVELOPE_BYTES, "{bound}");
    }
}
