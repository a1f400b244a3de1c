//! A consistent, encrypted copy of the metadata database for a backup.
//! SQLCipher's `sqlcipher_export` writes every table into an attached
//! database keyed like the original (the SQLite backup API cannot copy an
//! encrypted database into another encrypted file), inside one read
//! transaction, so the copy is a single point in time while the node goes
//! on writing. The copy then drops what was in flight at that point.

use std::path::Path;

use rusqlite::OpenFlags;
use zeroize::Zeroizing;

use super::db::keyed;
use super::{BlobKey, StoreError};

/// Copies the database at `from` into a new file `to` (which must not
/// exist), encrypted with the same `key`, as of one moment; then removes
/// from the copy what was in flight then: uploads not yet complete with
/// their segments, blobs pending (written but not yet a document), and
/// S3 migrations under way. Sessions, users, tokens, grants and every
/// record stay. Returns the blob keys of the copy's documents.
pub fn export_database(from: &Path, key: &[u8; 32], to: &Path) -> Result<Vec<BlobKey>, StoreError> {
    if to.exists() {
        return Err(StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists", to.display()),
        )));
    }
    if !from.is_file() {
        return Err(StoreError::Unreadable);
    }
    // CREATE: an attached database takes the main one's flags.
    let conn = keyed(
        from,
        key,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let target = to
        .to_str()
        .ok_or_else(|| StoreError::Io(std::io::Error::other("the backup path is not UTF-8")))?;
    let raw_key = Zeroizing::new(format!("x'{}'", hex::encode(key)));
    conn.execute(
        "ATTACH DATABASE ?1 AS backup KEY ?2",
        rusqlite::params![target, raw_key.as_str()],
    )?;
    // One transaction: every table is read from the same snapshot.
    conn.execute_batch("BEGIN")?;
    let exported = conn
        .query_row("SELECT count(*) FROM main.sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .and_then(|_| conn.query_row("SELECT sqlcipher_export('backup')", [], |_| Ok(())))
        .and_then(|()| conn.execute_batch("COMMIT"));
    if let Err(e) = exported {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e.into());
    }
    // The schema's version (which migrations ran) is not exported.
    let version: i64 = conn.query_row("PRAGMA main.user_version", [], |r| r.get(0))?;
    conn.execute_batch(&format!("PRAGMA backup.user_version = {version}"))?;
    conn.execute_batch("DETACH DATABASE backup")?;
    drop(conn);
    let copy = keyed(
        to,
        key,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    copy.execute_batch(
        "BEGIN;
         DELETE FROM upload_segments WHERE upload_id IN
             (SELECT id FROM uploads WHERE document_id IS NULL);
         DELETE FROM uploads WHERE document_id IS NULL;
         DELETE FROM pending_blobs;
         DELETE FROM migrated_blobs;
         COMMIT;",
    )?;
    copy.execute_batch("VACUUM")?;
    let mut keys = copy.prepare(&format!(
        "SELECT blob_key FROM documents WHERE {} ORDER BY blob_key",
        super::documents::NOT_ERASED
    ))?;
    let keys = keys
        .query_map([], |r| r.get::<_, String>(0))?
        .map(|k| Ok(BlobKey::from_stored(k?)))
        .collect();
    keys
}
