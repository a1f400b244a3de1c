//! Writing documents side by side: each entry straight to its final place
//! in the file, several threads at once, each starting where the one before
//! it ends as soon as that is known (a chain of start offsets).

use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

use super::hashing::measure;
use super::header::local_header;
use super::*;

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
        let placed = crate::bundle::parallel::run_on(threads, names.len(), |i| -> Result<_, E> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
