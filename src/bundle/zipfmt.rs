//! The bundle's container: a zip in one canonical form. Every entry is
//! stored (no compression), with fixed version, time and attribute fields,
//! no extra fields, no comments, no data descriptors and no ZIP64; entries
//! are contiguous from offset 0 and the central directory lists them in the
//! same order. The reader rebuilds every header it expects and compares it
//! byte for byte, so any change to the structure is refused; entry contents
//! are covered by the digests of the signed envelope. Stock `unzip` reads it.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

use super::BundleError;

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

/// The canonical local file header of `e` (§3).
pub(super) fn local_header(e: &Entry) -> Vec<u8> {
    let mut h = Vec::with_capacity(LOCAL_LEN as usize + e.name.len());
    h.extend_from_slice(&LOCAL_SIG.to_le_bytes());
    h.extend_from_slice(&VERSION_NEEDED.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // flags
    h.extend_from_slice(&0u16.to_le_bytes()); // method: stored
    h.extend_from_slice(&DOS_TIME.to_le_bytes());
    h.extend_from_slice(&DOS_DATE.to_le_bytes());
    h.extend_from_slice(&e.crc32.to_le_bytes());
    h.extend_from_slice(&(e.size as u32).to_le_bytes()); // compressed
    h.extend_from_slice(&(e.size as u32).to_le_bytes()); // uncompressed
    h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // extra
    h.extend_from_slice(e.name.as_bytes());
    h
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

/// Length of a local file header before its name.
pub const LOCAL_HEADER_LEN: usize = LOCAL_LEN as usize;

fn central_header(e: &Entry, offset: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(CENTRAL_LEN + e.name.len());
    h.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
    h.extend_from_slice(&VERSION_MADE_BY.to_le_bytes());
    h.extend_from_slice(&VERSION_NEEDED.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // flags
    h.extend_from_slice(&0u16.to_le_bytes()); // method
    h.extend_from_slice(&DOS_TIME.to_le_bytes());
    h.extend_from_slice(&DOS_DATE.to_le_bytes());
    h.extend_from_slice(&e.crc32.to_le_bytes());
    h.extend_from_slice(&(e.size as u32).to_le_bytes());
    h.extend_from_slice(&(e.size as u32).to_le_bytes());
    h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // extra
    h.extend_from_slice(&0u16.to_le_bytes()); // comment
    h.extend_from_slice(&0u16.to_le_bytes()); // disk
    h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
    h.extend_from_slice(&EXTERNAL_ATTR.to_le_bytes());
    h.extend_from_slice(&(offset as u32).to_le_bytes());
    h.extend_from_slice(e.name.as_bytes());
    h
}

fn end_record(count: usize, cd_size: u64, cd_offset: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(EOCD_LEN as usize);
    h.extend_from_slice(&EOCD_SIG.to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // this disk
    h.extend_from_slice(&0u16.to_le_bytes()); // disk with the directory
    h.extend_from_slice(&(count as u16).to_le_bytes());
    h.extend_from_slice(&(count as u16).to_le_bytes());
    h.extend_from_slice(&(cd_size as u32).to_le_bytes());
    h.extend_from_slice(&(cd_offset as u32).to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // comment
    h
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

/// Writes a canonical bundle zip.
pub struct ZipWriter<W: Write> {
    out: W,
    offset: u64,
    written: Vec<(Entry, u64)>,
}

impl<W: Write> ZipWriter<W> {
    pub fn new(out: W) -> Self {
        ZipWriter {
            out,
            offset: 0,
            written: Vec::new(),
        }
    }

    /// Adds an entry whose data is exactly `entry.size` bytes of `data`.
    pub fn add(&mut self, entry: Entry, data: &mut dyn Read) -> io::Result<()> {
        let header = local_header(&entry);
        self.out.write_all(&header)?;
        let copied = io::copy(&mut data.take(entry.size), &mut self.out)?;
        if copied != entry.size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "entry {} ended after {copied} of {} bytes",
                    entry.name, entry.size
                ),
            ));
        }
        let start = self.offset;
        self.offset += header.len() as u64 + entry.size;
        if self.offset > MAX_BUNDLE_BYTES {
            return Err(too_large());
        }
        self.written.push((entry, start));
        Ok(())
    }

    /// Writes the central directory and end record; returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        let cd_offset = self.offset;
        let mut cd_size = 0u64;
        for (entry, offset) in &self.written {
            let h = central_header(entry, *offset);
            cd_size += h.len() as u64;
            self.out.write_all(&h)?;
        }
        self.out
            .write_all(&end_record(self.written.len(), cd_size, cd_offset))?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// An entry reserved at a known size, filled in later.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    index: usize,
    header_offset: u64,
    size: u64,
}

impl<W: Write + Seek + Send> ZipWriter<W> {
    /// Reserves an entry of exactly `size` bytes, to be filled by [`ZipWriter::fill`].
    pub fn reserve(&mut self, name: &str, size: u64) -> io::Result<Slot> {
        let entry = Entry {
            name: name.to_string(),
            size,
            crc32: 0,
        };
        let header = local_header(&entry);
        let header_offset = self.offset;
        let end = self.offset + header.len() as u64 + size;
        if end > MAX_BUNDLE_BYTES {
            return Err(too_large());
        }
        self.out.write_all(&header)?;
        self.offset = end;
        self.out.seek(SeekFrom::Start(self.offset))?;
        self.written.push((entry, header_offset));
        Ok(Slot {
            index: self.written.len() - 1,
            header_offset,
            size,
        })
    }

    /// Writes a reserved entry's data; it must be exactly the reserved size.
    pub fn fill(&mut self, slot: Slot, data: &[u8]) -> io::Result<()> {
        if data.len() as u64 != slot.size {
            return Err(io::Error::other(format!(
                "entry {} needs {} bytes, got {}",
                self.written[slot.index].0.name,
                slot.size,
                data.len()
            )));
        }
        let crc32 = crc32fast::hash(data);
        self.written[slot.index].0.crc32 = crc32;
        let entry = self.written[slot.index].0.clone();
        self.out.seek(SeekFrom::Start(slot.header_offset))?;
        self.out.write_all(&local_header(&entry))?;
        self.out.write_all(data)?;
        self.out.seek(SeekFrom::Start(self.offset))?;
        Ok(())
    }

    /// Adds an entry whose data `write` produces, of a size not known in
    /// advance; its size and CRC-32 are patched into the local header after.
    /// Returns the entry's size and the hex SHA-256 of its data.
    pub fn stream(
        &mut self,
        name: &str,
        write: impl FnOnce(&mut (dyn Write + Send)) -> io::Result<()>,
    ) -> io::Result<(u64, String)> {
        let mut entry = Entry {
            name: name.to_string(),
            size: 0,
            crc32: 0,
        };
        let header_offset = self.offset;
        let header = local_header(&entry);
        self.out.write_all(&header)?;
        let measured = measure(&mut self.out, write)?;
        entry.size = measured.size;
        entry.crc32 = measured.crc32;
        self.offset += header.len() as u64 + measured.size;
        if self.offset > MAX_BUNDLE_BYTES {
            return Err(too_large());
        }
        self.out.seek(SeekFrom::Start(header_offset))?;
        self.out.write_all(&local_header(&entry))?;
        self.out.seek(SeekFrom::Start(self.offset))?;
        self.written.push((entry, header_offset));
        Ok((measured.size, hex::encode(measured.sha256)))
    }
}

impl ZipWriter<io::BufWriter<std::fs::File>> {
    /// Adds the entries `names`, up to `threads` at a time, each written
    /// straight to its place in the file. `job(i, out, sized)` writes entry
    /// `i`'s data to `out` and tells `sized` its exact length as soon as it
    /// knows it; entry `i + 1` starts there, so it waits only for that, not
    /// for entry `i` to finish. Returns each entry's size and hex SHA-256; on
    /// failure, the error of the lowest failing job.
    pub fn stream_side_by_side<E>(
        &mut self,
        names: &[String],
        threads: usize,
        job: impl Fn(usize, &mut (dyn Write + Send), &dyn Fn(u64) -> io::Result<()>) -> Result<(), E>
            + Sync,
    ) -> Result<Vec<(u64, String)>, E>
    where
        E: From<io::Error> + Send,
    {
        self.out.flush()?;
        let file = self.out.get_ref();
        let chain = Chain::new(self.offset, names.len());
        let placed = super::parallel::run_on(threads, names.len(), |i| -> Result<_, E> {
            // Whatever happens below, the next entry is not left waiting.
            let _release = chain.release_on_drop(i + 1);
            let header_offset = chain
                .start_of(i)
                .ok_or_else(|| io::Error::other("an earlier entry failed"))?;
            let data_offset = header_offset + LOCAL_LEN + names[i].len() as u64;
            let end = AtomicU64::new(u64::MAX);
            let sized = |len: u64| -> io::Result<()> {
                let next = data_offset + len;
                if next > MAX_BUNDLE_BYTES {
                    return Err(too_large());
                }
                end.compare_exchange(u64::MAX, next, Ordering::AcqRel, Ordering::Acquire)
                    .map_err(|_| io::Error::other("an entry's length was told twice"))?;
                chain.set(i + 1, Start::At(next));
                Ok(())
            };
            let mut out = io::BufWriter::with_capacity(
                FILL_BUFFER,
                At {
                    file,
                    offset: data_offset,
                    end: &end,
                    overflow: false,
                },
            );
            let mut failure = None;
            let measured = measure(&mut out, |w| {
                job(i, w, &sized).map_err(|e| {
                    failure = Some(e);
                    io::Error::other("the entry's data could not be made")
                })
            });
            if let Some(e) = failure {
                return Err(e);
            }
            let measured = measured?;
            let overflow = out.into_inner().map_err(|e| e.into_error())?.overflow;
            let told = end.load(Ordering::Acquire);
            if told == u64::MAX || overflow || data_offset + measured.size != told {
                return Err(io::Error::other(format!(
                    "entry {} came to {} bytes, not the length it announced",
                    names[i], measured.size
                ))
                .into());
            }
            Ok((header_offset, measured))
        })?;
        let mut sizes = Vec::with_capacity(names.len());
        for (name, (header_offset, measured)) in names.iter().zip(placed) {
            let entry = Entry {
                name: name.clone(),
                size: measured.size,
                crc32: measured.crc32,
            };
            file.write_all_at(&local_header(&entry), header_offset)?;
            self.offset = header_offset + LOCAL_LEN + name.len() as u64 + measured.size;
            self.written.push((entry, header_offset));
            sizes.push((measured.size, hex::encode(measured.sha256)));
        }
        self.out.seek(SeekFrom::Start(self.offset))?;
        Ok(sizes)
    }
}

/// Where each entry of [`ZipWriter::stream_side_by_side`] starts, as the
/// entry before it finds out.
struct Chain {
    starts: Mutex<Vec<Start>>,
    moved: Condvar,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Start {
    Waiting,
    At(u64),
    /// The entry before failed: this one never starts.
    Abandoned,
}

impl Chain {
    fn new(first: u64, entries: usize) -> Chain {
        let mut starts = vec![Start::Waiting; entries + 1];
        starts[0] = Start::At(first);
        Chain {
            starts: Mutex::new(starts),
            moved: Condvar::new(),
        }
    }

    /// Waits until entry `i`'s start is known; `None` if it never will be.
    fn start_of(&self, i: usize) -> Option<u64> {
        let mut starts = self.starts.lock().expect("no panic holds the lock");
        loop {
            match starts[i] {
                Start::Waiting => {
                    starts = self.moved.wait(starts).expect("no panic holds the lock")
                }
                Start::At(at) => return Some(at),
                Start::Abandoned => return None,
            }
        }
    }

    fn set(&self, i: usize, start: Start) {
        let mut starts = self.starts.lock().expect("no panic holds the lock");
        if starts[i] == Start::Waiting {
            starts[i] = start;
            self.moved.notify_all();
        }
    }

    /// Abandons entry `i` when dropped, unless its start was set before.
    fn release_on_drop(&self, i: usize) -> impl Drop + '_ {
        struct Release<'a>(&'a Chain, usize);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.set(self.1, Start::Abandoned);
            }
        }
        Release(self, i)
    }
}

fn too_large() -> io::Error {
    io::Error::other("the bundle would exceed 4,000,000,000 bytes")
}

/// Buffer of each entry written by [`ZipWriter::stream_side_by_side`].
const FILL_BUFFER: usize = 1 << 20;

/// Writes at increasing positions of a shared file, never past `end`
/// (unbounded until set): bytes beyond it are dropped and `overflow` set,
/// so an entry that comes out too long cannot spill into the next.
struct At<'a> {
    file: &'a std::fs::File,
    offset: u64,
    end: &'a AtomicU64,
    overflow: bool,
}

impl Write for At<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let end = self.end.load(Ordering::Acquire);
        let room = end.saturating_sub(self.offset).min(buf.len() as u64) as usize;
        self.file.write_all_at(&buf[..room], self.offset)?;
        start_writeback(self.file, self.offset, room as u64);
        self.offset += room as u64;
        self.overflow |= room < buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Asks the kernel to start writing a just-written range to disk, so the
/// bundle's final fsync has little left to wait for. Only a hint: errors
/// are ignored (the fsync reports any that matter).
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: sync_file_range reads no memory; a bad range only fails.
        unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                offset as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

/// What passed through [`measure`].
struct Measured {
    size: u64,
    crc32: u32,
    sha256: [u8; 32],
}

/// Runs `write` into `out`, counting, CRC-ing and hashing what passes, on
/// the calling thread: the manifest is small, and documents are written side
/// by side on every core already.
fn measure<W: Write + Send>(
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

/// Reads and checks the structure of a canonical bundle zip: every header
/// must be exactly what the writer would have written.
pub fn read_index<R: Read + Seek>(file: &mut R) -> Result<Vec<Located>, BundleError> {
    let len = file.seek(SeekFrom::End(0))?;
    if len > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge(format!("the file is {len} bytes")));
    }
    if len < EOCD_LEN {
        return Err(BundleError::Truncated);
    }
    let mut end = [0u8; EOCD_LEN as usize];
    file.seek(SeekFrom::Start(len - EOCD_LEN))?;
    file.read_exact(&mut end)?;
    if u32_at(&end, 0) != EOCD_SIG {
        return Err(BundleError::Truncated);
    }
    let count = u16_at(&end, 10) as usize;
    let cd_size = u64::from(u32_at(&end, 12));
    let cd_offset = u64::from(u32_at(&end, 16));
    if count > MAX_ENTRIES {
        return Err(BundleError::TooLarge(format!("{count} entries")));
    }
    if cd_offset
        .checked_add(cd_size)
        .and_then(|x| x.checked_add(EOCD_LEN))
        != Some(len)
        || end != end_record(count, cd_size, cd_offset)[..]
    {
        return Err(BundleError::NonCanonical("end of central directory".into()));
    }
    if cd_size > (count * (CENTRAL_LEN + MAX_NAME)) as u64 {
        return Err(BundleError::NonCanonical("central directory size".into()));
    }
    let mut cd = vec![0u8; cd_size as usize];
    file.seek(SeekFrom::Start(cd_offset))?;
    file.read_exact(&mut cd)?;

    // First the specific refusals, over every record as it claims to be,
    // so a hostile zip made by a stock tool is named for what it is.
    let mut names = std::collections::HashSet::new();
    let mut at = 0usize;
    for i in 0..count {
        let rec = cd
            .get(at..at + CENTRAL_LEN)
            .filter(|r| u32_at(r, 0) == CENTRAL_SIG)
            .ok_or_else(|| BundleError::NonCanonical(format!("central directory entry {i}")))?;
        if u16_at(rec, 10) != 0 {
            return Err(BundleError::Compressed(i));
        }
        if (u32_at(rec, 38) >> 16) & 0o170_000 == 0o120_000 {
            return Err(BundleError::Symlink(i));
        }
        let name_len = u16_at(rec, 28) as usize;
        let rest = name_len + u16_at(rec, 30) as usize + u16_at(rec, 32) as usize;
        let name_bytes = cd
            .get(at + CENTRAL_LEN..at + CENTRAL_LEN + name_len)
            .ok_or_else(|| BundleError::NonCanonical(format!("central directory entry {i}")))?;
        let name = std::str::from_utf8(name_bytes)
            .map_err(|_| BundleError::UnsafePath(format!("entry {i}: not UTF-8")))?;
        check_name(name)?;
        if !names.insert(name.to_string()) {
            return Err(BundleError::Duplicate(name.to_string()));
        }
        at += CENTRAL_LEN + rest;
    }

    // Then every record must be exactly the canonical one.
    let mut located = Vec::with_capacity(count);
    let (mut at, mut offset) = (0usize, 0u64);
    for i in 0..count {
        let rec = &cd[at..at + CENTRAL_LEN];
        let name_len = u16_at(rec, 28) as usize;
        let name = String::from_utf8_lossy(&cd[at + CENTRAL_LEN..at + CENTRAL_LEN + name_len])
            .into_owned();
        let entry = Entry {
            size: u64::from(u32_at(rec, 24)),
            crc32: u32_at(rec, 16),
            name,
        };
        let expected = central_header(&entry, offset);
        if cd.get(at..at + expected.len()) != Some(&expected[..]) {
            return Err(BundleError::NonCanonical(format!(
                "central directory entry {i}"
            )));
        }
        at += expected.len();
        let data_offset = offset + LOCAL_LEN + entry.name.len() as u64;
        offset = data_offset + entry.size;
        located.push(Located { entry, data_offset });
    }
    if at != cd.len() || offset != cd_offset {
        return Err(BundleError::NonCanonical(
            "entries do not fill the file exactly".into(),
        ));
    }
    for l in &located {
        let expected = local_header(&l.entry);
        let mut got = vec![0u8; expected.len()];
        file.seek(SeekFrom::Start(l.data_offset - expected.len() as u64))?;
        file.read_exact(&mut got)?;
        if got != expected {
            return Err(BundleError::NonCanonical(format!(
                "local header of {}",
                l.entry.name
            )));
        }
    }
    Ok(located)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
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

    #[test]
    fn positioned_writes_stop_at_the_end() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let file = tmp.reopen().unwrap();
        file.write_all_at(b"..........", 0).unwrap();
        let end = AtomicU64::new(u64::MAX);
        let mut at = At {
            file: &file,
            offset: 2,
            end: &end,
            overflow: false,
        };
        at.write_all(b"ab").unwrap();
        assert!(!at.overflow, "no end set yet: nothing is too long");
        end.store(6, Ordering::Release);
        at.write_all(b"cdefgh").unwrap();
        assert!(at.overflow);
        assert_eq!(std::fs::read(tmp.path()).unwrap(), b"..abcd....");
    }

    #[test]
    fn names_are_checked() {
        for bad in ["../x", "/abs", "a\\b", "a//b", "./a", "a/../b", "ä", ""] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        check_name("documents/0001.age").unwrap();
    }
}
