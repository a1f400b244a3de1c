//! The canonical headers of a bundle zip (§3): local file headers, central
//! directory headers and the end record, and reading little-endian fields.

use super::*;

/// Length of a local file header before its name.
pub const LOCAL_HEADER_LEN: usize = LOCAL_LEN as usize;

/// The canonical local file header of `e` (§3).
pub(in crate::bundle) fn local_header(e: &Entry) -> Vec<u8> {
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

pub(super) fn central_header(e: &Entry, offset: u64) -> Vec<u8> {
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

pub(super) fn end_record(count: usize, cd_size: u64, cd_offset: u64) -> Vec<u8> {
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

pub(super) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(super) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
