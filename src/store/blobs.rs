//! The blob store: one age file per document, behind `object_store`:
//! `file://` (the default, under the data directory), `s3://BUCKET` (any S3
//! server: AWS, Garage, MinIO) or `memory://` (tests). Writes are streamed
//! multipart uploads and reads are ranged; nothing holds a whole blob in
//! memory.
//!
//! On S3 the writer drives the multipart upload itself (object_store's
//! `MultipartStore`) rather than through `BufWriter`, because the vault must
//! learn the upload's id before the first part goes up: it journals the id
//! beside the pending blob, so that after a crash `check` can report the
//! incomplete multipart upload and `gc` can abort it. S3 offers no other way
//! to find it again short of listing every upload of the bucket.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as ObjectPath;
use object_store::{MultipartId, ObjectStore};
use serde::Deserialize;
use tokio::io::AsyncRead;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::io::StreamReader;
use tokio_util::io::SyncIoBridge;

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

/// How to reach an S3 store (the bucket is in the URL). Credentials come
/// from `credentials_file` or else the `AWS_ACCESS_KEY_ID` and
/// `AWS_SECRET_ACCESS_KEY` environment variables; they are never stored in
/// the database and never logged.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// `https://host:port`; default AWS (or `AWS_ENDPOINT`).
    pub endpoint: Option<String>,
    /// Default `AWS_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`.
    pub path_style: bool,
    /// A TOML file with `access_key_id` and `secret_access_key`, readable
    /// by its owner only.
    pub credentials_file: Option<PathBuf>,
    /// Allow `http://` to an endpoint that is not on loopback.
    pub allow_http: bool,
}

/// The credentials file of an S3 store.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct S3Credentials {
    access_key_id: String,
    secret_access_key: String,
}

/// The configured blob store.
#[derive(Debug, Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// For a local store: its root directory, to find the staging files an
    /// interrupted multipart upload leaves (`NAME#N`), which `list` hides.
    local_root: Option<PathBuf>,
    /// For an S3 store: the same store, driven part by part (see the module doc).
    s3: Option<Arc<AmazonS3>>,
    /// Where the blobs are: the local directory, or the S3 endpoint and bucket.
    place: String,
}

impl BlobStore {
    /// Opens the store named by `url`, or local files under `default_dir`.
    pub fn open(
        url: Option<&str>,
        default_dir: &Path,
        s3: &S3Options,
    ) -> Result<BlobStore, StoreError> {
        let local = |dir: PathBuf| -> Result<BlobStore, StoreError> {
            std::fs::create_dir_all(&dir).map_err(|e| {
                StoreError::BlobUrl(format!("cannot create {}: {e}", dir.display()))
            })?;
            let dir = dir
                .canonicalize()
                .map_err(|e| StoreError::BlobUrl(format!("{}: {e}", dir.display())))?;
            Ok(BlobStore {
                store: Arc::new(LocalFileSystem::new_with_prefix(&dir)?),
                place: format!("file://{}", dir.display()),
                local_root: Some(dir),
                s3: None,
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
                s3: None,
                place: format!("memory://{}", uuid::Uuid::now_v7()),
            }),
            "s3" => {
                let place = format!(
                    "{url} at {}",
                    s3.endpoint.as_deref().unwrap_or("the default endpoint")
                );
                let s3 = Arc::new(open_s3(&parsed, s3)?);
                Ok(BlobStore {
                    store: s3.clone(),
                    local_root: None,
                    s3: Some(s3),
                    place,
                })
            }
            other => Err(StoreError::BlobUrl(format!(
                "scheme {other:?} (supported: file://, s3://, memory://)"
            ))),
        }
    }

    /// Whether `other` is this same store.
    pub fn same_place(&self, other: &BlobStore) -> bool {
        self.place == other.place
    }

    /// Whether this store is on the local disk (it then has staging files
    /// rather than multipart uploads, and needs `sync`).
    pub fn is_local(&self) -> bool {
        self.local_root.is_some()
    }

    /// Begins writing `key`. On S3 this creates the multipart upload, whose
    /// id ([`BlobUpload::multipart_id`]) the caller journals before writing.
    pub async fn start(&self, key: &BlobKey) -> Result<BlobUpload, StoreError> {
        let multipart = match &self.s3 {
            Some(s3) => Some(s3.create_multipart(&key.path()).await?),
            None => None,
        };
        Ok(BlobUpload {
            key: key.clone(),
            multipart,
        })
    }

    /// A blocking writer of a started blob, for use off the async runtime;
    /// its part uploads run on `handle`. The blob appears only when
    /// [`BlobWriter::finish`] returns; [`BlobWriter::abort`] discards it.
    pub fn writer(&self, upload: BlobUpload, handle: Handle) -> BlobWriter {
        match (&self.s3, upload.multipart) {
            (Some(s3), Some(id)) => BlobWriter::Parts(PartWriter {
                s3: s3.clone(),
                path: upload.key.path(),
                id,
                handle,
                buf: Vec::with_capacity(PART_BYTES),
                next_part: 0,
                in_flight: std::collections::VecDeque::new(),
                done: Vec::new(),
            }),
            _ => {
                let writer =
                    BufWriter::with_capacity(self.store.clone(), upload.key.path(), PART_BYTES)
                        .with_max_concurrency(PARTS_IN_FLIGHT);
                BlobWriter::Buffered(
                    SyncIoBridge::new_with_handle(writer, handle.clone()),
                    handle,
                )
            }
        }
    }

    /// Aborts an S3 multipart upload a crash left behind. One that is no
    /// longer there (completed or aborted already) is not an error.
    pub async fn abort_multipart(&self, key: &BlobKey, id: &str) -> Result<(), StoreError> {
        let Some(s3) = &self.s3 else {
            return Ok(());
        };
        match s3.abort_multipart(&key.path(), &id.to_string()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Copies `key` from this store into `to`, streaming; the copy appears
    /// there whole or not at all.
    pub async fn copy_to(&self, to: &BlobStore, key: &BlobKey) -> Result<(), StoreError> {
        use tokio::io::AsyncReadExt;
        let mut reader = self.reader(key).await?;
        let upload = to.start(key).await?;
        let mut writer = to.writer(upload, Handle::current());
        // `None` marks the end; a channel closed without it aborts the copy.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Option<Bytes>>(READ_AHEAD);
        let feed = tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            loop {
                match rx.blocking_recv() {
                    Some(Some(piece)) => {
                        if let Err(e) = std::io::Write::write_all(&mut writer, &piece) {
                            writer.abort();
                            return Err(StoreError::Io(e));
                        }
                    }
                    Some(None) => return writer.finish(),
                    None => {
                        writer.abort();
                        return Err(StoreError::Io(std::io::Error::other("copy interrupted")));
                    }
                }
            }
        });
        let mut piece = vec![0u8; 1 << 20];
        let read: std::io::Result<()> = async {
            loop {
                let n = reader.read(&mut piece).await?;
                let item = (n > 0).then(|| Bytes::copy_from_slice(&piece[..n]));
                if tx.send(item).await.is_err() || n == 0 {
                    return Ok(());
                }
            }
        }
        .await;
        drop(tx);
        let fed = feed
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        read.map_err(StoreError::Io)?;
        fed?;
        to.sync(key).await
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

    /// The first `n` bytes of `key` (fewer if it is shorter).
    pub async fn read_prefix(&self, key: &BlobKey, n: u64) -> Result<Vec<u8>, StoreError> {
        let path = key.path();
        let size = self.store.head(&path).await?.size;
        let got = self.store.get_range(&path, 0..n.min(size)).await?;
        Ok(got.to_vec())
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

    /// Every object under `prefix` (any key, not only documents), with its
    /// size, sorted by key.
    pub async fn list_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let prefix = ObjectPath::from(prefix);
        let metas: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        let mut all: Vec<(String, u64)> = metas
            .into_iter()
            .map(|m| (m.location.to_string(), m.size))
            .collect();
        all.sort();
        Ok(all)
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

/// A blob being written: its key and, on S3, its multipart upload's id.
#[derive(Debug)]
pub struct BlobUpload {
    key: BlobKey,
    multipart: Option<MultipartId>,
}

impl BlobUpload {
    /// The id to journal, so that a crash's leftover can be aborted.
    pub fn multipart_id(&self) -> Option<&str> {
        self.multipart.as_deref()
    }
}

/// A blocking writer of one blob (see [`BlobStore::writer`]).
pub enum BlobWriter {
    /// Local and memory stores: object_store's own buffered multipart writer.
    Buffered(SyncIoBridge<BufWriter>, Handle),
    /// S3: parts uploaded as they fill, [`PARTS_IN_FLIGHT`] at once.
    Parts(PartWriter),
}

impl BlobWriter {
    /// Uploads what is left and completes the blob.
    pub fn finish(self) -> Result<(), StoreError> {
        match self {
            BlobWriter::Buffered(mut w, handle) => match w.shutdown() {
                Ok(()) => Ok(()),
                Err(e) => {
                    let _ = handle.block_on(w.into_inner().abort());
                    Err(StoreError::Io(e))
                }
            },
            BlobWriter::Parts(w) => w.finish(),
        }
    }

    /// Discards the blob and whatever of it was uploaded.
    pub fn abort(self) {
        let result = match self {
            BlobWriter::Buffered(w, handle) => handle.block_on(w.into_inner().abort()),
            BlobWriter::Parts(w) => w.abort(),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "aborting a blob upload failed; gc removes it");
        }
    }
}

impl std::io::Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            BlobWriter::Buffered(w, _) => w.write(buf),
            BlobWriter::Parts(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            BlobWriter::Buffered(w, _) => w.flush(),
            // Parts go up when full; `finish` sends the last.
            BlobWriter::Parts(_) => Ok(()),
        }
    }
}

/// The S3 writer: fills a part, hands it to a task on the runtime, and
/// waits only when [`PARTS_IN_FLIGHT`] parts are already going up. Memory:
/// at most `PARTS_IN_FLIGHT + 1` parts.
pub struct PartWriter {
    s3: Arc<AmazonS3>,
    path: ObjectPath,
    id: MultipartId,
    handle: Handle,
    buf: Vec<u8>,
    next_part: usize,
    in_flight: std::collections::VecDeque<JoinHandle<object_store::Result<PartId>>>,
    done: Vec<PartId>,
}

impl PartWriter {
    fn send_part(&mut self) -> std::io::Result<()> {
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(PART_BYTES));
        let (s3, path, id, idx) = (
            self.s3.clone(),
            self.path.clone(),
            self.id.clone(),
            self.next_part,
        );
        self.next_part += 1;
        self.in_flight.push_back(
            self.handle
                .spawn(async move { s3.put_part(&path, &id, idx, data.into()).await }),
        );
        while self.in_flight.len() > PARTS_IN_FLIGHT {
            self.wait_oldest()?;
        }
        Ok(())
    }

    fn wait_oldest(&mut self) -> std::io::Result<()> {
        if let Some(part) = self.in_flight.pop_front() {
            let id = self
                .handle
                .block_on(part)
                .map_err(std::io::Error::other)?
                .map_err(std::io::Error::other)?;
            self.done.push(id);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), StoreError> {
        // An empty blob is one empty part.
        let waited = (|| {
            if !self.buf.is_empty() || self.next_part == 0 {
                self.send_part()?;
            }
            while !self.in_flight.is_empty() {
                self.wait_oldest()?;
            }
            Ok::<_, std::io::Error>(())
        })();
        if let Err(e) = waited {
            let _ = self.abort();
            return Err(StoreError::Io(e));
        }
        let parts = std::mem::take(&mut self.done);
        match self
            .handle
            .block_on(self.s3.complete_multipart(&self.path, &self.id, parts))
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let _ = self.abort();
                Err(e.into())
            }
        }
    }

    fn abort(self) -> object_store::Result<()> {
        for part in &self.in_flight {
            part.abort();
        }
        self.handle
            .block_on(self.s3.abort_multipart(&self.path, &self.id))
    }

    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = PART_BYTES - self.buf.len();
        let n = room.min(buf.len());
        self.buf.extend_from_slice(&buf[..n]);
        if self.buf.len() == PART_BYTES {
            self.send_part()?;
        }
        Ok(n)
    }
}

/// Builds the S3 client of `s3://BUCKET`.
fn open_s3(url: &url::Url, opts: &S3Options) -> Result<AmazonS3, StoreError> {
    let bad = |why: &str| StoreError::BlobUrl(format!("{url}: {why}"));
    let bucket = url
        .host_str()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| bad("no bucket"))?;
    if !matches!(url.path(), "" | "/") || url.query().is_some() || !url.username().is_empty() {
        return Err(bad(
            "give only the bucket: s3://BUCKET (credentials never go in the URL)",
        ));
    }
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_virtual_hosted_style_request(!opts.path_style);
    if let Some(region) = &opts.region {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = &opts.endpoint {
        let parsed = url::Url::parse(endpoint)
            .map_err(|_| StoreError::BlobUrl(format!("s3_endpoint {endpoint:?} is not a URL")))?;
        let loopback = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        };
        if parsed.scheme() == "http" && !loopback && !opts.allow_http {
            return Err(StoreError::BlobUrl(format!(
                "s3_endpoint {endpoint:?} is plain http off this machine; use https, or set s3_allow_http"
            )));
        }
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(parsed.scheme() == "http");
    }
    if let Some(file) = &opts.credentials_file {
        let creds = read_credentials(file)?;
        builder = builder
            .with_access_key_id(creds.access_key_id)
            .with_secret_access_key(creds.secret_access_key);
    }
    builder.build().map_err(|e| match e {
        object_store::Error::Generic { source, .. } => {
            StoreError::BlobUrl(format!("{url}: {source}"))
        }
        other => StoreError::Blob(other),
    })
}

fn read_credentials(file: &Path) -> Result<S3Credentials, StoreError> {
    use std::os::unix::fs::MetadataExt;
    let shown = file.display();
    let meta = std::fs::metadata(file)
        .map_err(|e| StoreError::BlobUrl(format!("s3_credentials_file {shown}: {e}")))?;
    if meta.mode() & 0o077 != 0 {
        return Err(StoreError::BlobUrl(format!(
            "s3_credentials_file {shown} can be read by others; chmod 600 it"
        )));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| StoreError::BlobUrl(format!("s3_credentials_file {shown}: {e}")))?;
    // The parser's message could quote a line of the file: say only where.
    toml::from_str(&text).map_err(|_| {
        StoreError::BlobUrl(format!(
            "s3_credentials_file {shown} must hold access_key_id and secret_access_key, and nothing else"
        ))
    })
}
