//! The first three entries of a bundle (`HANDOVER`, `envelope.json` and
//! its signature), read from a stream before the rest has arrived. Every
//! bundle begins with them (§4, §5), so a receiver can check the version,
//! the signature against its directory and the destination, and learn the
//! exact size of the whole file (§3 derives every byte outside entry data
//! from the entry list), before it accepts or stores anything more. The
//! full check of [`super::BundleReader::verify`] still runs afterwards.

use tokio::io::{AsyncRead, AsyncReadExt};

use super::read::{check_envelope, check_marker, crypto_sig_limit};
use super::zipfmt::{canonical_size, local_header, Entry, LOCAL_HEADER_LEN, MAX_BUNDLE_BYTES};
use super::{
    BundleError, Envelope, ENVELOPE_ENTRY, MARKER_ENTRY, MAX_ENVELOPE_BYTES, MAX_MARKER_BYTES,
    SIGNATURE_ENTRY,
};
use crate::domain::DepartmentCard;

/// The three leading entries, as read.
#[derive(Debug)]
pub struct Prefix {
    /// Every byte read so far, from offset 0.
    pub bytes: Vec<u8>,
    entries: Vec<(Entry, std::ops::Range<usize>)>,
}

impl Prefix {
    /// Reads the leading entries from `r`, each at most its limit (§10). A
    /// stream that does not begin with a `HANDOVER` local header is refused
    /// after its first 38 bytes.
    pub async fn read<R: AsyncRead + Unpin>(r: &mut R) -> Result<Prefix, BundleError> {
        let mut prefix = Prefix {
            bytes: Vec::new(),
            entries: Vec::new(),
        };
        let limits = [
            (MARKER_ENTRY, MAX_MARKER_BYTES as u64),
            (ENVELOPE_ENTRY, MAX_ENVELOPE_BYTES),
            (SIGNATURE_ENTRY, crypto_sig_limit()),
        ];
        for (i, (name, limit)) in limits.into_iter().enumerate() {
            let at = prefix.bytes.len();
            prefix.take(r, LOCAL_HEADER_LEN + name.len()).await?;
            let head = &prefix.bytes[at..];
            let u16_at = |o: usize| u16::from_le_bytes([head[o], head[o + 1]]);
            let u32_at =
                |o: usize| u32::from_le_bytes([head[o], head[o + 1], head[o + 2], head[o + 3]]);
            let named = u32_at(0) == 0x0403_4b50
                && usize::from(u16_at(26)) == name.len()
                && &head[LOCAL_HEADER_LEN..] == name.as_bytes();
            if !named {
                return Err(match i {
                    0 => BundleError::NotABundle,
                    _ => BundleError::Layout(format!("entry {} is not {name}", i + 1)),
                });
            }
            let entry = Entry {
                name: name.to_string(),
                size: u64::from(u32_at(22)),
                crc32: u32_at(14),
            };
            if entry.size > limit {
                return Err(match i {
                    0 => BundleError::Marker,
                    _ => BundleError::TooLarge(format!(
                        "{name} is {} bytes (limit {limit})",
                        entry.size
                    )),
                });
            }
            if head != local_header(&entry).as_slice() {
                return Err(match i {
                    0 => BundleError::Marker,
                    _ => BundleError::NonCanonical(format!("local header of {name}")),
                });
            }
            let start = prefix.bytes.len();
            prefix.take(r, entry.size as usize).await?;
            let data = start..prefix.bytes.len();
            if i == 0 {
                check_marker(&prefix.bytes[data.clone()])?;
            }
            if crc32fast::hash(&prefix.bytes[data.clone()]) != entry.crc32 {
                return Err(BundleError::Digest(name.to_string()));
            }
            prefix.entries.push((entry, data));
        }
        Ok(prefix)
    }

    /// Appends exactly `n` more bytes of `r`; a stream that ends first is truncated.
    async fn take<R: AsyncRead + Unpin>(&mut self, r: &mut R, n: usize) -> Result<(), BundleError> {
        let at = self.bytes.len();
        self.bytes.resize(at + n, 0);
        r.read_exact(&mut self.bytes[at..]).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                BundleError::Truncated
            } else {
                BundleError::Io(e)
            }
        })?;
        Ok(())
    }

    /// Checks the envelope and its signature against the directory (§11,
    /// steps 4–6), and returns it with the exact size the whole bundle must
    /// have.
    pub fn check(
        &self,
        directory: impl Fn(&str) -> Option<DepartmentCard>,
    ) -> Result<(Envelope, u64), BundleError> {
        let data = |i: usize| &self.bytes[self.entries[i].1.clone()];
        let envelope = check_envelope(data(1), data(2), &directory)?;
        let size = canonical_size(
            self.entries
                .iter()
                .map(|(e, _)| (e.name.len(), e.size))
                .chain(envelope.entries.iter().map(|e| (e.path.len(), e.size))),
        );
        if size > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge(format!(
                "the envelope lists {size} bytes (limit {MAX_BUNDLE_BYTES})"
            )));
        }
        Ok((envelope, size))
    }
}
