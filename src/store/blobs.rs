//! The blob store: one age file per document, behind `object_store`:
//! `file://` (the default, under the data directory) or `memory://` (tests).
//! No other URL is accepted yet. Writes are multipart; nothing holds a whole
//! blob in memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use tokio::io::AsyncRead;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::io::StreamReader;

use super::StoreError;
use crate::domain::DocumentId;

/// Part size of multipart uploads (S3 needs at least 5 MiB).
const PART_BYTES: usize = 6 * 1024 * 1024;
/// Parts in flight at once.
const PARTS_IN_FLIGHT: usize = 2;
/// Bytes fetched per read request (a local store's own stream would hand
/// out 8 KiB pieces, each a task switch).
const READ_BYTES: u64 = 4 * 1024 * 1024;
/// Fetched pieces waiting for the reader at most.
const READ_AHEAD: usize = 2;
/// Folder of document blobs inside the store.
const DOCUMENTS: &str = "documents";

/// Where one blob lives in the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

impl BlobKey {
    /// The key of a document's blob.
    pub fn for_document(id: DocumentId) -> BlobKey {
        BlobKey(format!("{DOCUMENTS}/{id}.age"))
    }
    /// A key as stored in the database.
    pub fn from_stored(s: String) -> BlobKey {
        BlobKey(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    fn path(&self) -> ObjectPath {
        ObjectPath::from(self.0.as_str())
    }
}

/// The configured blob store.
#[derive(Debug, Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// For a local store: its root directory, to find the staging files an
    /// interrupted multipart upload leaves (`NAME#N`), which `list` hides.
    local_root: Option<PathBuf>,
}

impl BlobStore {
    /// Opens the store named by `url`, or local files under `default_dir`.
    pub fn open(url: Option<&str>, default_dir: &Path) -> Result<BlobStore, StoreError> {
        let local = |dir: PathBuf| -> Result<BlobStore, StoreError> {
            std::fs::create_dir_all(&dir).map_err(|e| {
                StoreError::BlobUrl(format!("cannot create {}: {e}", dir.display()))
            })?;
            let dir = dir
                .canonicalize()
                .map_err(|e| StoreError::BlobUrl(format!("{}: {e}", dir.display())))?;
            Ok(BlobStore {
                store: Arc::new(LocalFileSystem::new_with_prefix(&dir)?),
                local_root: Some(dir),
            })
        };
        let Some(url) = url else {
            return local(default_dir.to_path_buf());
        };
        let parsed = url::Url::parse(url).map_err(|_| StoreError::BlobUrl(url.to_string()))?;
        match parsed.scheme() {
            "file" => local(
                parsed
                    .to_file_path()
                    .map_err(|_| StoreError::BlobUrl(url.to_string()))?,
            ),
            "memory" => Ok(BlobStore {
                store: Arc::new(InMemory::new()),
                local_root: None,
            }),
            other => Err(StoreError::BlobUrl(format!(
                "scheme {other:?} (supported: file://, memory://)"
            ))),
        }
    }

    /// A streaming multipart writer for `key`. The blob appears only when the
    /// writer is shut down; `abort` discards it.
    pub fn writer(&self, key: &BlobKey) -> BufWriter {
        BufWriter::with_capacity(self.store.clone(), key.path(), PART_BYTES)
            .with_max_concurrency(PARTS_IN_FLIGHT)
    }

    /// A streaming reader of `key`'s bytes. A task fetches [`READ_BYTES`]
    /// per request and keeps [`READ_AHEAD`] requests ahead of the reader, so
    /// fetching overlaps decryption; it stops when the reader is dropped.
    pub async fn reader(
        &self,
        key: &BlobKey,
    ) -> Result<impl AsyncRead + Send + Unpin + 'static, StoreError> {
        let path = key.path();
        let size = self.store.head(&path).await?.size;
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(READ_AHEAD);
        let store = self.store.clone();
        tokio::spawn(async move {
            let mut at = 0u64;
            while at < size {
                let end = (at + READ_BYTES).min(size);
                let got = store.get_range(&path, at..end).await;
                let failed = got.is_err();
                if tx.send(got.map_err(std::io::Error::other)).await.is_err() || failed {
                    return;
                }
                at = end;
            }
        });
        Ok(StreamReader::new(ReceiverStream::new(rx)))
    }

    /// A blocking reader of `key`'s bytes, for use off the async runtime: a
    /// local store's file itself (no hop through the runtime per read), any
    /// other store's [`BlobStore::reader`] bridged through `handle`.
    pub fn blocking_reader(
        &self,
        key: &BlobKey,
        handle: &tokio::runtime::Handle,
    ) -> Result<Box<dyn std::io::Read + Send>, StoreError> {
        if let Some(root) = &self.local_root {
            return match std::fs::File::open(root.join(key.as_str())) {
                Ok(file) => Ok(Box::new(file)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(StoreError::Blob(object_store::Error::NotFound {
                        path: key.as_str().to_string(),
                        source: Box::new(e),
                    }))
                }
                Err(e) => Err(StoreError::Io(e)),
            };
        }
        let reader = handle.block_on(self.reader(key))?;
        Ok(Box::new(tokio_util::io::SyncIoBridge::new_with_handle(
            reader,
            handle.clone(),
        )))
    }

    /// Makes a written blob durable before anything refers to it: a local
    /// store fsyncs the file and its directory (object_store's local backend
    /// does not); a remote store's completed upload already is.
    pub async fn sync(&self, key: &BlobKey) -> Result<(), StoreError> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let file = root.join(key.as_str());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&file)?.sync_all()?;
            if let Some(dir) = file.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r)
        .map_err(StoreError::Io)
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: &BlobKey) -> Result<bool, StoreError> {
        match self.store.head(&key.path()).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Every document blob in the store.
    pub async fn list(&self) -> Result<Vec<BlobKey>, StoreError> {
        let prefix = ObjectPath::from(DOCUMENTS);
        let metas: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        let mut keys: Vec<BlobKey> = metas
            .into_iter()
            .map(|m| BlobKey(m.location.to_string()))
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Deletes `key`, and any staging file an interrupted upload of it left.
    /// Deleting what is not there is not an error.
    pub async fn delete(&self, key: &BlobKey) -> Result<(), StoreError> {
        match self.store.delete(&key.path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        for staged in self.staged_files() {
            if staged.key == *key {
                remove_file_if_present(&staged.path)?;
            }
        }
        Ok(())
    }

    /// Staging files of unfinished multipart uploads (local store only).
    pub fn staged_files(&self) -> Vec<StagedFile> {
        let Some(root) = &self.local_root else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(root.join(DOCUMENTS)) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let (base, suffix) = name.rsplit_once('#')?;
                if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                Some(StagedFile {
                    key: BlobKey(format!("{DOCUMENTS}/{base}")),
                    path: e.path(),
                })
            })
            .collect()
    }

    /// Removes one staging file.
    pub fn remove_staged(&self, staged: &StagedFile) -> Result<(), StoreError> {
        remove_file_if_present(&staged.path)
    }
}

/// A staging file of an unfinished local multipart upload.
#[derive(Debug, Clone)]
pub struct StagedFile {
    /// The blob it was going to become.
    pub key: BlobKey,
    pub path: PathBuf,
}

fn remove_file_if_present(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Io(e)),
    }
}
