//! The bundle's container: a zip in one canonical form. Every entry is
//! stored (no compression), with fixed version, time and attribute fields,
//! no extra fields, no comments, no data descriptors and no ZIP64; entries
//! are contiguous from offset 0 and the central directory lists them in the
//! same order. The reader rebuilds every header it expects and compares it
//! byte for byte, so any change to the structure is refused; entry contents
//! are covered by the digests of the signed envelope. Stock `unzip` reads it.
//!
//! One file per concern: [`header`] encodes the canonical headers,
//! [`writer`] writes entries in order (and reserved slots filled later),
//! [`positional`] writes documents side by side at their final offsets,
//! [`hashing`] counts, CRCs and hashes what passes, and [`reader`] is the
//! strict reader. Written by hand, not with the `zip` crate: the reader must
//! refuse any byte the canonical form does not have, and the writer must
//! put each document straight at its place from several threads; the tests
//! check that the `zip` crate reads what this reader accepts the same way.

mod hashing;
mod header;
mod positional;
mod reader;
mod writer;

use std::io;

use super::BundleError;
pub(super) use header::local_header;
pub use header::LOCAL_HEADER_LEN;
pub use reader::read_index;
pub use writer::{Slot, ZipWriter};

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
/// Unix host (3), specification 2.0.
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
/// 1.0: stored entries.
const VERSION_NEEDED: u16 = 10;
/// 00:00:00.
const DOS_TIME: u16 = 0;
/// 1980-01-01, the earliest date zip can say: times live in the envelope.
const DOS_DATE: u16 = (1 << 5) | 1;
/// A regular file, mode 0644.
const EXTERNAL_ATTR: u32 = 0o100_644 << 16;
const LOCAL_LEN: u64 = 30;
const CENTRAL_LEN: usize = 46;
const EOCD_LEN: u64 = 22;

/// Largest bundle: zip without ZIP64 addresses 4 GiB.
pub const MAX_BUNDLE_BYTES: u64 = 4_000_000_000;
/// Most entries in a bundle.
pub const MAX_ENTRIES: usize = 4 + super::MAX_DOCUMENTS;
/// Longest entry name.
pub const MAX_NAME: usize = 64;

/// One entry's name, size and CRC-32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    pub crc32: u32,
}

/// An entry found in a bundle, and where its data starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub entry: Entry,
    pub data_offset: u64,
}

/// The exact size of a canonical bundle of entries with these name
/// lengths and data sizes: local headers and data, the central directory
/// and the end record.
pub fn canonical_size(entries: impl IntoIterator<Item = (usize, u64)>) -> u64 {
    entries.into_iter().fold(EOCD_LEN, |total, (name, size)| {
        total
            .saturating_add(LOCAL_LEN + name as u64)
            .saturating_add(size)
            .saturating_add(CENTRAL_LEN as u64 + name as u64)
    })
}

/// Checks an entry name: relative, forward slashes, no `.`/`..`, plain characters.
pub fn check_name(name: &str) -> Result<(), BundleError> {
    let unsafe_path = |why: &str| BundleError::UnsafePath(format!("{name:?}: {why}"));
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(unsafe_path("empty or too long"));
    }
    if name.starts_with('/') {
        return Err(unsafe_path("absolute path"));
    }
    if name.contains('\\') {
        return Err(unsafe_path("backslash"));
    }
    if name
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(unsafe_path("empty, `.` or `..` component"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
    {
        return Err(unsafe_path(
            "characters other than a-z, 0-9, `.`, `_`, `-`, `/`",
        ));
    }
    Ok(())
}

fn too_large() -> io::Error {
    io::Error::other("the bundle would exceed 4,000,000,000 bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn entry(name: &str, data: &[u8]) -> Entry {
        Entry {
            name: name.into(),
            size: data.len() as u64,
            crc32: crc32fast::hash(data),
        }
    }

    fn build(items: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = ZipWriter::new(Vec::new());
        for (name, data) in items {
            w.add(entry(name, data), &mut &data[..]).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn round_trip_and_every_flip_outside_data_is_refused() {
        let items: [(&str, &[u8]); 2] = [("HANDOVER", b"x\n"), ("documents/0001.age", b"abc")];
        let zip = build(&items);
        let index = read_index(&mut Cursor::new(&zip)).unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(index[1].entry.name, "documents/0001.age");
        let data = index[1].data_offset as usize;
        assert_eq!(&zip[data..data + 3], b"abc");
        let data_ranges: Vec<_> = index
            .iter()
            .map(|l| l.data_offset as usize..(l.data_offset + l.entry.size) as usize)
            .collect();
        for at in 0..zip.len() {
            if data_ranges.iter().any(|r| r.contains(&at)) {
                continue; // contents are the envelope's job
            }
            let mut bad = zip.clone();
            bad[at] ^= 0x01;
            assert!(
                read_index(&mut Cursor::new(&bad)).is_err(),
                "flip at {at} accepted"
            );
        }
        for cut in 0..zip.len() {
            assert!(
                read_index(&mut Cursor::new(&zip[..cut])).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn reserved_and_streamed_entries_equal_plain_ones() {
        let items: [(&str, &[u8]); 3] = [
            ("HANDOVER", b"x\n"),
            ("a", b"reserved"),
            ("b", b"streamed data"),
        ];
        let plain = build(&items);
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        w.add(entry("HANDOVER", b"x\n"), &mut &b"x\n"[..]).unwrap();
        let slot = w.reserve("a", 8).unwrap();
        let (size, _) = w
            .stream("b", |out| out.write_all(b"streamed data"))
            .unwrap();
        assert_eq!(size, 13);
        assert!(w.fill(slot, b"too long!").is_err());
        w.fill(slot, b"reserved").unwrap();
        assert_eq!(w.finish().unwrap().into_inner(), plain);
    }

    /// A file-backed writer with the marker entry already in, as a bundle starts.
    fn file_writer() -> (
        tempfile::NamedTempFile,
        ZipWriter<io::BufWriter<std::fs::File>>,
    ) {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let mut w = ZipWriter::new(io::BufWriter::new(tmp.reopen().unwrap()));
        w.add(entry("HANDOVER", b"x\n"), &mut &b"x\n"[..]).unwrap();
        (tmp, w)
    }

    fn contents(i: usize) -> Vec<u8> {
        // Sizes around the writers' buffer, so some entries span several flushes.
        (0..(i * 700_003) % 2_500_000)
            .map(|b| (b * 31 + i) as u8)
            .collect()
    }

    #[test]
    fn entries_written_side_by_side_equal_entries_written_in_turn() {
        let names: Vec<String> = (0..7).map(|i| format!("documents/{i:04}.age")).collect();
        let mut items: Vec<(&str, Vec<u8>)> = vec![("HANDOVER", b"x\n".to_vec())];
        items.extend(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.as_str(), contents(i))),
        );
        let borrowed: Vec<(&str, &[u8])> = items.iter().map(|(n, d)| (*n, &d[..])).collect();
        let expected = build(&borrowed);

        let (tmp, mut w) = file_writer();
        let measured = w
            .stream_side_by_side(&names, 3, |i, out, sized| -> io::Result<()> {
                let data = contents(i);
                out.write_all(&data[..data.len().min(10)])?;
                sized(data.len() as u64)?;
                out.write_all(&data[data.len().min(10)..])
            })
            .unwrap();
        w.finish().unwrap();
        assert_eq!(std::fs::read(tmp.path()).unwrap(), expected);
        for (i, (size, sha)) in measured.iter().enumerate() {
            use sha2::Digest;
            assert_eq!(*size, contents(i).len() as u64);
            assert_eq!(*sha, hex::encode(sha2::Sha256::digest(contents(i))));
        }
    }

    #[test]
    fn side_by_side_failures_report_the_lowest_and_never_hang() {
        let names: Vec<String> = (0..6).map(|i| format!("e{i}")).collect();
        // Entry 2 fails before telling its length: the ones after it must
        // not wait for ever, and its error is the one returned.
        let (_tmp, mut w) = file_writer();
        let err = w
            .stream_side_by_side(&names, 2, |i, out, sized| -> io::Result<()> {
                if i >= 2 {
                    return Err(io::Error::other(format!("job {i} failed")));
                }
                sized(3)?;
                out.write_all(b"abc")
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "job 2 failed");

        // An entry longer than it announced is refused (that it cannot
        // spill into the next is `positioned_writes_stop_at_the_end`).
        let (_tmp, mut w) = file_writer();
        let err = w
            .stream_side_by_side(&names, 2, |i, out, sized| -> io::Result<()> {
                sized(3)?;
                out.write_all(if i == 1 { b"abcd" } else { b"abc" })
            })
            .unwrap_err();
        assert!(err.to_string().contains("e1 came to 4 bytes"), "{err}");

        // One that never tells its length is refused too.
        let (_tmp, mut w) = file_writer();
        let err = w
            .stream_side_by_side(&names[..1], 2, |_, out, _| out.write_all(b"abc"))
            .unwrap_err();
        assert!(
            err.to_string().contains("not the length it announced"),
            "{err}"
        );
    }

    /// Differential: whatever this reader accepts, the `zip` crate reads
    /// with the same names, data offsets, sizes and CRCs (and contents).
    fn same_as_the_zip_crate(bytes: &[u8]) {
        let ours = read_index(&mut Cursor::new(bytes)).expect("our reader accepts it");
        let mut theirs = zip::ZipArchive::new(Cursor::new(bytes)).expect("the zip crate reads it");
        assert_eq!(theirs.len(), ours.len());
        for (i, l) in ours.iter().enumerate() {
            let mut f = theirs.by_index(i).unwrap();
            assert_eq!(f.name(), l.entry.name);
            assert_eq!(f.size(), l.entry.size);
            assert_eq!(f.compressed_size(), l.entry.size, "stored");
            assert_eq!(f.crc32(), l.entry.crc32);
            assert_eq!(f.data_start(), l.data_offset);
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut data).unwrap();
            let at = l.data_offset as usize;
            assert_eq!(&data[..], &bytes[at..at + data.len()]);
        }
    }

    proptest::proptest! {
        #[test]
        fn the_zip_crate_reads_what_this_reader_accepts(
            entries in proptest::collection::vec(
                ("[a-z]{1,8}(/[a-z0-9]{1,8}){0,2}", proptest::collection::vec(proptest::num::u8::ANY, 0..2048)),
                1..12,
            )
        ) {
            let mut seen = std::collections::BTreeSet::new();
            let items: Vec<(String, Vec<u8>)> = entries
                .into_iter()
                .filter(|(n, _)| seen.insert(n.clone()))
                .collect();
            let refs: Vec<(&str, &[u8])> = items.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
            same_as_the_zip_crate(&build(&refs));
        }
    }

    #[test]
    fn the_zip_crate_reads_a_real_bundle_as_this_reader_does() {
        for name in ["v1.bundle", "v1-padded.bundle"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/bundles")
                .join(name);
            same_as_the_zip_crate(&std::fs::read(&path).unwrap());
        }
    }

    #[test]
    fn names_are_checked() {
        for bad in ["../x", "/abs", "a\\b", "a//b", "./a", "a/../b", "ä", ""] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        check_name("documents/0001.age").unwrap();
    }
}
