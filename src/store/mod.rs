//! Storage: the metadata database (SQLite encrypted with SQLCipher) and the
//! blob store (`object_store`: local files, S3, or `memory://` for tests).
//! Stores bytes and rows; knows nothing of policy or of what the bytes mean.

mod audit_index;
mod blobs;
mod bundles;
mod case_state;
mod children;
mod columns;
mod db;
mod delivery;
mod departments;
mod documents;
mod erasure;
mod export;
mod grants;
mod keys;
mod migrations;
mod sessions;
mod transfers;
mod uploads;
mod users;

pub use audit_index::IndexMark;
pub use blobs::{BlobKey, BlobStore, BlobUpload, BlobWriter, S3Options, StagedFile};
pub use bundles::{ImportedBundle, RefusedBundle, SentAnswer, SentBundle, SentDocument};
pub use case_state::RetentionRow;
pub use children::ChildFilter;
pub use db::Db;
pub use documents::AgeHeader;
pub use erasure::Erasure;
pub use export::export_database;
pub use keys::{HeaderRow, RevokedKey};
pub use uploads::Segment;

/// Errors from the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file does not open with the node's key, or is damaged.
    #[error("the metadata database cannot be read with this node's key, or is damaged")]
    Unreadable,
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("blob store error: {0}")]
    Blob(#[from] object_store::Error),
    /// The local file system under a local blob store.
    #[error("blob file error: {0}")]
    Io(#[source] std::io::Error),
    #[error("blob store: {0}")]
    BlobUrl(String),
    #[error("stored row is malformed: {0}")]
    Malformed(String),
    #[error("database schema version {0} is newer than this program understands")]
    TooNew(i64),
    /// A header sealed to an identity that a storage rotation has since
    /// destroyed.
    #[error("the document was sealed to a storage key that has since been rotated away")]
    RetiredRecipient,
}
