//! Writing a canonical bundle zip entry by entry, and reserving entries of
//! known size (envelope, signature) to fill in at the end.

use std::io::{self, Read, Seek, SeekFrom, Write};

use super::hashing::measure;
use super::header::{central_header, end_record, local_header};
use super::*;

/// Writes a canonical bundle zip.
pub struct ZipWriter<W: Write> {
    pub(super) out: W,
    pub(super) offset: u64,
    pub(super) written: Vec<(Entry, u64)>,
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
