//! Reading a bundle: structure, layout, signature, fingerprints and every
//! digest are checked (`verify`, which needs only the directory) before any
//! entry is decrypted (`manifest`, `decrypt_entry`, which need the
//! destination's identity).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::zipfmt::{read_index, Located};
use super::{
    agehead, document_entry, BundleError, Envelope, Manifest, ENVELOPE_ENTRY, ENVELOPE_FORMAT,
    MANIFEST_ENTRY, MANIFEST_FORMAT, MARKER, MARKER_ENTRY, MAX_DOCUMENTS, MAX_ENVELOPE_BYTES,
    MAX_MANIFEST_BYTES, MAX_MARKER_BYTES, SIGNATURE_ENTRY,
};
use crate::crypto::{self, Sealed, StreamError, Threads};
use crate::domain::text::outside_id;
use crate::domain::DepartmentCard;

/// A bundle whose envelope, signature and digests all hold.
#[derive(Debug, Clone)]
pub struct Verified {
    pub envelope: Envelope,
    /// Hex SHA-256 of the exact `envelope.json` bytes (named by receipts).
    pub envelope_sha256: String,
    /// Size of the bundle file.
    pub size: u64,
}

impl Verified {
    /// Number of documents in the bundle.
    pub fn document_count(&self) -> usize {
        self.envelope.entries.len().saturating_sub(1)
    }
}

/// An open bundle file whose zip structure and layout are sound.
pub struct BundleReader {
    file: File,
    index: Vec<Located>,
    size: u64,
}

impl BundleReader {
    /// Opens `path` and checks its structure and entry layout.
    pub fn open(path: &Path) -> Result<BundleReader, BundleError> {
        BundleReader::from_file(File::open(path)?)
    }

    /// Checks the structure and entry layout of an open bundle file. The
    /// version marker is read first, before anything else of the zip, so a
    /// bundle of a later version is named for what it is.
    pub fn from_file(mut file: File) -> Result<BundleReader, BundleError> {
        read_marker(&file)?;
        let index = read_index(&mut file)?;
        let size = file.seek(SeekFrom::End(0))?;
        let reader = BundleReader { file, index, size };
        reader.check_layout()?;
        Ok(reader)
    }

    fn check_layout(&self) -> Result<(), BundleError> {
        let names: Vec<&str> = self.index.iter().map(|l| l.entry.name.as_str()).collect();
        let fixed = [
            MARKER_ENTRY,
            ENVELOPE_ENTRY,
            SIGNATURE_ENTRY,
            MANIFEST_ENTRY,
        ];
        for (i, want) in fixed.iter().enumerate() {
            match names.get(i) {
                Some(got) if got == want => {}
                Some(got) => {
                    return Err(BundleError::Layout(format!(
                        "entry {} is {got}, expected {want}",
                        i + 1
                    )))
                }
                None => return Err(BundleError::Layout(format!("missing entry {want}"))),
            }
        }
        for (n, got) in names.iter().enumerate().skip(fixed.len()) {
            let want = document_entry(n - fixed.len() + 1);
            if *got != want {
                return Err(BundleError::Layout(format!(
                    "unexpected entry {got} (expected {want})"
                )));
            }
        }
        if names.len() - fixed.len() > MAX_DOCUMENTS {
            return Err(BundleError::TooLarge(format!(
                "{} documents (limit {MAX_DOCUMENTS})",
                names.len() - fixed.len()
            )));
        }
        let limits = [
            (1, MAX_ENVELOPE_BYTES),
            (2, crypto_sig_limit()),
            (3, MAX_MANIFEST_BYTES),
        ];
        for (i, limit) in limits {
            if self.index[i].entry.size > limit {
                return Err(BundleError::TooLarge(format!(
                    "{} is {} bytes (limit {limit})",
                    self.index[i].entry.name, self.index[i].entry.size
                )));
            }
        }
        Ok(())
    }

    /// Checks envelope, signature, fingerprints and every entry's digest.
    /// `directory` finds a department's card by id.
    pub fn verify(
        &mut self,
        directory: impl Fn(&str) -> Option<DepartmentCard>,
    ) -> Result<Verified, BundleError> {
        let envelope_bytes = self.read_small(1, MAX_ENVELOPE_BYTES)?;
        let signature = self.read_small(2, crypto_sig_limit())?;
        let envelope = check_envelope(&envelope_bytes, &signature, &directory)?;

        let listed: Vec<_> = envelope.entries.iter().map(|e| e.path.as_str()).collect();
        let present: Vec<_> = self.index[3..]
            .iter()
            .map(|l| l.entry.name.as_str())
            .collect();
        if listed.len() != present.len() {
            return Err(BundleError::Layout(format!(
                "the envelope lists {} entries, the zip holds {}",
                listed.len(),
                present.len()
            )));
        }
        if let Some((i, (l, p))) = listed
            .iter()
            .zip(&present)
            .enumerate()
            .find(|(_, (l, p))| l != p)
        {
            return Err(BundleError::Layout(format!(
                "the envelope lists {l} as entry {}, where the zip holds {p}",
                i + 4
            )));
        }
        super::parallel::run(envelope.entries.len(), |i| {
            let at = i + 3;
            let (sha, crc) = self.digest_entry(at)?;
            let entry = &self.index[at].entry;
            let listed = &envelope.entries[i];
            if listed.size != entry.size || listed.sha256 != sha || crc != entry.crc32 {
                return Err(BundleError::Digest(entry.name.clone()));
            }
            self.check_recipients(at)
        })?;
        Ok(Verified {
            envelope_sha256: hex::encode(Sha256::digest(&envelope_bytes)),
            envelope,
            size: self.size,
        })
    }

    /// Decrypts the manifest and checks it against the verified envelope.
    pub fn manifest(
        &mut self,
        verified: &Verified,
        identity: &dyn age::Identity,
    ) -> Result<Manifest, BundleError> {
        let mut plain = Vec::new();
        self.decrypt_entry(3, identity, &mut plain, Threads::Calling)?;
        let manifest: Manifest =
            serde_json::from_slice(&plain).map_err(|e| BundleError::Manifest(e.to_string()))?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(BundleError::Manifest(format!(
                "its format must be {MANIFEST_FORMAT} in a {} bundle",
                MARKER.trim_end()
            )));
        }
        if manifest.bundle_id != verified.envelope.bundle_id {
            return Err(BundleError::Manifest(
                "its bundle id differs from the envelope's".into(),
            ));
        }
        let paths: Vec<_> = manifest.documents.iter().map(|d| d.path.as_str()).collect();
        let entries: Vec<_> = verified.envelope.entries[1..]
            .iter()
            .map(|e| e.path.as_str())
            .collect();
        if paths != entries {
            return Err(BundleError::Manifest(
                "its documents differ from the envelope's entries".into(),
            ));
        }
        Ok(manifest)
    }

    /// Decrypts document `n` (from 1) into `sink`, with the threads given;
    /// returns its plaintext size and digest for the caller to compare with
    /// the manifest.
    pub fn decrypt_document(
        &self,
        n: usize,
        identity: &dyn age::Identity,
        sink: impl Write + Send,
        threads: Threads,
    ) -> Result<Sealed, BundleError> {
        self.decrypt_entry(3 + n, identity, sink, threads)
    }

    /// A raw reader of document `n`'s ciphertext (from 1), for storing it as it arrived.
    pub fn document_ciphertext(&self, n: usize) -> Result<impl Read + '_, BundleError> {
        self.entry_reader(3 + n)
    }

    fn decrypt_entry(
        &self,
        at: usize,
        identity: &dyn age::Identity,
        sink: impl Write + Send,
        threads: Threads,
    ) -> Result<Sealed, BundleError> {
        let name = self.index[at].entry.name.clone();
        let reader = self.entry_reader(at)?;
        crypto::open_with(threads, identity, reader, sink).map_err(|e| match e {
            StreamError::Integrity(m) => BundleError::Decrypt(name, m),
            e @ StreamError::NotRecorded => BundleError::Decrypt(name, e.to_string()),
            StreamError::Input(io) | StreamError::Output(io) => BundleError::Io(io),
        })
    }

    fn entry_reader(&self, at: usize) -> Result<EntryReader<'_>, BundleError> {
        let l = &self.index[at];
        Ok(EntryReader {
            file: &self.file,
            pos: l.data_offset,
            end: l.data_offset + l.entry.size,
        })
    }

    /// Refuses an age entry not encrypted to exactly one X25519 recipient
    /// (grease aside), read from its header alone.
    fn check_recipients(&self, at: usize) -> Result<(), BundleError> {
        let mut head = Vec::new();
        self.entry_reader(at)?
            .take(agehead::MAX_HEADER_BYTES as u64)
            .read_to_end(&mut head)?;
        agehead::check_recipients(&head)
            .map_err(|why| BundleError::Recipients(self.index[at].entry.name.clone(), why))
    }

    fn read_small(&self, at: usize, limit: u64) -> Result<Vec<u8>, BundleError> {
        let size = self.index[at].entry.size;
        if size > limit {
            return Err(BundleError::TooLarge(format!(
                "{} is {size} bytes (limit {limit})",
                self.index[at].entry.name
            )));
        }
        let mut buf = Vec::with_capacity(size as usize);
        self.entry_reader(at)?.read_to_end(&mut buf)?;
        Ok(buf)
    }

    fn digest_entry(&self, at: usize) -> Result<(String, u32), BundleError> {
        let mut reader = self.entry_reader(at)?;
        let mut sha = Sha256::new();
        let mut crc = crc32fast::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            sha.update(&buf[..n]);
            crc.update(&buf[..n]);
        }
        Ok((hex::encode(sha.finalize()), crc.finalize()))
    }
}

/// Reads one entry's bytes by position, so several entries can be read at
/// once from the same file.
struct EntryReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for EntryReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end - self.pos).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Parses `envelope.json` and checks it with its signature against the
/// directory: the source's key and fingerprint, the destination's
/// recipient fingerprint, source and destination differ (§11, steps 4–6).
pub(super) fn check_envelope(
    envelope_bytes: &[u8],
    signature: &[u8],
    directory: &impl Fn(&str) -> Option<DepartmentCard>,
) -> Result<Envelope, BundleError> {
    let envelope: Envelope =
        serde_json::from_slice(envelope_bytes).map_err(|e| BundleError::Envelope(e.to_string()))?;
    if envelope.format != ENVELOPE_FORMAT {
        return Err(BundleError::Envelope(format!(
            "its format must be {ENVELOPE_FORMAT} in a {} bundle",
            MARKER.trim_end()
        )));
    }
    let source = directory(&envelope.source.id)
        .ok_or_else(|| BundleError::UnknownSource(outside_id(&envelope.source.id)))?;
    let signing_key = source_key(&source, &envelope.source.fingerprint)?;
    crypto::verify(&signing_key, envelope_bytes, signature)
        .map_err(|e| BundleError::signature(SIGNATURE_ENTRY, &source.id, e))?;
    if envelope.source.fingerprint != crypto::ssh_fingerprint(&signing_key) {
        return Err(BundleError::FingerprintMismatch("source signing key"));
    }
    if envelope.source.id == envelope.destination.id {
        return Err(BundleError::Envelope(
            "its source and destination are the same department".into(),
        ));
    }
    let destination = directory(&envelope.destination.id)
        .ok_or_else(|| BundleError::UnknownDestination(outside_id(&envelope.destination.id)))?;
    let recipient = crypto::parse_recipient(&destination.age_recipient)
        .map_err(|_| BundleError::UnknownDestination(outside_id(&destination.id)))?;
    if envelope.destination.fingerprint != crypto::age_fingerprint(&recipient) {
        return Err(BundleError::FingerprintMismatch(
            "destination age recipient",
        ));
    }
    Ok(envelope)
}

/// The key of `card` whose fingerprint the envelope names: its current key
/// or a previous one (a bundle made before the department rotated its
/// key), never a revoked one. Any other fingerprint is checked against the
/// current key, and then fails as a mismatch.
fn source_key(card: &DepartmentCard, fingerprint: &str) -> Result<ssh_key::PublicKey, BundleError> {
    let chosen = card
        .signing_keys()
        .find(|k| fingerprint_of(k).as_deref() == Some(fingerprint))
        .unwrap_or(&card.ssh_public_key);
    if let Some(since) = card.revoked_since(chosen) {
        return Err(BundleError::RevokedKey {
            department: card.id.clone(),
            since: since.to_string(),
        });
    }
    crypto::parse_ssh_public(chosen).map_err(|_| BundleError::UnknownSource(outside_id(&card.id)))
}

fn fingerprint_of(key: &str) -> Option<String> {
    crypto::parse_ssh_public(key)
        .ok()
        .map(|k| crypto::ssh_fingerprint(&k))
}

/// Reads the `HANDOVER` entry's local header at offset 0 and its content:
/// the format version, before any other part of the file.
fn read_marker(file: &File) -> Result<(), BundleError> {
    const HEAD: usize = 30 + MARKER_ENTRY.len();
    let mut head = [0u8; HEAD + MAX_MARKER_BYTES];
    let mut got = 0;
    while got < head.len() {
        match file.read_at(&mut head[got..], got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    let u16_at = |at: usize| u16::from_le_bytes([head[at], head[at + 1]]);
    let u32_at =
        |at: usize| u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    if got < HEAD
        || u32_at(0) != 0x0403_4b50
        || usize::from(u16_at(26)) != MARKER_ENTRY.len()
        || &head[30..HEAD] != MARKER_ENTRY.as_bytes()
    {
        return Err(BundleError::NotABundle);
    }
    let size = u32_at(22) as usize;
    if u16_at(8) != 0 || u16_at(28) != 0 || size > MAX_MARKER_BYTES || got < HEAD + size {
        return Err(BundleError::Marker);
    }
    check_marker(&head[HEAD..HEAD + size])
}

/// Checks the content of the `HANDOVER` entry (§5).
pub(super) fn check_marker(marker: &[u8]) -> Result<(), BundleError> {
    if marker == MARKER.as_bytes() {
        return Ok(());
    }
    let version = marker
        .strip_prefix(b"handover-bundle/")
        .and_then(|v| v.strip_suffix(b"\n"))
        .filter(|v| !v.is_empty() && v[0] != b'0' && v.iter().all(u8::is_ascii_digit));
    match version {
        Some(_) => Err(BundleError::UnsupportedVersion(
            String::from_utf8_lossy(marker).trim_end().to_string(),
        )),
        None => Err(BundleError::Marker),
    }
}

pub(super) fn crypto_sig_limit() -> u64 {
    crypto::MAX_SIGNATURE_BYTES as u64
}
