//! Helpers for the integration tests: a throw-away node driven through the
//! real `handover` binary, and synthetic documents. No real child data.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

pub mod browser;
pub mod bundles;
pub mod garage;
pub mod server;
pub mod tus;
pub mod web;

pub const DEPT: &str = "test-dcpu";

/// Where a test node keeps its document blobs.
#[derive(Clone)]
pub enum Store {
    /// `blobs/` in the data directory (the default).
    Disk,
    /// A fresh bucket of this test binary's single-node Garage.
    S3(garage::Bucket),
}

impl Store {
    pub fn garage() -> Store {
        Store::S3(garage::single().new_bucket())
    }

    /// A store of the same kind for another node: on S3, a new bucket.
    pub fn fresh(&self) -> Store {
        match self {
            Store::Disk => Store::Disk,
            Store::S3(_) => Store::garage(),
        }
    }
}

/// Runs the test `fn NAME(store: Store)` once on the local disk and once on
/// Garage, as the tests `NAME::on_disk` and `NAME::on_garage`.
#[macro_export]
macro_rules! on_each_store {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn on_disk() {
                super::$name($crate::common::Store::Disk)
            }
            #[test]
            fn on_garage() {
                super::$name($crate::common::Store::garage())
            }
        }
    )+};
}

/// A node in a temporary directory.
pub struct Node {
    pub tmp: TempDir,
    pub data: PathBuf,
    pub store: Store,
}

impl Node {
    /// A fresh node (no passphrase) on the local disk.
    pub fn init() -> Node {
        Node::init_on(Store::Disk)
    }

    /// A fresh node (no passphrase) keeping its blobs in `store`.
    pub fn init_on(store: Store) -> Node {
        let node = Node::uninitialised_on(store);
        node.cmd()
            .args(["init", "--department", DEPT, "--name", "Test DCPU"])
            .assert()
            .success();
        node
    }

    /// A temporary place for a node, not yet set up.
    pub fn uninitialised() -> Node {
        Node::uninitialised_on(Store::Disk)
    }

    pub fn uninitialised_on(store: Store) -> Node {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("node");
        Node { tmp, data, store }
    }

    /// `handover --data-dir DATA` with a clean environment, plus the
    /// settings of the node's blob store.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("handover").unwrap();
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        for (k, _) in std::env::vars() {
            if (k.starts_with("HANDOVER_") || k.starts_with("AWS_"))
                && !self.env().iter().any(|(set, _)| *set == k)
            {
                cmd.env_remove(k);
            }
        }
        cmd.current_dir(self.tmp.path());
        cmd.arg("--data-dir").arg(&self.data);
        cmd
    }

    /// Environment variables a process of this node needs (its blob store).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        match &self.store {
            Store::Disk => Vec::new(),
            Store::S3(bucket) => bucket.env(),
        }
    }

    /// Every stored object of the blob store: on disk each file under the
    /// blob directory (staging files included), on S3 each object plus one
    /// entry per unfinished multipart upload.
    pub fn stored(&self) -> Vec<String> {
        match &self.store {
            Store::Disk => files_under(&self.blob_dir())
                .into_iter()
                .map(|p| p.display().to_string())
                .collect(),
            Store::S3(bucket) => {
                let mut all = bucket.objects();
                for i in 0..bucket.unfinished_multipart_uploads() {
                    all.push(format!("(unfinished multipart upload {i})"));
                }
                all
            }
        }
    }

    /// What an interrupted upload left: staging files, or unfinished
    /// multipart uploads.
    pub fn leftovers(&self) -> usize {
        match &self.store {
            Store::Disk => self
                .blob_files()
                .iter()
                .filter(|p| p.to_string_lossy().contains('#'))
                .count(),
            Store::S3(bucket) => bucket.unfinished_multipart_uploads() as usize,
        }
    }

    /// The stored bytes of a document's blob.
    pub fn read_blob(&self, doc: &str) -> Vec<u8> {
        match &self.store {
            Store::Disk => std::fs::read(self.blob_dir().join(format!("{doc}.age"))).unwrap(),
            Store::S3(bucket) => bucket.read(&format!("documents/{doc}.age")),
        }
    }

    /// Replaces the stored bytes of a document's blob (to damage it).
    pub fn write_blob(&self, doc: &str, bytes: &[u8]) {
        match &self.store {
            Store::Disk => {
                std::fs::write(self.blob_dir().join(format!("{doc}.age")), bytes).unwrap()
            }
            Store::S3(bucket) => bucket.write(&format!("documents/{doc}.age"), bytes),
        }
    }

    /// Adds a child; returns its id.
    pub fn add_child(&self, name: &str) -> String {
        created_id(self.cmd().args(["child", "add", "--name", name]))
    }

    /// Puts a file; returns the document id.
    pub fn put(&self, child: &str, kind: &str, file: &Path) -> String {
        let mut cmd = self.cmd();
        cmd.args(["doc", "put", child, "--kind", kind]).arg(file);
        if kind == "other" {
            cmd.args(["--title", "a note"]);
        }
        created_id(&mut cmd)
    }

    /// A path inside the temporary directory (outside the data directory).
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Writes a file next to the node.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// The directory of document blobs.
    pub fn blob_dir(&self) -> PathBuf {
        self.data.join("blobs").join("documents")
    }

    /// Every file under the blob directory (blobs and staging files).
    pub fn blob_files(&self) -> Vec<PathBuf> {
        files_under(&self.blob_dir())
    }

    /// Adds a user NAME with ROLE and SCOPE (no password) and returns a
    /// new API token of theirs.
    pub fn token(&self, name: &str, role: &str, scope: &str) -> String {
        created_id(self.cmd().args([
            "user",
            "add",
            name,
            "--role",
            role,
            "--scope",
            scope,
            "--no-password",
        ]));
        stdout_line(&run_ok(self.cmd().args(["token", "create", name])).stdout)
    }

    /// Document ids of a child, via the CLI.
    pub fn doc_ids(&self, child: &str) -> Vec<String> {
        let out = run_ok(self.cmd().args(["doc", "list", child, "--json"]));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Metadata of one document, via the CLI.
    pub fn doc_meta(&self, child: &str, id: &str) -> serde_json::Value {
        let out = self
            .cmd()
            .args(["doc", "list", child, "--json"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .cloned()
            .expect("document listed")
    }
}

/// Runs a command and asserts it succeeded (showing its stderr if not).
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a creating command, asserts it succeeded, returns the id it printed.
pub fn created_id(cmd: &mut Command) -> String {
    stdout_line(&run_ok(cmd).stdout)
}

/// The one line a creating command prints.
pub fn stdout_line(out: &[u8]) -> String {
    let s = String::from_utf8(out.to_vec()).unwrap();
    let lines: Vec<_> = s.lines().collect();
    assert_eq!(lines.len(), 1, "expected only an id on stdout, got {s:?}");
    lines[0].to_string()
}

/// Every line of the audit log of the node in `data`, parsed.
pub fn audit_lines(data: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(data.join("audit.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// A synthetic PDF of about `len` bytes (valid header and trailer).
pub fn pdf(len: usize, marker: &str) -> Vec<u8> {
    let mut v = format!("%PDF-1.7\n% synthetic test document {marker}\n").into_bytes();
    let mut x: u32 = 0x1234_5678;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(b"\n%%EOF\n");
    v
}

/// Writes a large synthetic PDF of `len` bytes without holding it in memory;
/// returns its SHA-256.
pub fn write_big_pdf(path: &Path, len: u64) -> String {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut h = Sha256::new();
    let head = b"%PDF-1.7\n";
    let tail = b"\n%%EOF\n";
    f.write_all(head).unwrap();
    h.update(head);
    let block = pdf(1 << 20, "block");
    let mut left = len - (head.len() + tail.len()) as u64;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n]).unwrap();
        h.update(&block[..n]);
        left -= n as u64;
    }
    f.write_all(tail).unwrap();
    h.update(tail);
    f.flush().unwrap();
    hex::encode(h.finalize())
}

/// SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> String {
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).unwrap();
    hex::encode(h.finalize())
}

/// Files under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            let bytes = std::fs::read(p).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}

/// True if `tool` is on PATH.
pub fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Fails the test unless exiftool is installed (`.ci/run` installs it):
/// the metadata checks never pass by being skipped.
pub fn require_exiftool() {
    assert!(
        have("exiftool"),
        "exiftool is needed (libimage-exiftool-perl)"
    );
}

/// The synthetic scans under `fixtures/scans/`.
pub fn scans_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/scans")
}
