//! Load on a real `handover serve` over loopback (not a timed test):
//! 1. one 1 GiB document uploaded and downloaded (streamed both ways), with
//!    the server's peak RSS;
//! 2. 50 concurrent clients each uploading 5 MB documents, with errors,
//!    throughput and the server's peak RSS.
//!
//! `cargo bench --bench api_load [-- CLIENTS DOCS_PER_CLIENT BIG_MIB]`
//! (defaults 50 4 1024). Synthetic documents only.

use std::io::Write;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

// Only `start` is used here: this bench's clients are async.
#[allow(dead_code)]
#[path = "common/mod.rs"]
mod common;

struct Server {
    process: Child,
    base: String,
    admin_password: String,
}

impl Server {
    fn start(data: &Path) -> Server {
        let started = common::start(env!("CARGO_BIN_EXE_handover"), data, &[]);
        Server {
            process: started.process,
            base: format!("http://127.0.0.1:{}", started.port),
            admin_password: started.admin_password,
        }
    }

    /// Peak resident set size of the server process so far, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        common::vm_mib(self.process.id(), "VmHWM:")
    }

    fn stop(mut self) {
        unsafe {
            libc::kill(self.process.id() as i32, libc::SIGTERM);
        }
        let _ = self.process.wait();
    }
}

/// Logs in with a one-time password, setting `NAME-bench-passphrase`.
async fn login(c: &reqwest::Client, base: &str, name: &str, password: &str) -> String {
    let r: Value = c
        .post(format!("{base}/api/v1/session"))
        .json(&json!({"name": name, "password": password, "new_password": format!("{name}-bench-passphrase")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().unwrap().to_string()
}

/// Staff token and a child id on a fresh server.
async fn setup(c: &reqwest::Client, s: &Server) -> (String, String) {
    let admin = login(c, &s.base, "admin", &s.admin_password).await;
    let r = c
        .post(format!("{}/api/v1/users", s.base))
        .bearer_auth(&admin)
        .json(&json!({"name": "bench", "role": "shelter_staff", "scope": "institution:bench-home", "password": "bench-password-long"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let staff = login(c, &s.base, "bench", "bench-password-long").await;
    let r: Value = c
        .post(format!("{}/api/v1/children", s.base))
        .bearer_auth(&staff)
        .json(&json!({"name": "Synthetic Bench Child"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (staff, r["id"].as_str().unwrap().to_string())
}

fn synthetic_pdf(len: usize, seed: u32) -> Vec<u8> {
    let mut v = b"%PDF-1.7\n% synthetic bench document\n".to_vec();
    let mut x = seed | 1;
    while v.len() < len - 7 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len - 7);
    v.extend_from_slice(b"\n%%EOF\n");
    v
}

async fn big_document(mib: u64) {
    let tmp = tempfile::TempDir::new().unwrap();
    let server = Server::start(&tmp.path().join("node"));
    let c = reqwest::Client::new();
    let (staff, child) = setup(&c, &server).await;
    let file = tmp.path().join("big.pdf");
    let len = mib * 1024 * 1024;
    let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    let block = synthetic_pdf(1 << 20, 7);
    let mut h = Sha256::new();
    let (head, tail) = (b"%PDF-1.7\n", b"\n%%EOF\n");
    f.write_all(head).unwrap();
    h.update(head);
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
    drop(f);
    let digest = hex::encode(h.finalize());

    let started = Instant::now();
    let body = tokio::fs::File::open(&file).await.unwrap();
    let r = c
        .post(format!(
            "{}/api/v1/children/{child}/documents?kind=fir",
            server.base
        ))
        .bearer_auth(&staff)
        .header("content-length", len)
        .body(reqwest::Body::wrap_stream(
            tokio_util::io::ReaderStream::with_capacity(body, 256 * 1024),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "upload");
    let up = started.elapsed();
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["sha256"], digest.as_str());
    let rss_up = server.peak_rss_mib();

    let started = Instant::now();
    let r = c
        .get(format!(
            "{}/api/v1/documents/{}/content",
            server.base,
            doc["id"].as_str().unwrap()
        ))
        .bearer_auth(&staff)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream();
    let mut h = Sha256::new();
    let mut got = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        got += chunk.len() as u64;
        h.update(&chunk);
    }
    let down = started.elapsed();
    assert_eq!(got, len);
    assert_eq!(hex::encode(h.finalize()), digest, "downloaded bytes match");
    let rss = server.peak_rss_mib();
    println!(
        "{mib} MiB document: upload {:.2} s ({:.0} MiB/s), download {:.2} s ({:.0} MiB/s); server peak RSS {rss_up:.1} MiB after upload, {rss:.1} MiB after download",
        up.as_secs_f64(),
        mib as f64 / up.as_secs_f64(),
        down.as_secs_f64(),
        mib as f64 / down.as_secs_f64(),
    );
    server.stop();
}

async fn concurrent_uploads(clients: usize, per_client: usize) {
    let tmp = tempfile::TempDir::new().unwrap();
    let server = Server::start(&tmp.path().join("node"));
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let (staff, child) = setup(&c, &server).await;
    let size = 5 * 1000 * 1000;
    let rss_idle = server.peak_rss_mib();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..clients {
        let (c, base, staff, child) =
            (c.clone(), server.base.clone(), staff.clone(), child.clone());
        tasks.push(tokio::spawn(async move {
            let mut errors = 0;
            let mut latencies = Vec::new();
            for j in 0..per_client {
                let body = synthetic_pdf(size, (i * 1000 + j) as u32 + 1);
                let t = Instant::now();
                let r = c
                    .post(format!("{base}/api/v1/children/{child}/documents"))
                    .bearer_auth(&staff)
                    .header("X-Handover-Kind", "medical_report")
                    .body(body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => latencies.push(t.elapsed()),
                    _ => errors += 1,
                }
            }
            (errors, latencies)
        }));
    }
    let mut errors = 0;
    let mut latencies = Vec::new();
    for t in tasks {
        let (e, l) = t.await.unwrap();
        errors += e;
        latencies.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize].as_secs_f64();
    let n = clients * per_client;
    println!(
        "{clients} clients x {per_client} uploads of 5 MB: {n} requests, {errors} errors, {elapsed:.1} s, {:.1} uploads/s, {:.0} MB/s; latency p50 {:.2} s, p99 {:.2} s; server peak RSS {:.1} MiB (idle {rss_idle:.1} MiB)",
        n as f64 / elapsed,
        (n * size) as f64 / 1e6 / elapsed,
        pct(0.5),
        pct(0.99),
        server.peak_rss_mib(),
    );
    assert_eq!(errors, 0, "no upload may fail");
    server.stop();
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let clients = args.first().and_then(|a| a.parse().ok()).unwrap_or(50);
    let per_client = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(4);
    let big_mib = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1024);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        big_document(big_mib).await;
        concurrent_uploads(clients, per_client).await;
    });
}
