//! Settings: embedded defaults, then `handover.toml` files, then `HANDOVER_*`
//! environment variables. Nothing needs configuring for a working node.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Default largest document accepted: 2 GiB.
pub const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Default largest JPEG/PNG/WebP scan whose metadata is stripped in memory: 128 MiB.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 128 * 1024 * 1024;

/// Where `serve` listens when nothing says otherwise.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// Where the data directory is when nothing says otherwise.
pub const DEFAULT_DATA_DIR: &str = "./handover-data";
/// Config file name looked for in the working directory and the data directory.
pub const CONFIG_FILE: &str = "handover.toml";

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        ConfigError(msg.into())
    }
}

/// All settings of a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// The node's data directory.
    pub data_dir: PathBuf,
    /// Blob store URL (`file:///abs/dir`, `s3://BUCKET`, `memory://`).
    /// Default: `blobs/` in the data directory.
    pub blob_store: Option<String>,
    /// The S3 server of an `s3://` store, e.g. `http://127.0.0.1:3900`
    /// (default: AWS, or `AWS_ENDPOINT`).
    pub s3_endpoint: Option<String>,
    /// The S3 region (default: `AWS_REGION`, else `us-east-1`; Garage's is `garage`).
    pub s3_region: Option<String>,
    /// Address objects as `ENDPOINT/BUCKET/KEY` (true, what Garage and
    /// MinIO expect) or `BUCKET.ENDPOINT/KEY` (false).
    pub s3_path_style: bool,
    /// A TOML file holding `access_key_id` and `secret_access_key`, readable
    /// by its owner only. Without it, `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` are used. Keys never go in this file itself.
    pub s3_credentials_file: Option<PathBuf>,
    /// Allow plain `http://` to an S3 endpoint off this machine (loopback
    /// is always allowed).
    pub s3_allow_http: bool,
    /// Largest document accepted, in bytes.
    pub max_document_bytes: u64,
    /// Largest JPEG/PNG/WebP scan accepted (its metadata is removed in memory), in bytes.
    pub max_image_bytes: u64,
    /// Directory holding the Cedar policies (`*.cedar`, `handover.cedarschema`)
    /// and `checklists.toml`; default: those built into the binary.
    pub policies_dir: Option<PathBuf>,
    /// A signed audit checkpoint is written after this many entries (and at shutdown).
    pub audit_checkpoint_every: u64,
    /// Where `serve` listens (`HANDOVER_BIND`, `--bind`).
    pub bind: String,
    /// The URL other nodes and people reach this node at; its inbox URL is
    /// this plus `/api/v1/inbox`. Default: `http://` or `https://` and `bind`.
    pub public_url: Option<String>,
    /// TLS certificate chain (PEM) for `serve`; with `tls_key`, serve HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for `serve`.
    pub tls_key: Option<PathBuf>,
    /// Log lines of `serve`: `text` or `json`.
    pub log_format: String,
    /// Longest a request may take, in seconds (uploads and downloads included).
    pub request_timeout_secs: u64,
    /// Requests served at once by the whole node; more wait.
    pub max_concurrent_requests: usize,
    /// Uploads (documents, pushed bundles) read at once; more wait before a
    /// byte of their body is read. Bounds the server's memory under load.
    pub max_concurrent_uploads: usize,
    /// Bundles pushed by other nodes that are read at once; more get 503
    /// (their node retries). Separate from `max_concurrent_uploads`.
    pub max_concurrent_inbox: usize,
    /// Bytes the inbox may hold (waiting bundles and those being received).
    pub inbox_max_staged_bytes: u64,
    /// Bytes the inbox may hold from one source department.
    pub inbox_max_staged_bytes_per_source: u64,
    /// A request whose headers, or whose body, send nothing for this many
    /// seconds is dropped.
    pub body_idle_secs: u64,
    /// After the first `body_idle_secs`, a request body must arrive at this
    /// average rate at least (bytes per second), or it is dropped.
    pub body_min_bytes_per_sec: u64,
    /// JSON request bodies larger than this are refused, in bytes.
    pub max_json_bytes: usize,
    /// First wait before a failed push to another node is retried, in seconds (then doubling).
    pub push_retry_first_secs: u64,
    /// Longest wait between push attempts, in seconds.
    pub push_retry_max_secs: u64,
    /// A push still failing after this many hours is given up (the transfer is marked failed).
    pub push_give_up_hours: u64,
    /// Failed logins of one user name from one client before each next
    /// try must wait (1 s, doubling, at most 15 minutes); four times as many
    /// per client, and per name from all clients. Counted over 15 minutes.
    pub login_attempts: u32,
    /// Behind a reverse proxy: the request header that holds the client's
    /// address (its last value is used, e.g. `X-Forwarded-For`). Only set
    /// this when the proxy overwrites the header: otherwise clients choose it.
    pub client_address_header: Option<String>,
    /// When set, `GET /metrics` answers only `Authorization: Bearer` this
    /// token (`HANDOVER_METRICS_TOKEN`).
    pub metrics_token: Option<String>,
    /// A web page session ends after this many seconds without a request
    /// (30 minutes: shelter phones are shared).
    pub session_idle_secs: u64,
    /// A web page session ends this many seconds after its login, whatever
    /// its use (8 hours).
    pub session_max_secs: u64,
    /// A resumable upload may go on for this many seconds after it was
    /// started (24 hours); then it and what it staged are removed.
    pub upload_expiry_secs: u64,
    /// Resumable uploads one user may have unfinished at once.
    pub uploads_max_open_per_user: u64,
    /// Bytes one user's unfinished resumable uploads may hold, each
    /// counted at its whole length (8 GiB).
    pub uploads_max_staged_bytes_per_user: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            blob_store: None,
            s3_endpoint: None,
            s3_region: None,
            s3_path_style: true,
            s3_credentials_file: None,
            s3_allow_http: false,
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
            policies_dir: None,
            audit_checkpoint_every: 1000,
            bind: DEFAULT_BIND.into(),
            public_url: None,
            tls_cert: None,
            tls_key: None,
            log_format: "text".into(),
            request_timeout_secs: 3600,
            max_concurrent_requests: 256,
            max_concurrent_uploads: 8,
            max_concurrent_inbox: 2,
            inbox_max_staged_bytes: 32 * 1024 * 1024 * 1024,
            inbox_max_staged_bytes_per_source: 8 * 1024 * 1024 * 1024,
            body_idle_secs: 20,
            body_min_bytes_per_sec: 1024,
            max_json_bytes: 1024 * 1024,
            push_retry_first_secs: 2,
            push_retry_max_secs: 600,
            push_give_up_hours: 72,
            login_attempts: 5,
            client_address_header: None,
            metrics_token: None,
            session_idle_secs: 30 * 60,
            session_max_secs: 8 * 3600,
            upload_expiry_secs: 24 * 3600,
            uploads_max_open_per_user: 20,
            uploads_max_staged_bytes_per_user: 8 * 1024 * 1024 * 1024,
        }
    }
}

impl Settings {
    /// Loads settings. `data_dir` given on the command line wins over
    /// `HANDOVER_DATA_DIR`, which wins over the default. `config` names an
    /// explicit file, which must exist.
    pub fn load(data_dir: Option<&Path>, config: Option<&Path>) -> Result<Settings, ConfigError> {
        let env_dir = std::env::var_os("HANDOVER_DATA_DIR").map(PathBuf::from);
        let dir = data_dir
            .map(Path::to_path_buf)
            .or(env_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));

        let mut fig = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(CONFIG_FILE))
            .merge(Toml::file(dir.join(CONFIG_FILE)));
        if let Some(file) = config {
            if !file.is_file() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            fig = fig.merge(Toml::file(file));
        }
        let fig = fig
            .merge(Env::prefixed("HANDOVER_").ignore(&[
                "passphrase",
                "data_dir",
                "config",
                "token",
            ]))
            .merge(Serialized::default("data_dir", &dir));
        let settings: Settings = fig.extract().map_err(|e| ConfigError(e.to_string()))?;
        if !["text", "json"].contains(&settings.log_format.as_str()) {
            return Err(ConfigError("log_format must be `text` or `json`".into()));
        }
        if settings.tls_cert.is_some() != settings.tls_key.is_some() {
            return Err(ConfigError(
                "tls_cert and tls_key go together: set both or neither".into(),
            ));
        }
        if settings.session_idle_secs == 0 || settings.session_max_secs == 0 {
            return Err(ConfigError(
                "session_idle_secs and session_max_secs must be above 0".into(),
            ));
        }
        if settings.max_document_bytes == 0 {
            return Err(ConfigError("max_document_bytes must be above 0".into()));
        }
        Ok(settings)
    }
}

#[cfg(test)]
// figment::Jail's closures return its large error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_file() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            let s = Settings::load(None, None).unwrap();
            assert_eq!(s.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
            assert_eq!(s.max_document_bytes, DEFAULT_MAX_DOCUMENT_BYTES);
            Ok(())
        });
    }

    #[test]
    fn file_then_env_then_flag() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(CONFIG_FILE, "max_document_bytes = 10\nmax_image_bytes = 7")?;
            jail.set_env("HANDOVER_MAX_DOCUMENT_BYTES", "20");
            jail.set_env("HANDOVER_DATA_DIR", "/from/env");
            let s = Settings::load(None, None).unwrap();
            assert_eq!(s.max_document_bytes, 20);
            assert_eq!(s.max_image_bytes, 7);
            assert_eq!(s.data_dir, PathBuf::from("/from/env"));
            let s = Settings::load(Some(Path::new("/from/flag")), None).unwrap();
            assert_eq!(s.data_dir, PathBuf::from("/from/flag"));
            Ok(())
        });
    }
}
