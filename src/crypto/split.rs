//! Splitting an age file into its header and its payload as it is
//! written. The header (the intro line, one stanza per recipient with the
//! wrapped file key, and the `---` MAC line) is kept in memory; every
//! byte after it goes on to the inner writer. A document's header then
//! lives in the database and its payload in the blob store, so deleting
//! the header makes every copy of the payload unreadable (crypto-erasure).
//! `cat header payload | age -d` is the original file again.
//!
//! Written by hand: the `age` crate writes a file as one stream and has no
//! API to hand out the header apart; the split point is fixed by the age
//! format (the first line that begins with `---`, through its newline).

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

/// The most an age header for one recipient may take here.
const MAX_HEADER: usize = 16 * 1024;

/// The length of the age header at the start of `file` (through the
/// newline of its `---` line), if all of it is there.
pub fn header_len(file: &[u8]) -> Option<usize> {
    let mut start = 0;
    while let Some(nl) = file[start..]
        .iter()
        .take(MAX_HEADER)
        .position(|b| *b == b'\n')
    {
        if file[start..start + nl].starts_with(b"---") {
            return Some(start + nl + 1);
        }
        start += nl + 1;
        if start > MAX_HEADER {
            return None;
        }
    }
    None
}

/// Where a [`HeaderSplit`] leaves the header once it has seen all of it.
pub type HeaderSlot = Arc<Mutex<Option<Vec<u8>>>>;

/// Passes an age file's payload to `inner`, keeping its header apart.
pub struct HeaderSplit<W> {
    inner: W,
    header: Vec<u8>,
    done: bool,
    slot: HeaderSlot,
}

impl<W: Write> HeaderSplit<W> {
    /// A splitter writing the payload to `inner`; the header appears in
    /// the returned slot once it is complete.
    pub fn new(inner: W) -> (HeaderSplit<W>, HeaderSlot) {
        let slot = HeaderSlot::default();
        (
            HeaderSplit {
                inner,
                header: Vec::new(),
                done: false,
                slot: slot.clone(),
            },
            slot,
        )
    }

    /// The inner writer (to finish or abort it).
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// The end of the header in `self.header`, if it is all there: after
    /// the newline of the first line that begins with `---`.
    fn header_end(&self) -> Option<usize> {
        let mut start = 0;
        while let Some(nl) = self.header[start..].iter().position(|b| *b == b'\n') {
            let line = &self.header[start..start + nl];
            if line.starts_with(b"---") {
                return Some(start + nl + 1);
            }
            start += nl + 1;
        }
        None
    }
}

impl<W: Write> Write for HeaderSplit<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.done {
            return self.inner.write(buf);
        }
        let before = self.header.len();
        self.header.extend_from_slice(buf);
        let Some(end) = self.header_end() else {
            if self.header.len() > MAX_HEADER {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the age header is longer than expected",
                ));
            }
            return Ok(buf.len());
        };
        // The part of `buf` past the header is payload.
        let rest = self.header.split_off(end);
        self.done = true;
        *self.slot.lock().expect("no panic holds the lock") =
            Some(std::mem::take(&mut self.header));
        self.inner.write_all(&rest)?;
        debug_assert_eq!(before + buf.len(), end + rest.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The header a [`HeaderSplit`] saw, or an error if the file it was
/// given ended before its header did.
pub fn take_header(slot: &HeaderSlot) -> io::Result<Vec<u8>> {
    slot.lock()
        .expect("no panic holds the lock")
        .take()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "the age file has no complete header",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_payload_are_the_age_file_and_the_header_alone_opens_it() {
        let identity = age::x25519::Identity::generate();
        let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut whole = Vec::new();
        crate::crypto::seal(&identity.to_public(), &plain[..], &mut whole).unwrap();
        // Written in awkward pieces, split where age's header ends.
        let (mut split, slot) = HeaderSplit::new(Vec::new());
        for piece in whole.chunks(7) {
            split.write_all(piece).unwrap();
        }
        let payload = split.into_inner();
        let header = take_header(&slot).unwrap();
        assert!(header.starts_with(b"age-encryption.org/v1\n"));
        assert!(header.ends_with(b"\n"));
        let last = header[..header.len() - 1]
            .rsplit(|b| *b == b'\n')
            .next()
            .unwrap();
        assert!(last.starts_with(b"--- "));
        assert_eq!([header.clone(), payload.clone()].concat(), whole);
        // The payload without its header opens with no key at all.
        let mut out = Vec::new();
        assert!(crate::crypto::open(&identity, &payload[..], &mut out).is_err());
        let mut out = Vec::new();
        let joined = [header, payload].concat();
        crate::crypto::open(&identity, &joined[..], &mut out).unwrap();
        assert_eq!(out, plain);
    }

    #[test]
    fn a_file_cut_inside_its_header_has_no_header() {
        let (mut split, slot) = HeaderSplit::new(Vec::new());
        split
            .write_all(b"age-encryption.org/v1\n-> X25519 abc\n")
            .unwrap();
        assert!(take_header(&slot).is_err());
    }
}
