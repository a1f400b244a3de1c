//! Opening the SQLCipher database: key first, then WAL, foreign keys and
//! migrations. One connection behind a mutex; statements are short.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags};
use zeroize::Zeroizing;

use super::{migrations, StoreError};

/// The metadata database.
pub struct Db {
    conn: Mutex<Connection>,
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
        let mut conn = Connection::open_with_flags(path, flags)?;
        // SQLCipher would print its own errors to stderr; ours say enough.
        conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
        let pragma = Zeroizing::new(format!("PRAGMA key = \"x'{}'\";", hex::encode(key)));
        conn.execute_batch(&pragma)?;
        // The first read tells whether the key fits.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|_| StoreError::Unreadable)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Sorts and temporary tables stay in memory, never in temp files.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrations::migrate(&mut conn)?;
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    /// The connection, for the query modules of this layer.
    pub(super) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads a node fact (department id, name…).
    pub fn node_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn()
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
