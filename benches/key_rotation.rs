//! The storage key rotation (`handover keys rotate --storage`) of a node
//! holding many documents, while `handover serve` runs (not a timed test):
//! documents per second, the command's wall time and peak RSS, and what
//! a document read through the server costs during and after it. Figures
//! go in docs/PERFORMANCE.md.
//!
//! `cargo bench --profile dev --bench key_rotation [-- DOCUMENTS DOC_KIB]`
//! (defaults 10000 and 16). Documents are uploaded through the API by four
//! clients. Synthetic documents only.

#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::process::Command;
use std::time::Instant;

use reqwest::blocking::Client;

fn client() -> Client {
    Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .unwrap()
}

fn pdf(len: usize, salt: usize) -> Vec<u8> {
    let mut v = format!("%PDF-1.4\n% synthetic bench document {salt}\n").into_bytes();
    while v.len() + 7 < len {
        v.push(b'a' + ((v.len() + salt) % 26) as u8);
    }
    v.extend_from_slice(b"\n%%EOF\n");
    v
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let documents: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let doc_kib: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(16);
    let bin = env!("CARGO_BIN_EXE_handover");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("node");
    let mut started = common::start(bin, &data, &[("HANDOVER_LOG", "warn".into())]);
    let base = format!("http://127.0.0.1:{}/api/v1", started.port);
    let c = client();
    let (token, child) = common::staff_and_child(&c, &base, &started.admin_password);

    let filled = Instant::now();
    let per_client = documents.div_ceil(4);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (base, token, child) = (&base, &token, &child);
            s.spawn(move || {
                let c = client();
                for i in t * per_client..((t + 1) * per_client).min(documents) {
                    let r = c
                        .post(format!("{base}/children/{child}/documents"))
                        .bearer_auth(token)
                        .header("X-Handover-Kind", "fir")
                        .body(pdf(doc_kib * 1024, i))
                        .send()
                        .unwrap();
                    assert_eq!(r.status(), 201);
                }
            });
        }
    });
    println!(
        "filled {documents} documents of {doc_kib} KiB in {:.1} s",
        filled.elapsed().as_secs_f64()
    );
    let docs: serde_json::Value = c
        .get(format!("{base}/children/{child}/documents"))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let some: Vec<String> = docs
        .as_array()
        .map(|a| {
            a.iter()
                .take(20)
                .map(|d| d["id"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    let read_all = |label: &str| {
        let t = Instant::now();
        for id in &some {
            let r = c
                .get(format!("{base}/documents/{id}/content"))
                .bearer_auth(&token)
                .send()
                .unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().unwrap();
        }
        println!(
            "{label}: {} documents read through the server, {:.1} ms each",
            some.len(),
            t.elapsed().as_secs_f64() * 1000.0 / some.len().max(1) as f64
        );
    };
    read_all("before");

    let rss = tmp.path().join("rss");
    let mut rotate = Command::new("/usr/bin/time");
    rotate
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss)
        .arg(bin)
        .arg("--data-dir")
        .arg(&data)
        .args(["keys", "rotate", "--storage", "--json"]);
    for (k, _) in std::env::vars() {
        if k.starts_with("HANDOVER_") {
            rotate.env_remove(k);
        }
    }
    let t = Instant::now();
    let out = rotate.output().unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["finished"], true);
    let rewrapped = report["rewrapped"].as_u64().unwrap();
    let peak_kib: f64 = std::fs::read_to_string(&rss)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    println!(
        "storage key rotation while serving: {rewrapped} headers rewrapped in {secs:.2} s = {:.0} documents/s; peak RSS {:.1} MiB",
        rewrapped as f64 / secs,
        peak_kib / 1024.0
    );
    read_all("after");
    let _ = started.process.kill();
    let _ = started.process.wait();
}
