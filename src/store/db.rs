//! Opening the SQLCipher database: key first, then WAL, foreign keys and
//! migrations. One writing connection behind a mutex, and a few read-only
//! connections beside it: in WAL mode a reader never waits for a writer's
//! fsync, so a short read is not queued behind a commit. Statements are
//! short. A hand-written pool of a few `Mutex<Connection>` is all this
//! needs; a pool crate (r2d2) would add threads and a dependency for it.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use rusqlite::{Connection, OpenFlags};
use zeroize::Zeroizing;

use super::{migrations, StoreError};

/// How many read-only connections serve reads.
const READERS: usize = 4;

/// The metadata database.
pub struct Db {
    conn: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db")
    }
}

impl Db {
    /// Opens (or with `create`, creates) the database at `path` with a raw 32-byte key.
    pub fn open(path: &Path, key: &[u8; 32], create: bool) -> Result<Db, StoreError> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let mut conn = keyed(path, key, flags)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations::migrate(&mut conn)?;
        super::children::fill_name_keys(&mut conn)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let reader = keyed(path, key, flags)?;
            reader.pragma_update(None, "query_only", "ON")?;
            readers.push(Mutex::new(reader));
        }
        Ok(Db {
            conn: Mutex::new(conn),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// The writing connection, for the query modules of this layer:
    /// every statement that changes something, and reads that must see
    /// the same transaction.
    pub(super) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A read-only connection for one standalone read: a free one if any,
    /// else the next in turn. It sees every transaction committed before
    /// the read starts.
    pub(super) fn read(&self) -> MutexGuard<'_, Connection> {
        for reader in &self.readers {
            match reader.try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        self.readers[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads a node fact (department id, name…).
    pub fn node_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .read()
            .query_row("SELECT value FROM node WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a node fact.
    pub fn set_node_value(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO node(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }
}

/// Opens `path` with `flags` and the raw key, and checks that the key fits.
pub(super) fn keyed(
    path: &Path,
    key: &[u8; 32],
    flags: OpenFlags,
) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags)?;
    // SQLCipher would print its own errors to stderr; ours say enough.
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
    let pragma = Zeroizing::new(format!("PRAGMA key = \"x'{}'\";", hex::encode(key)));
    conn.execute_batch(&pragma)?;
    // The first read tells whether the key fits.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|_| StoreError::Unreadable)?;
    // Deleted rows are overwritten with zeros, not left in free pages:
    // an erased document's key must not survive in the file.
    conn.execute_batch("PRAGMA secure_delete = ON;")?;
    // Sorts and temporary tables stay in memory, never in temp files.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_key_is_unreadable_and_file_is_not_plain_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        let db = Db::open(&path, &[7u8; 32], true).unwrap();
        db.set_node_value("department", "marker-dept-xyz").unwrap();
        drop(db);
        assert!(matches!(
            Db::open(&path, &[8u8; 32], false),
            Err(StoreError::Unreadable)
        ));
        let raw = std::fs::read(&path).unwrap();
        assert!(!raw.starts_with(b"SQLite format 3"));
        assert!(!raw.windows(15).any(|w| w == b"marker-dept-xyz"));
        let db = Db::open(&path, &[7u8; 32], false).unwrap();
        assert_eq!(
            db.node_value("department").unwrap().as_deref(),
            Some("marker-dept-xyz")
        );
    }
}
