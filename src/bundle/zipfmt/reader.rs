//! The strict reader: rebuilds every header it expects and compares it
//! byte for byte.

use std::io::{Read, Seek, SeekFrom};

use super::header::{central_header, end_record, local_header, u16_at, u32_at};
use super::*;

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
