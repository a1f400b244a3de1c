//! The S3 blob store on a real single-node Garage on loopback, against the
//! local disk:
//!
//! 1. `doc put` and `doc get` of one large document (1 GiB by default):
//!    wall time and the command's peak RSS (`/usr/bin/time -f %M`).
//! 2. 50 concurrent 5 MB uploads through `handover serve`
//!    (`POST /api/v1/children/{id}/documents`): wall time for all of them,
//!    and the server's peak RSS (`VmHWM`).
//!
//! `cargo bench --profile dev --bench s3 [-- BIG_MIB]`. Needs `garage` (as
//! the tests do) and `/usr/bin/time`. `HANDOVER_BIN` picks another binary.
//! Figures go in docs/PERFORMANCE.md.

#[allow(dead_code)]
mod common;
#[allow(dead_code)]
#[path = "../tests/common/garage.rs"]
mod garage;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;

/// A synthetic PDF of `len` bytes (incompressible filler), streamed to `path`.
fn write_pdf(path: &Path, len: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(b"%PDF-1.7\n").unwrap();
    let mut left = len - 9 - 7;
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut block = vec![0u8; MIB as usize];
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    f.write_all(b"\n%%EOF\n").unwrap();
    f.flush().unwrap();
}

/// Runs `handover ARGS` under `/usr/bin/time`: seconds and peak RSS in MiB.
fn timed(bin: &str, data: &Path, env: &[(&'static str, String)], args: &[&str]) -> (f64, f64) {
    let mut cmd = Command::new(bin);
    cmd.arg("--data-dir").arg(data).args(args);
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let (_, secs, mib) = common::timed(cmd, &data.with_extension("rss"));
    (secs, mib)
}

fn id_of(bin: &str, data: &Path, env: &[(&'static str, String)], args: &[&str]) -> String {
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn put_get(bin: &str, label: &str, env: &[(&'static str, String)], file: &Path) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = dir.path().join("node");
    id_of(
        bin,
        &data,
        env,
        &["init", "--department", "bench-node", "--name", "Bench"],
    );
    let child = id_of(
        bin,
        &data,
        env,
        &["child", "add", "--name", "Bench Synthetic"],
    );
    let file = file.to_str().unwrap();
    let (put, put_rss) = timed(
        bin,
        &data,
        env,
        &["doc", "put", &child, "--kind", "fir", file],
    );
    let docs = id_of(bin, &data, env, &["doc", "list", &child, "--json"]);
    let docs: serde_json::Value = serde_json::from_str(&docs).unwrap();
    let doc = docs[0]["id"].as_str().unwrap().to_string();
    let out = dir.path().join("out.pdf");
    let (get, get_rss) = timed(
        bin,
        &data,
        env,
        &["doc", "get", &doc, "-o", out.to_str().unwrap()],
    );
    let mib = std::fs::metadata(file).unwrap().len() as f64 / MIB as f64;
    println!(
        "{label}: doc put {put:.2} s ({:.0} MiB/s, peak RSS {put_rss:.1} MiB); \
         doc get {get:.2} s ({:.0} MiB/s, peak RSS {get_rss:.1} MiB)",
        mib / put,
        mib / get
    );
}

fn concurrent_uploads(bin: &str, label: &str, env: &[(&'static str, String)]) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut started = common::start(bin, &dir.path().join("node"), env);
    let base = format!("http://127.0.0.1:{}/api/v1", started.port);
    let c = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let (token, child) = common::staff_and_child(&c, &base, &started.admin_password);
    let file = dir.path().join("5mb.pdf");
    write_pdf(&file, 5_000_000);
    let body = std::sync::Arc::new(std::fs::read(&file).unwrap());
    let start = Instant::now();
    let uploads: Vec<_> = (0..50)
        .map(|_| {
            let (c, url, token, body) = (
                c.clone(),
                format!("{base}/children/{child}/documents"),
                token.clone(),
                body.clone(),
            );
            std::thread::spawn(move || {
                c.post(url)
                    .bearer_auth(token)
                    .header("X-Handover-Kind", "medical_report")
                    .body(body.to_vec())
                    .send()
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for u in uploads {
        assert_eq!(u.join().unwrap(), 201);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label}: 50 concurrent 5 MB uploads in {secs:.2} s ({:.0} MB/s); server peak RSS {:.1} MiB",
        250.0 / secs,
        common::vm_mib(started.process.id(), "VmHWM:")
    );
    let _ = started.process.kill();
    let _ = started.process.wait();
}

fn main() {
    let bin = std::env::var("HANDOVER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_handover").to_string());
    let big_mib: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(1024);
    let bucket = garage::single().new_bucket();
    let s3_env = bucket.env();
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let big = tmp.path().join("big.pdf");
    write_pdf(&big, big_mib * MIB);
    put_get(&bin, "local disk", &[], &big);
    put_get(&bin, "Garage (single node, loopback)", &s3_env, &big);
    drop(tmp);
    concurrent_uploads(&bin, "local disk", &[]);
    let bucket = garage::single().new_bucket();
    concurrent_uploads(&bin, "Garage (single node, loopback)", &bucket.env());
}
