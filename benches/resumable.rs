//! Resumable uploads (tus) against a real `handover serve` on loopback:
//!
//! 1. 100 MB through a proxy that cuts the connection every 5 MB: bytes
//!    sent ÷ file size, and the time against one uninterrupted PATCH of
//!    the same file.
//! 2. The cost of staging: 1 GiB as one resumable PATCH against a plain
//!    upload (`POST /api/v1/children/{id}/documents`), each on a fresh
//!    server: time, and the server's peak RSS (`VmHWM`). The target is at
//!    most 1.3× the plain upload's time, with RSS ≤ 64 MiB.
//!
//! `cargo bench --profile dev --bench resumable [-- MB_CUT_FILE GIB_FILE]`
//! (sizes in MiB; defaults 100 and 1024). `HANDOVER_BIN` picks another
//! binary. Figures go in docs/PERFORMANCE.md.

#[allow(dead_code)]
mod common;
// The tests' tus client and cutting proxy (it allows its own dead code).
#[path = "../tests/common/tus.rs"]
mod tus;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::blocking::{Body, Client};

const MIB: u64 = 1024 * 1024;

struct Node {
    _dir: tempfile::TempDir,
    started: common::Started,
    token: String,
    child: String,
}

impl Node {
    fn start(bin: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        // `BENCH_SERVER_LOG=info` shows the server's log lines (timings).
        let log = std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into());
        let started = common::start(bin, &dir.path().join("node"), &[("HANDOVER_LOG", log)]);
        let base = format!("http://127.0.0.1:{}/api/v1", started.port);
        let c = client();
        let (token, child) = common::staff_and_child(&c, &base, &started.admin_password);
        Node {
            _dir: dir,
            started,
            token,
            child,
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.started.port)
    }

    /// The server's peak resident set so far, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        common::vm_mib(self.started.process.id(), "VmHWM:")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.started.process.kill();
        let _ = self.started.process.wait();
    }
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(3600))
        .build()
        .unwrap()
}

/// Writes a synthetic PDF of `len` bytes to `path`, streamed.
fn write_pdf(path: &Path, len: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(b"%PDF-1.7\n").unwrap();
    let block = tus::marked_pdf(MIB as usize, "BENCH");
    let mut left = len - 9 - 7;
    while left > 0 {
        let n = left.min(block.len() as u64 - 16) as usize;
        f.write_all(&block[9..9 + n]).unwrap();
        left -= n as u64;
    }
    f.write_all(b"\n%%EOF\n").unwrap();
    f.flush().unwrap();
}

/// One PATCH of the whole file to a new upload; returns the seconds.
fn resumable_once(node: &Node, path: &Path, len: u64) -> f64 {
    let t = tus::Tus::new(&node.base(), tus::Auth::Bearer(node.token.clone()));
    let location = t.create(&node.child, "fir", len);
    let started = Instant::now();
    let r = t
        .request(reqwest::Method::PATCH, &location)
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body(Body::sized(std::fs::File::open(path).unwrap(), len))
        .send()
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(r.status(), 204);
    assert!(r.headers().contains_key("handover-document"));
    secs
}

fn plain_once(node: &Node, path: &Path, len: u64) -> f64 {
    let started = Instant::now();
    let r = client()
        .post(format!(
            "{}/api/v1/children/{}/documents?kind=fir",
            node.base(),
            node.child
        ))
        .bearer_auth(&node.token)
        .body(Body::sized(std::fs::File::open(path).unwrap(), len))
        .send()
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
    secs
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let cut_file = args.first().copied().unwrap_or(100) * MIB;
    let big_file = args.get(1).copied().unwrap_or(1024) * MIB;
    let bin = std::env::var("HANDOVER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_handover").to_string());
    let work = tempfile::tempdir().unwrap();

    // 1. Through a link cut every 5 MB.
    let file = tus::marked_pdf(cut_file as usize, "BENCH-CUT");
    let path = work.path().join("cut.pdf");
    std::fs::write(&path, &file).unwrap();
    let node = Node::start(&bin);
    let direct = resumable_once(&node, &path, cut_file);
    let proxy = tus::CuttingProxy::start(node.started.port, 5 * MIB);
    let through = tus::Tus::new(
        &format!("http://127.0.0.1:{}", proxy.port),
        tus::Auth::Bearer(node.token.clone()),
    );
    let location = tus::Tus::new(&node.base(), tus::Auth::Bearer(node.token.clone())).create(
        &node.child,
        "fir",
        cut_file,
    );
    let started = Instant::now();
    let (_, patches) = through.finish(&location, &file, 1000);
    let cut_secs = started.elapsed().as_secs_f64();
    let sent = proxy.sent.load(Ordering::SeqCst);
    println!(
        "cut every 5 MiB, {} MiB: {} cuts, {patches} PATCHes, sent {:.4}× the file, \
         {cut_secs:.2} s against {direct:.2} s uninterrupted ({:.2}×)",
        cut_file / MIB,
        proxy.cuts.load(Ordering::SeqCst),
        sent as f64 / cut_file as f64,
        cut_secs / direct
    );
    drop(node);
    drop(file);

    // 2. The cost of staging.
    let big = work.path().join("big.pdf");
    write_pdf(&big, big_file);
    let plain_node = Node::start(&bin);
    let plain = plain_once(&plain_node, &big, big_file);
    let plain_rss = plain_node.peak_rss_mib();
    drop(plain_node);
    let tus_node = Node::start(&bin);
    let resumable = resumable_once(&tus_node, &big, big_file);
    let tus_rss = tus_node.peak_rss_mib();
    drop(tus_node);
    println!(
        "{} MiB: plain upload {plain:.2} s (server peak RSS {plain_rss:.1} MiB); \
         resumable in one PATCH {resumable:.2} s ({:.2}×, server peak RSS {tus_rss:.1} MiB)",
        big_file / MIB,
        resumable / plain
    );
}
