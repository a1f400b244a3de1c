//! Reading the log by byte offset, for the index of the access history
//! that the vault keeps in its database: [`scan_from`] reads every complete
//! line from an offset on (to catch the index up, or rebuild it), and
//! [`lines_at`] reads the lines that start at given offsets (to show a
//! page of one child's history without reading the rest of the log).
//!
//! The log stays the one truth: a line read by offset must carry the
//! number the index expects, or the caller rebuilds the index.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::format::{line_hash, Body, Entry, Line};
use super::writer::MAX_LINE;
use super::AuditError;

/// What the index needs of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedLine {
    /// Where the line starts in the file.
    pub offset: u64,
    /// Where the next line starts (past this line's newline).
    pub end: u64,
    pub seq: u64,
    /// The line's own `prev` (the hash of the line before it).
    pub prev: String,
    /// The hash of this line, which the next line's `prev` must hold.
    pub hash: String,
    /// The child a decision names, if any.
    pub child: Option<String>,
}

fn read_error(log: &Path, e: std::io::Error) -> AuditError {
    AuditError::Read(format!("{}: {e}", log.display()))
}

fn malformed(offset: u64) -> AuditError {
    AuditError::Read(format!("no valid audit line at byte {offset}"))
}

/// Calls `each` for every complete line from byte `start` on, in order,
/// and returns the offset just past the last complete line (a last line
/// still being written is left for the next scan). Memory stays one line.
pub fn scan_from(
    log: &Path,
    start: u64,
    mut each: impl FnMut(ScannedLine) -> Result<(), AuditError>,
) -> Result<u64, AuditError> {
    let mut file = File::open(log).map_err(|e| read_error(log, e))?;
    file.seek(SeekFrom::Start(start))
        .map_err(|e| read_error(log, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut offset = start;
    let mut buf = Vec::with_capacity(1024);
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| read_error(log, e))?;
        if n == 0 || buf.last() != Some(&b'\n') {
            if n as u64 > MAX_LINE {
                return Err(malformed(offset));
            }
            return Ok(offset);
        }
        buf.pop();
        let line: Line = serde_json::from_slice(&buf).map_err(|_| malformed(offset))?;
        let child = match line.body {
            Body::Entry(Entry { child, .. }) => child,
            Body::Checkpoint(_) => None,
        };
        each(ScannedLine {
            offset,
            end: offset + n as u64,
            seq: line.seq,
            prev: line.prev,
            hash: line_hash(&buf),
            child,
        })?;
        offset += n as u64;
    }
}

/// The lines that start at `offsets`, in the same order, with their
/// decisions; `None` for an offset where no decision line starts.
pub fn lines_at(log: &Path, offsets: &[u64]) -> Result<Vec<Option<(Line, Entry)>>, AuditError> {
    let mut file = File::open(log).map_err(|e| read_error(log, e))?;
    let mut out = Vec::with_capacity(offsets.len());
    let mut buf = Vec::with_capacity(1024);
    for &offset in offsets {
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| read_error(log, e))?;
        buf.clear();
        BufReader::with_capacity(4096, (&mut file).take(MAX_LINE + 1))
            .read_until(b'\n', &mut buf)
            .map_err(|e| read_error(log, e))?;
        let found = buf
            .strip_suffix(b"\n")
            .and_then(|bytes| serde_json::from_slice::<Line>(bytes).ok())
            .and_then(|line| match &line.body {
                Body::Entry(e) => {
                    let e = e.clone();
                    Some((line, e))
                }
                Body::Checkpoint(_) => None,
            });
        out.push(found);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(seq: u64, prev: &str, child: Option<&str>) -> Vec<u8> {
        let l = Line {
            seq,
            prev: prev.into(),
            time: chrono::Utc::now(),
            body: Body::Entry(Entry {
                who: "local-operator".into(),
                role: "operator".into(),
                action: "read_record".into(),
                decision: super::super::Outcome::Allow,
                child: child.map(str::to_string),
                document: None,
                target: None,
                grant: None,
                purpose: None,
                policies: Vec::new(),
            }),
        };
        serde_json::to_vec(&l).unwrap()
    }

    #[test]
    fn scans_complete_lines_from_an_offset_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.log");
        let a = line(1, super::super::GENESIS, Some("c1"));
        let b = line(2, &line_hash(&a), None);
        let c = line(3, &line_hash(&b), Some("c2"));
        let mut f = File::create(&log).unwrap();
        for l in [&a, &b, &c] {
            f.write_all(l).unwrap();
            f.write_all(b"\n").unwrap();
        }
        f.write_all(b"{\"seq\":4,\"prev\"").unwrap(); // being written
        let mut seen = Vec::new();
        let end = scan_from(&log, 0, |s| {
            seen.push(s);
            Ok(())
        })
        .unwrap();
        assert_eq!(end, (a.len() + b.len() + c.len() + 3) as u64);
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[1].prev, seen[0].hash);
        assert_eq!(seen[2].child.as_deref(), Some("c2"));
        // From the middle, only what follows.
        let mut later = Vec::new();
        scan_from(&log, seen[2].offset, |s| {
            later.push(s.seq);
            Ok(())
        })
        .unwrap();
        assert_eq!(later, vec![3]);
        let got = lines_at(&log, &[seen[2].offset, seen[0].offset, 1]).unwrap();
        assert_eq!(got[0].as_ref().unwrap().0.seq, 3);
        assert_eq!(got[1].as_ref().unwrap().1.child.as_deref(), Some("c1"));
        assert!(got[2].is_none(), "an offset inside a line is no line");
    }
}
